// npm run seed:files -- --count 1000000: inserts plausible File rows (and their Blob rows) fast, for search at scale.
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfigOrExit } from '../src/shared/config.js';
import { databaseNameOf } from '../src/shared/records/database-url.js';
import { withIndexesBuiltAfter } from './bulk-indexes.js';
import { copyIn } from './pg-copy-in.js';
import { BLOB_COLUMNS, blobLines, FILE_COLUMNS, fileLines, OWNERS, unmatchedFileLines, type RowSpace } from './seed-rows.js';

const USAGE =
  'usage: npm run seed:files -- --count N [--batch 50000] [--concurrency N (default: cores, at most 4)] [--element-id ID] [--defer-indexes (a database nobody else uses)]';

export interface SeedOptions {
  count: number;
  /** Rows per COPY (one transaction each, with their blobs). */
  batchSize?: number;
  /** Batches in flight at once, each on its own connection. */
  concurrency?: number;
  owners?: readonly string[];
  elementId?: string;
  onProgress?: (inserted: number, count: number) => void;
  /**
   * Drop the secondary indexes of files while inserting, build them afterwards and VACUUM ANALYZE both tables: 1.2-1.6x
   * faster at 1,000,000 rows, but only for a database nobody else is using (the bench's own, a fresh one).
   */
  deferIndexes?: boolean;
  /**
   * Files to add after the seeded ones, newer than all of them and like the bench's other scenarios' uploads
   * (seed-rows.ts unmatchedFileLines): the newest rows of a full bench run, which no search of the bench matches.
   */
  unmatchedNewest?: number;
  /** The owner of those files (default "bench-upload"). */
  unmatchedOwner?: string;
}

export interface SeedResult {
  inserted: number;
  seconds: number;
  rowsPerSecond: number;
}

/** Inserts options.count files and their blobs into the database of the pool: COPY in parallel batches. */
export async function seedFiles(pool: pg.Pool, options: SeedOptions): Promise<SeedResult> {
  const batchSize = options.batchSize ?? 50_000;
  const concurrency = Math.max(1, options.concurrency ?? 2);
  // A multiple of 25 keeps each reused blob in the same batch as the file that first refers to it.
  const step = Math.max(25, Math.ceil(batchSize / 25) * 25);
  const space: RowSpace = {
    salt: randomBytes(4).readUInt32LE(0),
    saltText: randomBytes(8).toString('hex'),
    count: options.count,
    now: Date.now(),
    owners: options.owners ?? OWNERS,
    elementId: options.elementId ?? 'se-01',
  };
  const started = process.hrtime.bigint();
  let next = 0;
  let inserted = 0;

  const inTransaction = async (work: (client: pg.PoolClient) => Promise<number>) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const rows = await work(client);
      await client.query('COMMIT');
      inserted += rows;
      options.onProgress?.(inserted, options.count);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  };
  const lane = async () => {
    while (next < options.count) {
      const from = next;
      next = Math.min(options.count, next + step);
      const to = next;
      await inTransaction(async (client) => {
        await copyIn(client, BLOB_COLUMNS, blobLines(space, from, to));
        return copyIn(client, FILE_COLUMNS, fileLines(space, from, to));
      });
    }
  };
  const unmatched = async () => {
    const count = options.unmatchedNewest ?? 0;
    if (count === 0) return;
    const sha = createHash('sha256').update(`${space.saltText}:unmatched`).digest('hex');
    await inTransaction(async (client) => {
      await client.query('INSERT INTO blobs (sha256, size, storage_key, ref_count) VALUES ($1, 16384, $2, $3)', [sha, `blobs/${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}`, count]);
      return copyIn(client, FILE_COLUMNS, unmatchedFileLines(space, sha, count, options.unmatchedOwner ?? 'bench-upload'));
    });
  };
  const load = async () => {
    await Promise.all(Array.from({ length: concurrency }, lane));
    await unmatched();
  };
  // Only files' indexes: blobs has one small one, and the worker's orphan sweep, running meanwhile, needs it.
  if (options.deferIndexes) await withIndexesBuiltAfter(pool, 'files', load, concurrency);
  else await load();
  if (options.deferIndexes) await pool.query('VACUUM (ANALYZE) blobs');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { inserted, seconds, rowsPerSecond: inserted / Math.max(seconds, 1e-9) };
}

/** Removes files of these owners and the blobs no other file refers to (for tests that seed into a shared database). */
export async function removeSeededFiles(pool: pg.Pool, owners: readonly string[]): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const gone = await client.query<{ sha256: string }>('DELETE FROM files WHERE owner = ANY($1::text[]) RETURNING sha256', [owners]);
    const shas = [...new Set(gone.rows.map((r) => r.sha256))];
    await client.query(
      'DELETE FROM blobs b WHERE b.sha256 = ANY($1::bpchar[]) AND NOT EXISTS (SELECT 1 FROM files f WHERE f.sha256 = b.sha256)',
      [shas],
    );
    await client.query('COMMIT');
    return gone.rowCount ?? 0;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

function fail(message: string): never {
  process.stderr.write(`seed-files: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        count: { type: 'string' },
        batch: { type: 'string', default: '50000' },
        concurrency: { type: 'string', default: String(Math.min(4, os.availableParallelism())) },
        'element-id': { type: 'string' },
        'defer-indexes': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const positive = (name: string, raw: string | undefined): number => {
    if (raw === undefined || !/^\d+$/.test(raw) || Number(raw) < 1) fail(`--${name} must be a positive integer`);
    return Number(raw);
  };
  const count = positive('count', values.count);
  const batchSize = positive('batch', values.batch);
  const concurrency = positive('concurrency', values.concurrency);
  const config = loadConfigOrExit();
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: concurrency });
  const database = databaseNameOf(config.databaseUrl);
  process.stdout.write(`seed-files: inserting ${count} files into ${database} (batches of ${batchSize}, ${concurrency} at once)\n`);
  const started = Date.now();
  let lastReport = 0;
  try {
    const result = await seedFiles(pool, {
      count,
      batchSize,
      concurrency,
      elementId: values['element-id'] ?? config.elementId,
      deferIndexes: values['defer-indexes'],
      onProgress: (done, total) => {
        const now = Date.now();
        if (done < total && now - lastReport < 1_000) return;
        lastReport = now;
        const rate = Math.round(done / Math.max((now - started) / 1000, 0.001));
        process.stdout.write(`seed-files: ${done}/${total} (${Math.round((done / total) * 100)}%), ${rate} rows/s\n`);
      },
    });
    await pool.query('ANALYZE files');
    await pool.query('ANALYZE blobs');
    process.stdout.write(
      `seed-files: inserted ${result.inserted} files in ${result.seconds.toFixed(1)} s (${Math.round(result.rowsPerSecond)} rows/s); analyzed\n`,
    );
  } finally {
    await pool.end();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main().catch((err: unknown) => {
    const e = err as { code?: string; message?: string };
    const hint = e.code === 'ECONNREFUSED' ? ' (is PostgreSQL running? try scripts/ensure-services.sh)' : '';
    process.stderr.write(`seed-files: ${e.message ?? String(err)}${hint}\n`);
    process.exit(1);
  });
}
