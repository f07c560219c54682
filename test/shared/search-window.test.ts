// A first page whose walk passed many newest files that do not match is read next time from its learned window (the
// keys of its days, or a BitmapAnd of the GIN bitmap and the created_at span); pages stay exact across its edge.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeSeededFiles, seedFiles } from '../../scripts/seed-files.js';
import { poolOf, type Db } from '../../src/shared/records/database.js';
import type { FileSort } from '../../src/contract/file-search.js';
import { searchFiles, toFileSearchQuery, type FileSearch } from '../../src/shared/domain/file-search.js';
import { fileSearchSql, fileSearchWindowSql, type FileSearchQuery } from '../../src/shared/records/file-search-query.js';
import { windowPays } from '../../src/shared/records/file-search-plan.js';
import { ageWindows, forgetWindows, learnedWindow, rowsFromWindow } from '../../src/shared/records/file-search-window.js';
import { nodesOf, type PlanNode, openSearchDb } from '../helpers/search-db.js';


const SEEDED = 40_000;
const UNMATCHED = 8_000;

describe('search windows', () => {
  const run = randomBytes(4).toString('hex');
  const owners = Array.from({ length: 4 }, (_, i) => `window-${run}-${i}`);
  const uploader = `window-${run}-uploads`;
  const tag = `common-${run}`;
  let pool: pg.Pool;
  let db: Db;

  beforeAll(async () => {
    ({ pool, db } = openSearchDb());
    // The newest UNMATCHED files carry none of the seeded files' words or tags, as a full bench run's uploads.
    await seedFiles(pool, { count: SEEDED, batchSize: 10_000, concurrency: 2, owners, unmatchedNewest: UNMATCHED, unmatchedOwner: uploader });
    // A tag on one seeded file in ten: common, so its first page is walked, not read through the GIN index first.
    await pool.query(`UPDATE files SET tags = tags || $2::text WHERE owner = ANY($1) AND size % 10 = 0`, [owners, tag]);
    await pool.query('ANALYZE files');
  });

  afterAll(async () => {
    if (pool) {
      await removeSeededFiles(pool, [...owners, uploader]);
      await pool.end();
    }
    await db?.$disconnect();
  });

  const search = (sort: FileSort = '-createdAt', extra: Partial<FileSearch> = {}): FileSearch => ({ sort, limit: 50, tags: [tag], ...extra });
  const walked = async (s: FileSearch) => {
    const sql = fileSearchSql(toFileSearchQuery(s));
    return (await pool.query<{ id: string }>(sql.text, sql.values as unknown[])).rows.map((r) => r.id);
  };

  it('prices a window against the walk: none behind a short walk, one behind the newest unmatched files', () => {
    const table = { rows: 1_000_000, correlation: { createdAt: 0.99, size: 0, fileName: 0 } };
    const query = toFileSearchQuery(search('-createdAt', { tags: ['finance'] }));
    const finance = { matches: 50_000, indexEntries: 50_000 };
    expect(windowPays(query, finance, table, 1_000)).toBe(false);
    expect(windowPays(query, finance, table, 81_000)).toBe(true);
    // Keys (a tag, plain words) newest first: one GIN scan of the keys and the days, so 'invoice':* behind 81,000
    // files pays too. Without keys (a word with digits, oldest first) a prefix's postings cost more to collect:
    // walked behind 81,000 files, not behind 200,000.
    const prefix = { matches: 56_000, indexEntries: 56_000, prefixEntries: 56_000 };
    expect(windowPays(toFileSearchQuery(search('-createdAt', { tags: undefined, q: 'invoice' })), prefix, table, 81_000)).toBe(true);
    const unkeyed = toFileSearchQuery(search('-createdAt', { tags: undefined, q: 'invoice2' }));
    expect(windowPays(unkeyed, prefix, table, 81_000)).toBe(false);
    expect(windowPays(unkeyed, prefix, table, 200_000)).toBe(true);
  });

  it('learns the window from a first page walked past the newest unmatched files, then reads it from the keys of its days', async () => {
    forgetWindows(poolOf(db));
    const first = await searchFiles(db, search());
    const query = toFileSearchQuery(search());
    const bound = learnedWindow(poolOf(db), query);
    expect(bound).toBeInstanceOf(Date);
    const again = await searchFiles(db, search());
    expect(again.items.map((f) => f.id)).toEqual(first.items.map((f) => f.id));
    expect(again.nextCursor).toBe(first.nextCursor);
    expect(first.items.map((f) => f.id)).toEqual((await walked(search())).slice(0, 50));
    // The window's plan, newest first: the tag's key and the span's days in one scan of files_search_keys_idx, no
    // bitmap of the tag's own index or of the created_at span; the created_at index only for the files after the
    // days. (A table this small the planner may rather scan whole; with that ruled out, the SQL's shape is what is
    // tested.)
    const keyed = await windowPlan(fileSearchWindowSql(query, bound as Date));
    const bitmaps = keyed.nodes.filter((n) => n['Node Type'] === 'Bitmap Index Scan').map((n) => n['Index Name']);
    expect(bitmaps, keyed.text).toEqual(['files_search_keys_idx', 'files_created_at_id_idx']);
    expect(keyed.nodes.some((n) => n['Node Type'] === 'BitmapOr'), keyed.text).toBe(true);
    // Oldest first (the days would run from the table's first): the tag's own GIN bitmap (here this bound's span is
    // the whole table, so the created_at span's bitmap is left out).
    const ascending = await windowPlan(fileSearchWindowSql(toFileSearchQuery(search('createdAt')), bound as Date));
    expect(ascending.nodes.some((n) => n['Index Name'] === 'files_tags_idx'), ascending.text).toBe(true);
    expect(ascending.nodes.some((n) => n['Index Name'] === 'files_search_keys_idx'), ascending.text).toBe(false);
  });

  async function windowPlan(sql: { text: string; values: unknown[] }): Promise<{ nodes: PlanNode[]; text: string }> {
    const client = await pool.connect();
    let rows: Array<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>;
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      ({ rows } = await client.query(`EXPLAIN (FORMAT JSON) ${sql.text}`, sql.values));
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const nodes = nodesOf(rows[0]!['QUERY PLAN'][0]!.Plan);
    return { nodes, text: nodes.map((n) => `${n['Node Type']} ${n['Index Name'] ?? ''}`).join(' > ') };
  }

  it('pages across the window edge in both creation-time orders without skipping or repeating a file', async () => {
    for (const sort of ['-createdAt', 'createdAt'] as FileSort[]) {
      forgetWindows(poolOf(db));
      // The first page walks and learns; the second run of it reads the window; later pages walk from the cursor.
      await searchFiles(db, search(sort, { limit: 20 }));
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 6; i++) {
        const page = await searchFiles(db, search(sort, { limit: 20, ...(cursor ? { cursor } : {}) }));
        seen.push(...page.items.map((f) => f.id));
        cursor = page.nextCursor ?? undefined;
        if (!cursor) break;
      }
      expect(seen, sort).toEqual((await walked(search(sort, { limit: 119 }))).slice(0, 120));
    }
  });

  it('walks again when the window no longer holds a full page (its files deleted), and forgets it', async () => {
    forgetWindows(poolOf(db));
    const first = await searchFiles(db, search('-createdAt', { limit: 10 }));
    const query = toFileSearchQuery(search('-createdAt', { limit: 10 }));
    expect(learnedWindow(poolOf(db), query)).toBeInstanceOf(Date);
    const gone = first.items.slice(0, 3).map((f) => f.id);
    await pool.query('UPDATE files SET deleted_at = now() WHERE id = ANY($1::uuid[])', [gone]);
    try {
      const after = await searchFiles(db, search('-createdAt', { limit: 10 }));
      expect(after.items.map((f) => f.id)).toEqual((await walked(search('-createdAt', { limit: 9 }))).slice(0, 10));
      expect(after.items.map((f) => f.id)).not.toContain(gone[0]);
      expect(after.items).toHaveLength(10);
    } finally {
      await pool.query('UPDATE files SET deleted_at = NULL WHERE id = ANY($1::uuid[])', [gone]);
    }
  });

  const idsOf = async (sql: { text: string; values: unknown[] }) =>
    (await pool.query<{ id: string }>(sql.text, sql.values)).rows.map((r) => r.id);

  it('reads a window exactly in both creation-time orders at any bound, a tie at its edge included', async () => {
    // 80 files at four instants (20 each, ids breaking the ties), every other one carrying a tag of its own.
    const tie = `tie-${run}`;
    await pool.query(
      `WITH picked AS (SELECT id, row_number() OVER (ORDER BY id) AS k FROM files WHERE owner = ANY($1) AND size % 10 = 1 LIMIT 80)
       UPDATE files f SET created_at = timestamptz '2001-01-01T00:00:00Z' + (p.k % 4) * interval '1 second',
                          tags = CASE WHEN p.k % 2 = 0 THEN f.tags || $2::text ELSE f.tags END
         FROM picked p WHERE f.id = p.id`,
      [owners, tie],
    );
    const instants = [0, 1, 2, 3].map((s) => new Date(Date.UTC(2001, 0, 1, 0, 0, s)));
    let full = 0;
    for (const sort of ['-createdAt', 'createdAt'] as FileSort[]) {
      for (const limit of [2, 6, 9, 14, 24]) {
        const query: FileSearchQuery = toFileSearchQuery({ sort, limit, tags: [tie] });
        const walk = await idsOf(fileSearchSql(query));
        expect(walk).toHaveLength(query.rows);
        for (const bound of instants) {
          const window = await idsOf(fileSearchWindowSql(query, bound));
          if (window.length < query.rows) continue;
          full++;
          expect(window, `${sort} limit ${limit} bound ${bound.toISOString()}`).toEqual(walk);
        }
      }
    }
    // Pages that end inside a group of ties, read from spans that end there or further.
    expect(full).toBeGreaterThanOrEqual(20);
  });

  // A file dated after tomorrow by this clock (another host's clock ahead, an index rebuilt from attr files) holds no
  // day key the window asks for; it is still the newest match.
  it('reads a file created after the window\'s last day into the window newest first', async () => {
    const future = `future-${run}`;
    const { rows: picked } = await pool.query<{ id: string; created_at: Date }>(
      `UPDATE files SET tags = tags || $2::text WHERE id IN (SELECT id FROM files WHERE owner = $1 ORDER BY created_at DESC LIMIT 6)
       RETURNING id, created_at`,
      [owners[2], future],
    );
    const ahead = picked[0]!;
    await pool.query(`UPDATE files SET created_at = now() + interval '3 days' WHERE id = $1`, [ahead.id]);
    try {
      const query = toFileSearchQuery({ sort: '-createdAt', limit: 4, tags: [future] });
      const bound = new Date(Math.min(...picked.map((r) => r.created_at.getTime())));
      const window = await idsOf(fileSearchWindowSql(query, bound));
      expect(window[0]).toBe(ahead.id);
      expect(window).toEqual(await idsOf(fileSearchSql(query)));
    } finally {
      await pool.query('UPDATE files SET created_at = $2, tags = array_remove(tags, $3) WHERE id = $1', [ahead.id, ahead.created_at, future]);
      await pool.query('UPDATE files SET tags = array_remove(tags, $2) WHERE id = ANY($1::uuid[])', [picked.map((r) => r.id), future]);
    }
  });

  // Priced again from the page it reads, not from a walk: after a minute the window still serves the page and is kept
  // (the count of the files before its last row shows it still pays).
  it('serves a first page from a window learned over a minute ago and prices it again from that page', async () => {
    forgetWindows(poolOf(db));
    const s = search('-createdAt', { limit: 10 });
    const query = toFileSearchQuery(s);
    const first = await searchFiles(db, s);
    const bound = learnedWindow(poolOf(db), query);
    expect(bound).toBeInstanceOf(Date);
    ageWindows(poolOf(db), 61_000);
    expect(learnedWindow(poolOf(db), query)).toBeUndefined();
    const pays = (walked: number) => walked > UNMATCHED;
    const rows = await rowsFromWindow(poolOf(db), query, pays);
    expect(rows?.slice(0, 10).map((r) => r.id)).toEqual(first.items.map((f) => f.id));
    expect(learnedWindow(poolOf(db), query)).toEqual(bound);
    // Priced again as not paying: forgotten as a window, and the next first page walks.
    ageWindows(poolOf(db), 61_000);
    expect((await rowsFromWindow(poolOf(db), query, () => false))?.length).toBe(query.rows);
    expect(learnedWindow(poolOf(db), query)).toBeNull();
    expect(await rowsFromWindow(poolOf(db), query, pays)).toBeUndefined();
  });

  it('serves files added and changed after the window was learned; a span short of a page is forgotten and learned again', async () => {
    forgetWindows(poolOf(db));
    const s = search('-createdAt', { limit: 10 });
    const query = toFileSearchQuery(s);
    await searchFiles(db, s);
    const bound = learnedWindow(poolOf(db), query) as Date;
    expect(bound).toBeInstanceOf(Date);
    // The newest upload now matches (inside the span), and so does a file just older than the bound (outside it).
    const { rows: changed } = await pool.query<{ id: string }>(
      `UPDATE files SET tags = tags || $3::text WHERE id IN (
         (SELECT id FROM files WHERE owner = $1 ORDER BY created_at DESC, id DESC LIMIT 1),
         (SELECT id FROM files WHERE owner = ANY($2) AND created_at < $4 AND NOT tags @> ARRAY[$3::text] ORDER BY created_at DESC LIMIT 1))
       RETURNING id, owner = $1 AS newest`,
      [uploader, owners, tag, bound],
    );
    const newest = (changed as Array<{ id: string; newest: boolean }>).find((r) => r.newest)!.id;
    let gone: string[] = [];
    try {
      const again = await searchFiles(db, s);
      expect(again.items.map((f) => f.id)).toEqual((await walked(search('-createdAt', { limit: 9 }))).slice(0, 10));
      expect(again.items[0]!.id).toBe(newest);
      // Still a full page in the span: the window is kept.
      expect(learnedWindow(poolOf(db), query)).toEqual(bound);
      gone = again.items.slice(1, 4).map((f) => f.id);
      await pool.query('UPDATE files SET deleted_at = now() WHERE id = ANY($1::uuid[])', [gone]);
      const after = await searchFiles(db, s);
      expect(after.items.map((f) => f.id)).toEqual((await walked(search('-createdAt', { limit: 9 }))).slice(0, 10));
      // The span fell short: read, forgotten, walked, and learned again further down.
      const relearned = learnedWindow(poolOf(db), query);
      expect(relearned).toBeInstanceOf(Date);
      expect((relearned as Date).getTime()).toBeLessThan(bound.getTime());
    } finally {
      await pool.query('UPDATE files SET deleted_at = NULL WHERE id = ANY($1::uuid[])', [gone]);
      await pool.query('UPDATE files SET tags = array_remove(tags, $2) WHERE id = ANY($1::uuid[])', [changed.map((r) => r.id), tag]);
    }
  });
});
