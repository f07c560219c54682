// What must hold between blob store, attr.json files, staging and database once everything has settled: the orphan
// audit the fault suite, the crash tests and the batch tests share (plain SQL, so it runs against any test database).
import fs from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import type { Config } from '../../src/shared/config.js';
import { filesUnder } from './wait.js';

export interface Orphans {
  /** Files left in STAGING_PATH. */
  staged: string[];
  /** `.tmp` files anywhere under STORAGE_PATH (blob copies, attr.json writes). */
  temp: string[];
  /** Blob files without a blobs row. */
  blobFilesWithoutRow: string[];
  /** blobs rows without their file. */
  blobRowsWithoutFile: string[];
  /** blobs rows whose ref_count differs from the live files pointing at them. */
  refCountWrong: string[];
  /** attr.json files without a files row, and files rows without their attr.json. */
  attrWithoutRow: string[];
  rowsWithoutAttr: string[];
  /** WAL entries still pending. */
  pendingWal: string[];
  /** files rows that no committed or duplicate job produced (a second copy of an upload, say). */
  filesWithoutJob: string[];
}

export const NO_ORPHANS: Orphans = {
  staged: [], temp: [], blobFilesWithoutRow: [], blobRowsWithoutFile: [], refCountWrong: [], attrWithoutRow: [], rowsWithoutAttr: [], pendingWal: [], filesWithoutJob: [],
};

export interface AuditTarget {
  config: Pick<Config, 'storagePath' | 'stagingPath'>;
  db: pg.Pool;
}

export async function findOrphans({ config, db }: AuditTarget): Promise<Orphans> {
  const { storagePath, stagingPath } = config;
  const staged = await fs.readdir(stagingPath).catch(() => [] as string[]);
  const stored = await filesUnder(storagePath);
  const temp = stored.filter((f) => f.endsWith('.tmp'));
  const blobFiles = stored.filter((f) => f.startsWith(path.join(storagePath, 'blobs') + path.sep) && !f.endsWith('.tmp'));
  const attrFiles = stored.filter((f) => f.endsWith('.attr.json'));
  const { rows: blobs } = await db.query<{ sha256: string; ref_count: number; live: string }>(
    `SELECT b.sha256, b.ref_count, (SELECT count(*) FROM files f WHERE f.sha256 = b.sha256 AND f.deleted_at IS NULL) AS live FROM blobs b`,
  );
  const { rows: files } = await db.query<{ id: string; attr_path: string }>(`SELECT id, attr_path FROM files`);
  const { rows: pending } = await db.query<{ id: string; operation: string; job_id: string | null }>(
    `SELECT id, operation, job_id FROM wal_entries WHERE status = 'pending'`,
  );
  const { rows: strays } = await db.query<{ id: string }>(
    `SELECT f.id FROM files f WHERE NOT EXISTS (SELECT 1 FROM file_jobs j WHERE j.file_id = f.id AND j.state IN ('committed', 'duplicate'))`,
  );
  const blobNames = new Set(blobFiles.map((f) => path.basename(f)));
  const blobRows = new Set(blobs.map((b) => b.sha256.trim()));
  const attrSet = new Set(attrFiles.map((f) => path.relative(storagePath, f)));
  const attrRows = new Set(files.map((f) => f.attr_path));
  return {
    staged,
    temp: temp.map((f) => path.relative(storagePath, f)),
    blobFilesWithoutRow: [...blobNames].filter((s) => !blobRows.has(s)),
    blobRowsWithoutFile: [...blobRows].filter((s) => !blobNames.has(s)),
    refCountWrong: blobs.filter((b) => b.ref_count !== Number(b.live)).map((b) => `${b.sha256.trim()} ref_count=${b.ref_count} live=${b.live}`),
    attrWithoutRow: [...attrSet].filter((a) => !attrRows.has(a)),
    rowsWithoutAttr: files.filter((f) => !attrSet.has(f.attr_path)).map((f) => f.id),
    pendingWal: pending.map((w) => `${w.id}:${w.operation}:${w.job_id}`),
    filesWithoutJob: strays.map((f) => f.id),
  };
}

export const countOrphans = (o: Orphans) => Object.values(o).reduce((n, list: string[]) => n + list.length, 0);
