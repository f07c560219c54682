// seed-files loads its rows with COPY: every file's blob exists with the file's size, each blob counts the files
// that refer to it, and the unmatched newest files are newer than all the others.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { removeSeededFiles, seedFiles } from '../../scripts/seed-files.js';

describe('seed-files', () => {
  const run = randomBytes(4).toString('hex');
  const owners = [`seed-${run}-a`, `seed-${run}-b`];
  const uploader = `seed-${run}-uploads`;
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: inject('testEnv').databaseUrl, max: 2 });
  });

  afterAll(async () => {
    if (pool) {
      await removeSeededFiles(pool, [...owners, uploader]);
      await pool.end();
    }
  });

  it('copies files and their blobs consistently, in batches on two connections', async () => {
    const result = await seedFiles(pool, { count: 1_010, batchSize: 250, concurrency: 2, owners, unmatchedNewest: 30, unmatchedOwner: uploader });
    expect(result.inserted).toBe(1_040);
    const { rows } = await pool.query(
      `SELECT count(*)::int AS files, count(DISTINCT f.sha256)::int AS blobs,
              count(*) FILTER (WHERE b.sha256 IS NULL OR b.size <> f.size)::int AS broken,
              count(*) FILTER (WHERE f.search_vector IS NULL)::int AS unindexed
         FROM files f LEFT JOIN blobs b ON b.sha256 = f.sha256 WHERE f.owner = ANY($1)`,
      [[...owners, uploader]],
    );
    // One file in 25 reuses the previous file's blob; the 30 uploads share one.
    expect(rows[0]).toEqual({ files: 1_040, blobs: 1_010 - Math.floor(1_010 / 25) + 1, broken: 0, unindexed: 0 });
    const counts = await pool.query(
      `SELECT count(*)::int AS n FROM blobs b
        WHERE b.sha256 IN (SELECT sha256 FROM files WHERE owner = ANY($1))
          AND b.ref_count <> (SELECT count(*) FROM files f WHERE f.sha256 = b.sha256)`,
      [[...owners, uploader]],
    );
    expect(counts.rows[0].n).toBe(0);
    const newest = await pool.query(
      `SELECT (SELECT min(created_at) FROM files WHERE owner = $1) > (SELECT max(created_at) FROM files WHERE owner = ANY($2)) AS newer`,
      [uploader, owners],
    );
    expect(newest.rows[0].newer).toBe(true);
  });

  // COPY's text format reads a backslash as an escape and a tab or newline as the end of a column or row: an owner
  // holding one must be written escaped, or its rows load under another name or not at all.
  it('copies owners and an uploader holding backslashes, tabs and newlines as they are', async () => {
    const odd = [`seed-${run}-back\\slash`, `seed-${run}-tab\there`, `seed-${run}-new\nline\r`];
    const uploads = `seed-${run}-up\\loads\t`;
    owners.push(...odd, uploads);
    const result = await seedFiles(pool, { count: 75, batchSize: 25, concurrency: 1, owners: odd, unmatchedNewest: 5, unmatchedOwner: uploads });
    expect(result.inserted).toBe(80);
    const { rows } = await pool.query<{ owner: string; name: string | null; n: number }>(
      'SELECT owner, min(owner_name) AS name, count(*)::int AS n FROM files WHERE owner = ANY($1) GROUP BY owner',
      [[...odd, uploads]],
    );
    expect(rows.map((r) => r.owner).sort()).toEqual([...odd, uploads].sort());
    expect(rows.reduce((sum, r) => sum + r.n, 0)).toBe(80);
    expect(rows.find((r) => r.owner === odd[0])?.name).toBe(`Seed-${run}-back\\slash`);
  });
});
