// How a file search runs: the plan chosen from the planner's estimate of its matches and the table's shape (walk the
// sort's index, or read the matches through their GIN index first), the caches behind that choice, and the rows.
import type pg from 'pg';
import { poolOf, type Db, type Prisma } from './database.js';
import type { FileRow } from './files.js';
import {
  fileSearchMatchesFirstSql,
  fileSearchSql,
  hasIndexedMatch,
  matchEstimateSql,
  type FileSearchQuery,
  type FileSortField,
} from './file-search-query.js';
import { considerWindow, rowsFromWindow, windowEligible } from './file-search-window.js';
import { isPairKey, searchKeysOf } from './file-search-keys.js';
import { histogramOf, sortSpanOf, type SortSpan } from './file-search-span.js';

export type FileSearchPlan =
  | { kind: 'ordered'; sql: Prisma.Sql }
  /** With a span, fewer than a page of rows is no page either (file-search-span.ts). */
  | { kind: 'matches-first'; sql: Prisma.Sql; cap: number; span?: SortSpan };

/** What the planner expects of a query's conditions: the rows matched, and the entries its GIN indexes yield. */
export interface MatchEstimate {
  matches: number;
  /** Row pointers the GIN bitmaps produce before they are combined (each term's own matches). */
  indexEntries: number;
  /** Those of them from a prefix ('invoice':*), which GIN gathers into a bitmap of its own first. */
  prefixEntries?: number;
}

const GIN_INDEXES = new Set(['files_search_vector_idx', 'files_file_name_idx', 'files_tags_idx', 'files_search_keys_idx']);

interface EstimatePlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Plan Rows': number;
  Plans?: EstimatePlanNode[];
}

/** The estimate in an EXPLAIN (FORMAT JSON) of matchEstimateSql. */
export function matchEstimateOf(plan: EstimatePlanNode): MatchEstimate {
  const nodes = (n: EstimatePlanNode): EstimatePlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];
  const gin = nodes(plan).filter((n) => n['Node Type'] === 'Bitmap Index Scan' && GIN_INDEXES.has(n['Index Name'] ?? ''));
  // No GIN bitmap in the plan: the planner finds the conditions too common for their index, so they are walked.
  const indexEntries = gin.length > 0 ? gin.reduce((sum, n) => sum + n['Plan Rows'], 0) : Number.MAX_SAFE_INTEGER;
  const prefixEntries = gin.filter((n) => n['Index Cond']?.includes("':*")).reduce((sum, n) => sum + n['Plan Rows'], 0);
  return { matches: plan['Plan Rows'], indexEntries, prefixEntries };
}

/** The table as the planner's statistics see it: its rows, and how closely each sort column follows the heap. */
export interface TableShape {
  rows: number;
  /** pg_stats.correlation, -1 to 1: near 1 or -1 a walk of that column's index reads the heap in order. */
  correlation: Record<FileSortField, number>;
  /** pg_stats.histogram_bounds of size: 101 sizes, a hundredth of the files between each two. */
  sizeBounds?: number[];
}

// Microseconds, measured at 1,000,000 rows (bench seed; pages in shared buffers or the OS cache, a loaded 2-core box):
// a walk in heap order (created_at): 173,000 rows in 113 ms, 60,000 in 97 ms;
const WALK_ROW_IN_ORDER_US = 1;
// a walk across the heap (size, file name): 18,000 rows in 70-137 ms;
const WALK_ROW_SCATTERED_US = 4;
// a GIN posting collected into a bitmap: 2 x 50,000 of a tag pair in 6.5 ms, 'finance' (50,000) in 8 ms;
const GIN_ENTRY_US = 0.15;
// one of a prefix: 'invoice':* (56,000) in 30 ms where 'invoice' took 8; and the bench's 4 connections served
// q=invoice&tag=finance&sort=size at 16-18 req/s read first against 26-38 walked.
const GIN_PREFIX_ENTRY_US = 1;
// a match read from the heap, tested and sorted: a phrase's 2,488 candidates in 5-10 ms, 2,800 rows of q+tag in 22 ms.
const MATCH_ROW_US = 5;
// The planner counts a phrase's matches as the rows holding all its words: "annual report" 3,353 estimated, 2,488
// such rows, 295 with the words adjacent. A walk finds the adjacent ones only.
const PHRASE_OVERESTIMATE = 8;

// A posting of a key passed in one GIN intersection (56,000 + 62,000 in 3.1-4.2 ms; 'invoice' & '~tfinance', 106,000,
// in 3.8-5 ms).
const KEYED_ENTRY_US = 0.04;
// A size index entry collected into a bitmap, across the heap: 135,000 of them in 15 ms.
const SPAN_ENTRY_SCATTERED_US = 0.11;
// A created_at index entry collected into a bitmap: 100,000 of them in 3 ms (the span of a window).
const SPAN_ENTRY_US = 0.03;

/**
 * The postings among `entries` that a prefix gathers: none when the query's words are keys of files_search_keys_idx
 * (file-search-keys.ts), where a prefix is one key.
 */
function prefixEntries(query: FileSearchQuery, estimate: MatchEstimate, entries: number): number {
  return searchKeysOf(query)?.q ? 0 : Math.min(estimate.prefixEntries ?? 0, entries);
}

/**
 * Collecting the GIN postings into a bitmap: keys in one intersection, or each term's bitmap (a prefix's dearer; q
 * without keys beside keyed tags is its own bitmap, and priced as before).
 */
function postingsUs(query: FileSearchQuery, estimate: MatchEstimate, entries: number): number {
  const prefix = prefixEntries(query, estimate, entries);
  const keys = searchKeysOf(query);
  const entryUs = keys && (keys.q || query.q === undefined) ? KEYED_ENTRY_US : GIN_ENTRY_US;
  return entryUs * (entries - prefix) + GIN_PREFIX_ENTRY_US * prefix;
}

/**
 * How to run a query (PostgreSQL's planner alone gets the text searches wrong both ways; its cost model counts a
 * bitmap's heap page as 4 of the walk's and walked 173,000 rows for a page of the 295-match phrase):
 * - a walk of the sort's index visits about rows x table / matches rows, reading each from the heap to test it;
 * - matches first collects each GIN term's postings into bitmaps (or the keys' in one), combines them, reads every
 *   match from the heap and sorts them;
 * - in a size order, matches first within a span of the size index (file-search-span.ts): the same postings and the
 *   span's entries combined, and only the span's matches read.
 * The cheapest by the costs above wins: at 1,000,000 rows and a page of 50 a single term goes first below about
 * 3,000 matches, and two common terms that are rare together (q=invoice&tag=finance: 105,000 postings for 2,800
 * matches) are read first; at 10,000,000 rows their 28,000 matches cost more to read than the walk, and a span of
 * sizes holding a few pages of them less than either.
 * The estimate is the planner's (the tsvector and array statistics are good within 2-3x), and an underestimate is
 * caught by the cap: a query that reads `cap` matches is not finished that way but walked.
 */
export function chooseFileSearchPlan(query: FileSearchQuery, estimate: MatchEstimate, table: TableShape, spans = true): FileSearchPlan {
  if (!hasIndexedMatch(query)) return { kind: 'ordered', sql: fileSearchSql(query) };
  const order = Math.min(1, Math.abs(table.correlation[query.order.field] ?? 0));
  const walkRowUs = WALK_ROW_IN_ORDER_US * order + WALK_ROW_SCATTERED_US * (1 - order);
  const phrase = query.q !== undefined && /"[^"]*\s[^"]*"/.test(query.q);
  const walkMatches = Math.max(1, phrase ? estimate.matches / PHRASE_OVERESTIMATE : estimate.matches);
  const walkUs = ((query.rows * Math.max(table.rows, 1)) / walkMatches) * walkRowUs;
  // A phrase asking for its word pairs (file-search-keys.ts) finds the files holding its words adjacent alone: about
  // as many postings and rows as it has matches, where the estimate counts every file holding its words.
  const paired = searchKeysOf(query)?.keys.some(isPairKey) ?? false;
  const read = paired ? walkMatches : estimate.matches;
  const ginUs = paired ? KEYED_ENTRY_US * walkMatches : postingsUs(query, estimate, estimate.indexEntries);
  const matchesFirstUs = ginUs + MATCH_ROW_US * read;
  const span = spans ? sortSpanOf(query, walkMatches, table.sizeBounds) : undefined;
  const spanEntryUs = SPAN_ENTRY_US * order + SPAN_ENTRY_SCATTERED_US * (1 - order);
  const spanUs = span ? ginUs + spanEntryUs * span.share * table.rows + MATCH_ROW_US * span.share * read : Number.POSITIVE_INFINITY;
  if (Math.min(matchesFirstUs, spanUs) >= walkUs) return { kind: 'ordered', sql: fileSearchSql(query) };
  if (span && spanUs < matchesFirstUs) {
    const cap = Math.max(2000, Math.ceil(4 * span.share * estimate.matches));
    return { kind: 'matches-first', sql: fileSearchMatchesFirstSql(query, cap, span), cap, span };
  }
  // The cap from the estimate: a phrase's matches are at most the files holding its words.
  const cap = Math.max(2000, Math.ceil(4 * estimate.matches));
  return { kind: 'matches-first', sql: fileSearchMatchesFirstSql(query, cap), cap };
}

// The table's shape changes slowly against a search's cost: read from the catalogue at most once a minute per pool.
const TABLE_TTL_MS = 60_000;
const tables = new WeakMap<pg.Pool, { shape: TableShape; at: number }>();
const SORT_FIELDS: Record<string, FileSortField> = { created_at: 'createdAt', size: 'size', file_name: 'fileName' };

async function filesTable(pool: pg.Pool): Promise<TableShape> {
  const cached = tables.get(pool);
  if (cached && Date.now() - cached.at < TABLE_TTL_MS) return cached.shape;
  // reltuples: the last VACUUM or ANALYZE's count (-1 before the first one); no statistics yet: correlation 0.
  const { rows } = await pool.query<{ n: number; attname: string | null; correlation: number | null; bounds: string | null }>(
    `SELECT greatest(c.reltuples, 0)::float8 AS n, s.attname, s.correlation, s.histogram_bounds::text AS bounds FROM pg_class c
       LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = 'files' AND s.attname IN ('created_at', 'size', 'file_name')
      WHERE c.oid = 'files'::regclass`,
  );
  const shape: TableShape = { rows: Number(rows[0]?.n ?? 0), correlation: { createdAt: 0, size: 0, fileName: 0 } };
  for (const row of rows) {
    const field = row.attname ? SORT_FIELDS[row.attname] : undefined;
    if (field) shape.correlation[field] = row.correlation ?? 0;
    if (field === 'size') shape.sizeBounds = histogramOf(row.bounds);
  }
  tables.set(pool, { shape, at: Date.now() });
  return shape;
}

// The estimates of recent filters, per pool: a search paged through, or asked again, plans without the EXPLAIN round
// trip (0.3-1 ms, more under load). A minute old at most, as the statistics behind them change slowly.
const ESTIMATE_TTL_MS = 60_000;
const ESTIMATES_KEPT = 1000;
const estimates = new WeakMap<pg.Pool, Map<string, { estimate: MatchEstimate; at: number }>>();

function filtersKey(query: FileSearchQuery): string {
  const { order: _order, after: _after, rows: _rows, ...filters } = query;
  return JSON.stringify(filters);
}

function rememberEstimate(pool: pg.Pool, key: string, estimate: MatchEstimate): void {
  let kept = estimates.get(pool);
  if (!kept) estimates.set(pool, (kept = new Map()));
  kept.delete(key);
  kept.set(key, { estimate, at: Date.now() });
  // Map keeps insertion order: the first key is the one written longest ago.
  if (kept.size > ESTIMATES_KEPT) kept.delete(kept.keys().next().value!);
}

async function matchEstimate(pool: pg.Pool, query: FileSearchQuery): Promise<MatchEstimate> {
  const key = filtersKey(query);
  const cached = estimates.get(pool)?.get(key);
  if (cached && Date.now() - cached.at < ESTIMATE_TTL_MS) return cached.estimate;
  const explain = matchEstimateSql(query);
  const { rows } = await pool.query<{ 'QUERY PLAN': Array<{ Plan: EstimatePlanNode }> }>(explain.text, explain.values as unknown[]);
  const plan = rows[0]?.['QUERY PLAN'][0]?.Plan;
  const estimate = plan ? matchEstimateOf(plan) : { matches: 0, indexEntries: 0 };
  rememberEstimate(pool, key, estimate);
  return estimate;
}

/**
 * Whether a first page is cheaper read from a window (file-search-window.ts) than walked, for a walk that passed
 * `walked` files in creation-time order: the window collects the GIN postings and the span's index entries into
 * bitmaps and reads the page's rows; the walk reads each file it passes. At 1,000,000 rows the bench's walk of
 * tag=finance passes about 1,000 files (no window), and about 81,000 behind 80,000 newest uploads (a window).
 */
export function windowPays(query: FileSearchQuery, estimate: MatchEstimate, table: TableShape, walked: number): boolean {
  const order = Math.min(1, Math.abs(table.correlation.createdAt ?? 0));
  const walkUs = walked * (WALK_ROW_IN_ORDER_US * order + WALK_ROW_SCATTERED_US * (1 - order));
  // No GIN bitmap in the planner's estimate (it would scan the table for so common a match): about one posting a match.
  const entries = estimate.indexEntries === Number.MAX_SAFE_INTEGER ? estimate.matches : estimate.indexEntries;
  // With keys, newest first, the window is one GIN scan of the keys and the span's days (file-search-query.ts):
  // 'invoice' behind 61,000 files in 3.1-4.2 ms, 'restor' 3.4-4.3 ms at 1,000,000 rows. It reads the matches of the
  // whole days, a few pages' worth.
  if (searchKeysOf(query) && query.order.descending) {
    return 2 * (KEYED_ENTRY_US * (entries + walked) + 4 * MATCH_ROW_US * query.rows) < walkUs;
  }
  const prefix = prefixEntries(query, estimate, entries);
  const windowUs = GIN_ENTRY_US * (entries - prefix) + GIN_PREFIX_ENTRY_US * prefix + SPAN_ENTRY_US * walked + MATCH_ROW_US * query.rows;
  // Half the walk at most: the costs above are rough, and at the bench's q=invoice ('invoice':*, a prefix, 81,000
  // files walked: priced 59 ms against 81) the window served fewer requests per second than the walk.
  return 2 * windowUs < walkUs;
}

async function planWith(pool: pg.Pool, query: FileSearchQuery): Promise<{ plan: FileSearchPlan; estimate?: MatchEstimate; table?: TableShape }> {
  if (!hasIndexedMatch(query)) return { plan: { kind: 'ordered', sql: fileSearchSql(query) } };
  const [estimate, table] = await Promise.all([matchEstimate(pool, query), filesTable(pool)]);
  return { plan: chooseFileSearchPlan(query, estimate, table), estimate, table };
}

/** The plan of one search query on this database (the planner's estimate of its matches, the table's size). */
export async function planFileSearch(pool: pg.Pool, query: FileSearchQuery): Promise<FileSearchPlan> {
  return (await planWith(pool, query)).plan;
}

/** A read of the matches first: its rows, or why they need not be the page (capped; a span short of one). */
async function matchesFirstRows(pool: pg.Pool, query: FileSearchQuery, plan: FileSearchPlan & { kind: 'matches-first' }): Promise<FileRow[] | 'capped' | 'short'> {
  const { rows } = await pool.query<FileRow & { matchCount?: number }>(plan.sql.text, plan.sql.values as unknown[]);
  // Fewer matches than the cap: these are all of them (of the span), so their top rows are the page; within a span,
  // only when it held a page.
  if ((rows[0]?.matchCount ?? 0) >= plan.cap) {
    // The estimate was low: until it is made again, these filters walk straight away.
    rememberEstimate(pool, filtersKey(query), { matches: Number.MAX_SAFE_INTEGER, indexEntries: Number.MAX_SAFE_INTEGER });
    return 'capped';
  }
  if (plan.span && rows.length < query.rows) return 'short';
  return rows.map(({ matchCount: _, ...row }) => row);
}

/** The rows of a search query, in its order. */
export async function selectFileSearchRows(db: Db, query: FileSearchQuery): Promise<FileRow[]> {
  // On the pool, not $queryRaw: Prisma's per-row decoding cost about 3 ms of a 5 ms search returning 51 rows.
  const pool = poolOf(db);
  const { plan, estimate, table } = await planWith(pool, query);
  const windowed = windowEligible(query) && estimate !== undefined && table !== undefined;
  const pays = (walked: number) => windowPays(query, estimate!, table!, walked);
  if (windowed && plan.kind === 'ordered') {
    const rows = await rowsFromWindow(pool, query, pays);
    if (rows) return rows;
  }
  if (plan.kind === 'matches-first') {
    const rows = await matchesFirstRows(pool, query, plan);
    if (typeof rows !== 'string') return rows;
    // A span short of a page (the matches fewer, or elsewhere, than the estimate and the histogram had them): the
    // plan without spans.
    const unspanned = rows === 'short' && estimate && table ? chooseFileSearchPlan(query, estimate, table, false) : undefined;
    const again = unspanned?.kind === 'matches-first' ? await matchesFirstRows(pool, query, unspanned) : undefined;
    if (again !== undefined && typeof again !== 'string') return again;
  }
  const sql = fileSearchSql(query);
  const { rows } = await pool.query<FileRow>(sql.text, sql.values as unknown[]);
  if (windowed) await considerWindow(pool, query, rows, pays);
  return rows;
}
