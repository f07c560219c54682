// A search in a size order whose matches are many reads them first within a span of sizes (file-search-span.ts),
// walks when they are more, and reads them all first when they are few; the pages are the same whichever it does.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { removeSeededFiles, seedFiles } from '../../scripts/seed-files.js';
import type { Db } from '../../src/shared/records/database.js';
import type { FileSort } from '../../src/contract/file-search.js';
import { searchFiles, toFileSearchQuery, type FileSearch } from '../../src/shared/domain/file-search.js';
import { chooseFileSearchPlan, planFileSearch, type FileSearchPlan } from '../../src/shared/records/file-search-plan.js';
import { nodesOf, type PlanNode, openSearchDb } from '../helpers/search-db.js';

const ROWS = 20_000;

/** What a plan is: matches first (within a span or not) or ordered. */
const shape = (plan: FileSearchPlan) => (plan.kind === 'matches-first' ? (plan.span ? 'span' : 'matches-first') : 'ordered');

describe('search spans of a size order', () => {
  const run = randomBytes(4).toString('hex');
  const owners = Array.from({ length: 4 }, (_, i) => `span-${run}-${i}`);
  const tag = `grow-${run}`;
  const small = `small-${run}`;
  let pool: pg.Pool;
  let db: Db;

  beforeAll(async () => {
    ({ pool, db } = openSearchDb());
    await seedFiles(pool, { count: ROWS, batchSize: 10_000, concurrency: 2, owners });
    // 300 of the smallest files carry a tag of their own: their matches are not spread over the sizes.
    await pool.query(
      `UPDATE files SET tags = tags || $2::text WHERE id IN (SELECT id FROM files WHERE owner = ANY($1) ORDER BY size LIMIT 300)`,
      [owners, small],
    );
  });

  afterAll(async () => {
    if (pool) {
      await removeSeededFiles(pool, owners);
      await pool.end();
    }
    await db?.$disconnect();
  });

  /** Tags `count` files spread over every size (and no others), and makes the statistics again. */
  async function tagFiles(count: number): Promise<void> {
    await pool.query('UPDATE files SET tags = array_remove(tags, $2) WHERE owner = ANY($1) AND tags @> ARRAY[$2]', [owners, tag]);
    await pool.query(
      `UPDATE files SET tags = tags || $2::text WHERE id IN (SELECT id FROM files WHERE owner = ANY($1) ORDER BY md5(id::text) LIMIT ${count})`,
      [owners, tag],
    );
    await pool.query('ANALYZE files');
  }

  /** The plan of a search on a fresh pool (the estimates and the table's shape are cached per pool). */
  async function planOf(search: FileSearch): Promise<FileSearchPlan> {
    const fresh = new pg.Pool({ connectionString: inject('testEnv').databaseUrl, max: 1 });
    try {
      return await planFileSearch(fresh, toFileSearchQuery(search));
    } finally {
      await fresh.end();
    }
  }

  it('weighs a span of sizes against reading every match and the walk (q=invoice&tag=finance&sort=size)', () => {
    // Sizes spread evenly over the orders of magnitude, as the bench's: 101 histogram bounds from 10 to 10^9.
    const sizeBounds = Array.from({ length: 101 }, (_, i) => Math.round(10 ** (1 + (8 * i) / 100)));
    const table = (rows: number, bounds?: number[]) => ({ rows, correlation: { createdAt: 0.99, size: 0, fileName: 0 }, sizeBounds: bounds });
    const kind = (matches: number, rows: number, bounds: number[] | null = sizeBounds) =>
      shape(chooseFileSearchPlan(toFileSearchQuery({ sort: 'size', limit: 50, q: 'invoice', tags: ['finance'] }), { matches, indexEntries: 1_060_000 }, table(rows, bounds ?? undefined)));
    // 10,000,000 files: 2,000 matches are read whole; 28,000 within a span (about 300 of them read); 200,000 walked.
    expect(kind(2_000, 10_000_000)).toBe('matches-first');
    expect(kind(28_000, 10_000_000)).toBe('span');
    expect(kind(200_000, 10_000_000)).toBe('ordered');
    // Without the size column's histogram (no statistics yet) there is no span, and the 28,000 are walked.
    expect(kind(28_000, 10_000_000, null)).toBe('ordered');
    // The bench's 1,000,000 files: 2,800 matches read first, whole or within a span.
    expect(kind(2_800, 1_000_000)).not.toBe('ordered');
  });

  it('reads few matches whole, more within a span of sizes, and walks the size index for many', async () => {
    const search: FileSearch = { sort: 'size', limit: 5, tags: [tag] };
    const seen: string[] = [];
    for (const count of [20, 400, 12_000]) {
      await tagFiles(count);
      seen.push(shape(await planOf(search)));
    }
    expect(seen).toEqual(['matches-first', 'span', 'ordered']);
  });

  it('combines the span\'s bitmap of the size index with the keys\' before reading a row', async () => {
    await tagFiles(400);
    for (const sort of ['size', '-size'] as FileSort[]) {
      const chosen = await planOf({ sort, limit: 5, tags: [tag] });
      expect(shape(chosen), sort).toBe('span');
      const client = await pool.connect();
      let rows: Array<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>;
      try {
        await client.query('BEGIN');
        await client.query('SET LOCAL enable_seqscan = off');
        ({ rows } = await client.query(`EXPLAIN (FORMAT JSON) ${chosen.sql.text}`, chosen.sql.values as unknown[]));
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      const nodes = nodesOf(rows[0]!['QUERY PLAN'][0]!.Plan);
      const text = nodes.map((n) => `${n['Node Type']} ${n['Index Name'] ?? ''}`).join(' > ');
      const and = nodes.find((n) => n['Node Type'] === 'BitmapAnd');
      expect(and, text).toBeDefined();
      expect(nodesOf(and!).map((n) => n['Index Name']).filter(Boolean).sort(), text).toEqual(['files_search_keys_idx', 'files_size_id_idx']);
    }
  });

  // Spread matches fill their spans; the small files' tag leaves the spans of the largest sizes short of a page, and
  // those pages are read again without one.
  it('pages in both size orders without skipping or repeating a file, a span short of a page included', async () => {
    await tagFiles(400);
    for (const t of [tag, small]) {
      for (const sort of ['size', '-size'] as FileSort[]) {
        const order = sort === 'size' ? 'size ASC, id ASC' : 'size DESC, id DESC';
        const { rows } = await pool.query<{ id: string }>(
          `SELECT id FROM files WHERE deleted_at IS NULL AND tags @> ARRAY[$1] ORDER BY ${order} LIMIT 60`,
          [t],
        );
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let i = 0; i < 12; i++) {
          const result = await searchFiles(db, { sort, limit: 5, tags: [t], ...(cursor ? { cursor } : {}) });
          seen.push(...result.items.map((f) => f.id));
          cursor = result.nextCursor ?? undefined;
          if (!cursor) break;
        }
        expect(seen, `${t} ${sort}`).toEqual(rows.map((r) => r.id));
      }
    }
  });
});
