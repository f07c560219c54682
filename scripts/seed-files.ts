// npm run seed:files -- --count 1000000: inserts plausible File rows (and their Blob rows) fast, for search at scale.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfigOrExit } from '../src/shared/config.js';
import { withIndexesBuiltAfter } from './bulk-indexes.js';

const USAGE =
  'usage: npm run seed:files -- --count N [--batch 20000] [--concurrency N (default: cores, at most 4)] [--element-id ID] [--defer-indexes (a database nobody else uses)]';

const WORDS = [
  'annual', 'report', 'invoice', 'contract', 'budget', 'scan', 'photo', 'meeting', 'minutes', 'draft', 'final',
  'summary', 'archive', 'letter', 'plan', 'design', 'spec', 'memo', 'receipt', 'statement', 'proposal', 'catalogue',
  'inventory', 'portrait', 'landscape', 'sketch', 'manuscript', 'map', 'diagram', 'ledger', 'exhibition', 'loan',
  'restoration', 'condition', 'provenance', 'insurance', 'shipping', 'frame', 'canvas', 'bronze', 'ceramic', 'print',
  'etching', 'fresco', 'tapestry', 'gallery', 'museum', 'auction', 'appraisal', 'donation', 'acquisition', 'label',
  'poster', 'brochure', 'press', 'release', 'audit', 'payroll', 'schedule',
];
const TAGS = [
  'finance', 'legal', 'hr', 'press', 'archive', 'draft', 'final', 'scan', 'photo', 'confidential', 'public', 'museum',
  'restoration', 'loan', 'exhibition', 'insurance', 'q1', 'q2', 'q3', 'q4', '2024', '2025', '2026', 'catalogue',
  'conservation', 'acquisition', 'shipping', 'board', 'grant', 'education',
];
// [content type, extension]; repeats weight the mix towards PDFs and images, as an archive's would be.
const TYPES: Array<[string, string]> = [
  ['application/pdf', 'pdf'], ['application/pdf', 'pdf'], ['application/pdf', 'pdf'], ['image/jpeg', 'jpg'],
  ['image/jpeg', 'jpg'], ['image/png', 'png'], ['image/tiff', 'tif'], ['text/plain', 'txt'], ['text/csv', 'csv'],
  ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'xlsx'],
  ['application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'docx'], ['application/zip', 'zip'],
  ['video/mp4', 'mp4'], ['audio/mpeg', 'mp3'],
];
const OWNERS = [
  'alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj', 'olivia',
  'peggy', 'rupert', 'sybil', 'trent', 'victor', 'walter', 'wendy', 'svc-scanner', 'svc-import', 'svc-migration',
  'curator-1', 'curator-2', 'registrar', 'photographer', 'conservator', 'archivist', 'press-office',
];

export interface SeedOptions {
  count: number;
  /** Rows per INSERT statement (one transaction each). */
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
}

export interface SeedResult {
  inserted: number;
  seconds: number;
  rowsPerSecond: number;
}

// Every column derives from the row number i (and a salt per run, so runs never collide) through hashes, so the blob
// and file statements agree without passing rows around. One in 25 files reuses the previous file's blob (dedup),
// and size belongs to the blob's row number b, so both rows agree on it.
// $1 first i, $2 last i (exclusive), $3 salt; FILES_SQL also $4 words, $5 tags, $6 types, $7 extensions, $8 owners,
// $9 element id, $10 count.
const ROWS = `
  SELECT i,
    CASE WHEN i % 25 = 24 THEN i - 1 ELSE i END AS b,
    hashint8extended(i, 1) & 9223372036854775807 AS h1,
    hashint8extended(i, 2) & 9223372036854775807 AS h2,
    hashint8extended(i, 3) & 9223372036854775807 AS h3,
    md5($3::text || ':file:' || i) AS idh
  FROM generate_series($1::bigint, $2::bigint - 1) AS i`;

const SHA_OF = (b: string) => `encode(sha256(convert_to($3::text || ':blob:' || ${b}, 'UTF8')), 'hex')`;
// 10 bytes to 1 GB, evenly spread over the orders of magnitude.
const SIZE_OF = (b: string) => `floor(power(10, 1 + ((hashint8extended(${b}, 4) & 1048575) / 1048576.0) * 8))::bigint`;
// Element of a text[] picked by a non-negative bigint.
const PICK = (arr: string, h: string) => `${arr}[1 + (${h} % cardinality(${arr}))::int]`;

const BLOBS_SQL = `
  INSERT INTO blobs (sha256, size, storage_key, ref_count)
  SELECT s.sha, ${SIZE_OF('r.i')}, 'blobs/' || substr(s.sha, 1, 2) || '/' || substr(s.sha, 3, 2) || '/' || s.sha,
         CASE WHEN r.i % 25 = 23 THEN 2 ELSE 1 END
  FROM (${ROWS}) r, LATERAL (SELECT ${SHA_OF('r.i')} AS sha) s
  WHERE r.i % 25 <> 24`;

const FILES_SQL = `
  INSERT INTO files (id, file_name, content_type, size, sha256, description, version, tags, metadata, owner,
                     owner_name, element_id, created_at, updated_at, revision, attr_path)
  SELECT u.id, x.file_name, x.content_type, ${SIZE_OF('x.b')}, ${SHA_OF('x.b')}, x.description, x.version, x.tags,
         '{"source": "seed"}'::jsonb, x.owner, initcap(x.owner), $9::text, x.created_at, x.created_at, 1,
         'files/' || to_char(x.created_at AT TIME ZONE 'UTC', 'YYYY/MM/DD/HH24') || '/' || u.id || '.attr.json'
  FROM (
    SELECT r.b, r.idh,
      initcap(${PICK('p.words', 'r.h1')}) || '-' || ${PICK('p.words', '(r.h1 >> 16)')} || '_' || (r.h2 % 10000)::text
        || '.' || ${PICK('p.exts', 'r.h3')} AS file_name,
      ${PICK('p.types', 'r.h3')} AS content_type,
      CASE WHEN (r.h2 >> 20) % 10 < 3 THEN NULL
           ELSE 'Scanned ' || ${PICK('p.words', '(r.h2 >> 8)')} || ' for the ' || ${PICK('p.words', '(r.h3 >> 8)')}
                || ' file, batch ' || (r.i / 1000)::text END AS description,
      CASE WHEN (r.h3 >> 24) % 5 = 0 THEN '1.' || ((r.h3 >> 28) % 5)::text END AS version,
      (CASE (r.h1 >> 24) % 4
        WHEN 0 THEN ARRAY[]::text[]
        WHEN 1 THEN ARRAY[${PICK('p.tags', '(r.h1 >> 32)')}]
        WHEN 2 THEN ARRAY[${PICK('p.tags', '(r.h1 >> 32)')}, ${PICK('p.tags', '((r.h1 >> 32) + 1 + (r.h2 >> 32) % 7)')}]
        ELSE ARRAY[${PICK('p.tags', '(r.h1 >> 32)')}, ${PICK('p.tags', '((r.h1 >> 32) + 1 + (r.h2 >> 32) % 7)')},
                   ${PICK('p.tags', '((r.h1 >> 32) + 8 + (r.h3 >> 32) % 7)')}]
      END) AS tags,
      ${PICK('p.owners', '(r.h2 >> 40)')} AS owner,
      -- Spread over the last two years in row order, as an archive fills up (so the table is physically in upload
      -- order, which the planner's correlation statistics see), with jitter, to the millisecond of the column.
      date_trunc('milliseconds', now() - interval '730 days' * (1 - (r.i + ((r.h1 >> 8) % 1000) / 1000.0) / $10::bigint))
        AS created_at
    FROM (${ROWS}) r
    CROSS JOIN (SELECT $4::text[] AS words, $5::text[] AS tags, $6::text[] AS types, $7::text[] AS exts, $8::text[] AS owners) p
  ) x,
  -- UUIDv7 layout (creation millisecond first): the primary key index fills at its end, as a time-ordered id would,
  -- instead of touching a random page per row, which made it the slowest part of seeding at a million rows.
  LATERAL (SELECT (lpad(to_hex((extract(epoch FROM x.created_at) * 1000)::bigint), 12, '0') || '7'
                   || substr(x.idh, 14, 3) || '8' || substr(x.idh, 18, 15))::uuid AS id) u`;

/** Inserts options.count files and their blobs into the database of the pool, in parallel batches. */
export async function seedFiles(pool: pg.Pool, options: SeedOptions): Promise<SeedResult> {
  const batchSize = options.batchSize ?? 20_000;
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const owners = options.owners ?? OWNERS;
  const elementId = options.elementId ?? 'se-01';
  // A multiple of 25 keeps each reused blob in the same batch as the file that first refers to it.
  const step = Math.max(25, Math.ceil(batchSize / 25) * 25);
  const salt = randomBytes(8).toString('hex');
  const started = process.hrtime.bigint();
  let next = 0;
  let inserted = 0;

  const runBatch = async (from: number, to: number) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(BLOBS_SQL, [from, to, salt]);
      const result = await client.query(FILES_SQL, [from, to, salt, WORDS, TAGS, TYPES.map((t) => t[0]), TYPES.map((t) => t[1]), owners, elementId, options.count]);
      await client.query('COMMIT');
      inserted += result.rowCount ?? 0;
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
      await runBatch(from, next);
    }
  };
  const load = () => Promise.all(Array.from({ length: concurrency }, lane));
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
        batch: { type: 'string', default: '20000' },
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
  const database = new URL(config.databaseUrl).pathname.slice(1);
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
