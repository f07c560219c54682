// Windows of a search's first page in creation-time order: where a walk of the created_at index had to pass many
// files that do not match before it filled the page (in a full bench run, the other scenarios' newest uploads), the
// same first page is read next time from the span of files up to where that page ended: newest first with keys, as
// one GIN scan of the keys and the span's days (file-search-keys.ts), else as a BitmapAnd of the GIN conditions'
// bitmaps and the span's created_at bitmap. Each file of the span that does not match then costs an index entry, not
// a heap read. The span is learned from the walk, so it is right the first time; a doubling
// series of spans from the top re-reads the GIN postings for every span and lost to the walk (see the README).
import type pg from 'pg';
import type { FileRow } from './files.js';
import { fileSearchWindowSql, hasIndexedMatch, walkedRowsSql, type FileSearchQuery } from './file-search-query.js';

/** Whether a query's first page may be read from a window: creation-time order, GIN conditions, no narrower index. */
export function windowEligible(query: FileSearchQuery): boolean {
  return (
    query.order.field === 'createdAt' &&
    query.after === undefined &&
    hasIndexedMatch(query) &&
    // These walk an index of their own (owner's, the type's) or a bounded span of created_at already.
    query.owner === undefined &&
    query.contentType === undefined &&
    query.createdFrom === undefined &&
    query.createdTo === undefined
  );
}

// A window is learned from one walk and priced again after a minute, as the estimates are made again; so is the
// finding that none pays. A window stays exact however old (a span that no longer holds a page is forgotten), so it is
// priced again from its own page, whose last row is where the walk would have ended: a count of index entries, no
// walk (the walk of q=restor behind 60,000 newest unmatched files took 16-25 ms once a minute). Unused for this long,
// it is forgotten, as the uploads since may have made its span long.
const WINDOW_TTL_MS = 60_000;
const WINDOW_KEPT_MS = 600_000;
const WINDOWS_KEPT = 1000;
// Walks are counted up to this many files (index entries only: 100,000 in about 7 ms).
const WALK_COUNT_CAP = 250_000;

interface Learned {
  /** The created_at of the page's last row; undefined: the walk was short, no window pays. */
  bound: Date | undefined;
  at: number;
}
const windows = new WeakMap<pg.Pool, Map<string, Learned>>();

function windowKey(query: FileSearchQuery): string {
  const { after: _after, ...rest } = query;
  return JSON.stringify(rest);
}

function remember(pool: pg.Pool, key: string, learned: Learned): void {
  let kept = windows.get(pool);
  if (!kept) windows.set(pool, (kept = new Map()));
  kept.delete(key);
  kept.set(key, learned);
  if (kept.size > WINDOWS_KEPT) kept.delete(kept.keys().next().value!);
}

function learned(pool: pg.Pool, query: FileSearchQuery, maxAgeMs = WINDOW_TTL_MS): Learned | undefined {
  const entry = windows.get(pool)?.get(windowKey(query));
  return entry && Date.now() - entry.at < maxAgeMs ? entry : undefined;
}

/** Counts the files a walk in creation-time order passes down to `page`'s last row and keeps the window if it pays. */
async function price(pool: pg.Pool, query: FileSearchQuery, page: FileRow[], windowPays: (walked: number) => boolean): Promise<void> {
  const last = page.at(-1)!;
  const sql = walkedRowsSql(query, last.createdAt, WALK_COUNT_CAP);
  const { rows } = await pool.query<{ n: number }>(sql.text, sql.values as unknown[]);
  const walked = rows[0]?.n ?? 0;
  remember(pool, windowKey(query), { bound: windowPays(walked) ? last.createdAt : undefined, at: Date.now() });
}

/**
 * The first page read from its learned window, or undefined (none learned, or the span no longer holds a full page:
 * files were deleted; the window is then forgotten and the caller walks). A window learned over a minute ago is
 * priced again from the page it read.
 */
export async function rowsFromWindow(pool: pg.Pool, query: FileSearchQuery, windowPays: (walked: number) => boolean): Promise<FileRow[] | undefined> {
  const entry = learned(pool, query, WINDOW_KEPT_MS);
  if (entry?.bound === undefined) return undefined;
  const sql = fileSearchWindowSql(query, entry.bound);
  const { rows } = await pool.query<FileRow>(sql.text, sql.values as unknown[]);
  if (rows.length >= query.rows) {
    if (Date.now() - entry.at >= WINDOW_TTL_MS) await price(pool, query, rows, windowPays);
    return rows;
  }
  windows.get(pool)?.delete(windowKey(query));
  return undefined;
}

/**
 * After a walk filled a first page: counts the files it passed (up to the page's last row) and keeps that row's
 * created_at as the window of the next same first page when `windowPays(walked)` says reading the span's bitmaps
 * costs less than walking them. Once a minute per query at most, whichever the outcome.
 */
export async function considerWindow(pool: pg.Pool, query: FileSearchQuery, page: FileRow[], windowPays: (walked: number) => boolean): Promise<void> {
  if (page.length === 0 || page.length < query.rows || learned(pool, query)) return;
  await price(pool, query, page, windowPays);
}

/** The window learned for a query: its bound, null when none pays, undefined when nothing is known (tests). */
export function learnedWindow(pool: pg.Pool, query: FileSearchQuery): Date | null | undefined {
  const entry = learned(pool, query);
  return entry ? (entry.bound ?? null) : undefined;
}

/** Makes every learned window of a pool `ms` older (tests). */
export function ageWindows(pool: pg.Pool, ms: number): void {
  for (const entry of windows.get(pool)?.values() ?? []) entry.at -= ms;
}

/** Forgets every learned window of a pool (tests). */
export function forgetWindows(pool: pg.Pool): void {
  windows.delete(pool);
}
