// files_search_keys_idx: words of plain letters, their prefixes and tags are found as keys in one GIN scan, and the
// keys only narrow the files (each found file is still tested against the search's own conditions), so a keyed read
// returns exactly the files the walk does.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { removeSeededFiles, seedFiles } from '../../scripts/seed-files.js';
import type { FileSort } from '../../src/contract/file-search.js';
import { toFileSearchQuery, type FileSearch } from '../../src/shared/domain/file-search.js';
import { fileSearchMatchesFirstSql, fileSearchSql, fileSearchWindowSql } from '../../src/shared/records/file-search-query.js';
import { searchKeysOf } from '../../src/shared/records/file-search-keys.js';
import { nodesOf, type PlanNode } from '../helpers/search-db.js';

const DAY_MS = 86_400_000;

describe('search keys', () => {
  const run = randomBytes(4).toString('hex');
  const owners = Array.from({ length: 3 }, (_, i) => `keys-${run}-${i}`);
  const oddTag = `it's\\a "tag" ${run}`;
  let pool: pg.Pool;

  beforeAll(async () => {
    const { databaseUrl } = inject('testEnv');
    pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    await seedFiles(pool, { count: 6_000, batchSize: 3_000, concurrency: 2, owners });
    // Files whose words reach the document only inside a longer lexeme (a host, a file name, a hyphenated word), in
    // upper case, or next to digits the parser splits off, created in the last days; and a tag with a quote and a
    // backslash.
    const texts = [
      ['Restoration-map_12.pdf', 'see restoration.museum.org'],
      ['INVOICES-final.PDF', 'Invoice 12e3x draft'],
      ['scan.tif', 'invoice.pdf sent to mail@restorer.example'],
      ['invoice draft', null],
      // Phrases: "annual report" adjacent (in upper case, across a hyphen), and the two words apart or reversed.
      ['Annual-Report_2025.pdf', 'the annual report for the board'],
      ['report.txt', 'ANNUAL REPORT draft'],
      ['annual.pdf', 'report on the annual budget'],
    ];
    // Picked before any is changed: a changed file's new creation time could make it picked again.
    const { rows: picked } = await pool.query<{ id: string }>('SELECT id FROM files WHERE owner = $1 ORDER BY created_at DESC LIMIT $2', [owners[0], texts.length]);
    for (const [i, [name, description]] of texts.entries()) {
      await pool.query(
        `UPDATE files SET file_name = $2, description = $3, tags = tags || $4::text, created_at = now() - ($5 || ' hours')::interval WHERE id = $1`,
        [picked[i]!.id, name, description, oddTag, 6 + i * 20],
      );
    }
    await pool.query('ANALYZE files');
  });

  afterAll(async () => {
    if (pool) {
      await removeSeededFiles(pool, owners);
      await pool.end();
    }
  });

  const ids = async (sql: { text: string; values: unknown[] }) => (await pool.query<{ id: string }>(sql.text, sql.values)).rows.map((r) => r.id);
  const search = (sort: FileSort, extra: Partial<FileSearch>): FileSearch => ({ sort, limit: 5_000, owner: owners[0], ...extra });

  it('reads the same files through the keys as the walk, for words, prefixes, negations and tags in every sort', async () => {
    const cases: Array<Partial<FileSearch>> = [
      { q: 'invoice' }, { q: 'INVOICE' }, { q: 'invoi' }, { q: 'restor' }, { q: 'restoration map' }, { q: 'invoice -draft' },
      { q: 'museum' }, { q: 'org' }, { q: 'example' }, { q: 'pdf' }, { q: 'invoices final' }, { tags: [oddTag] },
      { tags: ['finance'] }, { q: 'invoice', tags: ['finance'] }, { q: 'restor', tags: [oddTag] },
      { q: '"annual report"' }, { q: '"ANNUAL report" -draft' }, { q: 'board "annual report"' }, { q: '"report"' },
      { q: '"the annual report for"' }, { q: '"annual report"', tags: [oddTag] }, { q: '"report annual"' },
    ];
    let found = 0;
    for (const filter of cases) {
      expect(searchKeysOf(filter), JSON.stringify(filter)).toBeDefined();
      for (const sort of ['-createdAt', 'createdAt', 'size', '-size', 'fileName'] as FileSort[]) {
        const query = toFileSearchQuery(search(sort, filter));
        const walked = await ids(fileSearchSql(query));
        expect(await ids(fileSearchMatchesFirstSql(query, 100_000)), `${JSON.stringify(filter)} ${sort}`).toEqual(walked);
        found += walked.length;
      }
      // A window newest first over the last three days: the keys of those days.
      const query = toFileSearchQuery(search('-createdAt', filter));
      const bound = new Date(Date.now() - 3 * DAY_MS);
      const { rows } = await pool.query<{ id: string; createdAt: Date }>(fileSearchSql(query).text, fileSearchSql(query).values as unknown[]);
      const recent = rows.filter((r) => r.createdAt >= bound).map((r) => r.id);
      expect(await ids(fileSearchWindowSql(query, bound)), JSON.stringify(filter)).toEqual(recent);
    }
    expect(found).toBeGreaterThan(1_000);
    // The phrase's files: the two added with the words adjacent, not the one with them apart.
    const phrase = await ids(fileSearchSql(toFileSearchQuery(search('-createdAt', { q: '"annual report"' }))));
    expect(phrase.length).toBeGreaterThanOrEqual(2);
  });

  it('asks for no keys where a word could be split or joined by "or"', () => {
    for (const q of ['12e3x', 'invoice or draft', 'annual-report', '"annual-report"', '-"annual report"', '"annual report', '"annual or report"', 'annual"report"', 'café', 'in']) {
      expect(searchKeysOf({ q })?.q, q).not.toBe(true);
    }
  });

  // A phrase's adjacent words are one key each pair ('~p<a>_<b>', migration 20261207100000): the files holding both
  // words apart are not candidates. A word alone in quotes is its key; the last plain word is still a prefix.
  it('asks for the word pairs of a phrase', () => {
    expect(searchKeysOf({ q: '"Annual Report"' })?.keys).toEqual(['~pannual_report']);
    expect(searchKeysOf({ q: '"the annual report" inv -draft' })?.keys).toEqual(['~pthe_annual', '~pannual_report', 'inv']);
    expect(searchKeysOf({ q: '"report"' })?.keys).toEqual(['report']);
  });

  // The bench's q=invoice&tag=finance&sort=size: one GIN scan of the word's and the tag's keys, not a bitmap of the
  // search document's index (where 'invoice':* expands to every file name starting with it) and one of the tags'.
  it.each([
    ['a word and a tag', { q: 'invoice', tags: ['finance'] }],
    ['a phrase', { q: '"annual report"' }],
  ])('reads %s through one scan of the keys index', async (_, filter) => {
    const sql = fileSearchMatchesFirstSql(toFileSearchQuery({ sort: 'size', limit: 50, ...filter }), 10_000);
    const client = await pool.connect();
    let rows: Array<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>;
    try {
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      ({ rows } = await client.query(`EXPLAIN (FORMAT JSON) ${sql.text}`, sql.values as unknown[]));
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const nodes = nodesOf(rows[0]!['QUERY PLAN'][0]!.Plan);
    const text = nodes.map((n) => `${n['Node Type']} ${n['Index Name'] ?? ''}`).join(' > ');
    // (The page's rows are read by primary key, as an index scan or a bitmap of it.)
    const bitmaps = nodes.filter((n) => n['Node Type'] === 'Bitmap Index Scan' && n['Index Name'] !== 'files_pkey');
    expect(bitmaps.map((n) => n['Index Name']), text).toEqual(['files_search_keys_idx']);
    expect(nodes.some((n) => ['Seq Scan', 'BitmapAnd'].includes(n['Node Type'])), text).toBe(false);
    // No walk of a sort's index: the page's rows alone are read whole, by primary key.
    expect(nodes.filter((n) => n['Node Type'] === 'Index Scan' && n['Index Name'] !== 'files_pkey'), text).toEqual([]);
  });
});
