// The ingest hot path as three SQL statements (claim, prepare, commit), one round trip each, on the pool under
// Prisma: the query compiler and interactive-transaction round trips cost more CPU than the work itself (bench/).
import { randomUUID } from 'node:crypto';
import { poolOf, type Db } from '../records/database.js';
import type { FileJob } from '../db/generated/client.js';
import type { FileMetadata } from '../../contract/files.js';
import { INGEST_JOB_COLUMNS, fileJobFromRow, type FileJobRow } from '../records/file-job-rows.js';
import { FINAL_JOB_STATES } from '../../contract/jobs.js';
import { MAINTENANCE_SHARED_LOCK_SQL } from './maintenance-lock.js';

const FINAL = FINAL_JOB_STATES.map((s) => `'${s}'`).join(', ');

/**
 * Moves a non-final job to `hashing` (attempts + 1) and returns its row, or null when the job is already final
 * or does not exist (the caller tells the two apart).
 */
export async function claimFileJob(db: Db, id: string): Promise<FileJob | null> {
  const { rows: [row] } = await poolOf(db).query<FileJobRow>(
    `UPDATE file_jobs SET state = 'hashing', progress = 10, attempts = attempts + 1, updated_at = now()
     WHERE id = $1 AND state NOT IN (${FINAL})
     RETURNING ${INGEST_JOB_COLUMNS}`,
    [id],
  );
  return row ? fileJobFromRow(row) : null;
}

/** What the blob store should do with bytes that are already there (decided from the blob's row). */
export type ExistingBlobPolicy = 'reuse' | 'replace';

export type PreparedCommit =
  | { kind: 'final' }
  | { kind: 'file-id-taken' }
  /** Garbage collection is removing these bytes right now: nothing was written; retry once it is done. */
  | { kind: 'blob-in-gc' }
  | { kind: 'ready'; wal: { id: bigint; startedAt: Date; status: string }; existingBlob: ExistingBlobPolicy };

/**
 * One statement: the job moves to `committing` with its sha256 and its WAL entry exists `pending` (created now, or
 * the one an earlier run of the job left). Nothing is written when the job is final, when its file id belongs
 * to a file already (a client-chosen id taken by a concurrent upload: the attr.json must not be overwritten), or
 * when garbage collection has started on the blob.
 *
 * The pending entry pins the blob: GC marks a blob only while no pending file_create entry names it, and both
 * sides take the blob row's lock (FOR SHARE here, FOR UPDATE in GC), so either GC marked first and this job
 * retries, or this entry exists before GC looks. Bytes found in the store from then on stay until the commit.
 */
export async function prepareIngestCommit(
  db: Db,
  job: Pick<FileJob, 'id' | 'fileId' | 'principal'>,
  sha256: string,
  operation: string,
  payload: Record<string, unknown>,
): Promise<PreparedCommit> {
  const { rows: [row] } = await poolOf(db).query<{
    advanced: boolean; taken: boolean; wal_id: string | null; started_at: Date | null; status: string | null;
    blob_row: boolean; blob_in_gc: boolean; blob_healthy: boolean;
  }>(
    `WITH taken AS (SELECT EXISTS (SELECT 1 FROM files WHERE id = $2) AS taken),
    blob AS (SELECT gc_started_at, corrupt_at FROM blobs WHERE sha256 = $3 FOR SHARE),
    job AS (
      UPDATE file_jobs SET state = 'committing', progress = 50, sha256 = $3, updated_at = now()
      WHERE id = $1 AND state NOT IN (${FINAL}) AND NOT (SELECT taken FROM taken)
        AND NOT EXISTS (SELECT 1 FROM blob WHERE gc_started_at IS NOT NULL)
      RETURNING id
    ),
    ins AS (
      INSERT INTO wal_entries (tx_id, operation, status, file_id, job_id, actor, payload)
      SELECT $4::uuid, $5::text, 'pending', $2::uuid, $1::uuid, $6::text, $7::jsonb FROM job
      ON CONFLICT (job_id, operation) DO NOTHING
      RETURNING id, started_at, status
    ),
    earlier AS (SELECT id, started_at, status FROM wal_entries WHERE job_id = $1 AND operation = $5)
    SELECT EXISTS (SELECT 1 FROM job) AS advanced, (SELECT taken FROM taken) AS taken,
      COALESCE((SELECT id FROM ins), (SELECT id FROM earlier)) AS wal_id,
      COALESCE((SELECT started_at FROM ins), (SELECT started_at FROM earlier)) AS started_at,
      COALESCE((SELECT status FROM ins), (SELECT status FROM earlier)) AS status,
      EXISTS (SELECT 1 FROM blob) AS blob_row,
      EXISTS (SELECT 1 FROM blob WHERE gc_started_at IS NOT NULL) AS blob_in_gc,
      EXISTS (SELECT 1 FROM blob WHERE gc_started_at IS NULL AND corrupt_at IS NULL) AS blob_healthy`,
    [job.id, job.fileId, sha256, randomUUID(), operation, job.principal, JSON.stringify(payload)],
  );
  if (row!.taken) {
    // The file may be this very job's, committed by a concurrent run: then the job is final, not in conflict.
    return row!.status === 'committed' ? { kind: 'final' } : { kind: 'file-id-taken' };
  }
  if (row!.blob_in_gc && !row!.advanced) return row!.status === 'committed' ? { kind: 'final' } : { kind: 'blob-in-gc' };
  if (!row!.advanced || row!.wal_id === null) return { kind: 'final' };
  // Bytes without a row (an orphan of unknown provenance) or marked corrupt by the scrub are replaced by this
  // job's verified staged copy; bytes a healthy row vouches for are reused after a size check.
  const existingBlob: ExistingBlobPolicy = row!.blob_healthy ? 'reuse' : 'replace';
  return { kind: 'ready', wal: { id: BigInt(row!.wal_id), startedAt: row!.started_at!, status: row!.status! }, existingBlob };
}

export type CommitResult =
  | { kind: 'committed'; state: 'committed' | 'duplicate'; duplicateOf: string | null }
  /** A concurrent run of the same job committed (or failed) it first. */
  | { kind: 'lost' }
  /** Garbage collection is removing the blob right now: nothing was written; retry later. */
  | { kind: 'blob-in-gc' }
  /** Another file holds this id (a client-chosen id raced): nothing was written. */
  | { kind: 'file-id-taken' };

/**
 * The commit, atomically in one statement: the maintenance lock shared (a full rebuild is not recounting
 * references), WAL entry still pending (row lock), blob referenced (created or refCount + 1, unless GC is removing
 * it; a corrupt mark cleared when this job replaced the bytes with its verified copy), file row inserted, WAL
 * entry committed, job final. Each step depends on the one before, so either all of it happens or none.
 */
export async function commitIngest(
  db: Db,
  jobId: string,
  walId: bigint,
  meta: FileMetadata,
  attrPath: string,
  storageKey: string,
  blobRepaired = false,
): Promise<CommitResult> {
  const result = await poolOf(db).query<{ locked: boolean; referenced: boolean; state: string | null; duplicate_of: string | null }>(
    `WITH maintenance AS (${MAINTENANCE_SHARED_LOCK_SQL}),
    wal AS (
      SELECT w.id, w.started_at FROM wal_entries w, maintenance WHERE w.id = $1::bigint AND w.status = 'pending' FOR UPDATE OF w
    ),
    existing AS (
      SELECT id FROM files WHERE sha256 = $2::bpchar AND deleted_at IS NULL ORDER BY created_at, id LIMIT 1
    ),
    blob AS (
      INSERT INTO blobs (sha256, size, storage_key, ref_count, created_at)
      SELECT $2::bpchar, $3::bigint, $4::text, 1, now() FROM wal
      ON CONFLICT (sha256) DO UPDATE SET ref_count = blobs.ref_count + 1, orphaned_at = NULL,
        corrupt_at = CASE WHEN $20::boolean THEN NULL ELSE blobs.corrupt_at END,
        corrupt_reason = CASE WHEN $20::boolean THEN NULL ELSE blobs.corrupt_reason END,
        last_verified_at = CASE WHEN $20::boolean THEN now() ELSE blobs.last_verified_at END
      WHERE blobs.gc_started_at IS NULL
      RETURNING sha256
    ),
    file AS (
      INSERT INTO files (id, file_name, content_type, size, sha256, description, version, tags, metadata, owner, owner_name,
        element_id, created_at, updated_at, revision, attr_path)
      SELECT $5::uuid, $6::text, $7::text, $3::bigint, $2::bpchar, $8::text, $9::text, $10::text[], $11::jsonb, $12::text, $13::text,
        $14::text, $15::timestamptz, $16::timestamptz, $17::int, $18::text
      FROM blob
      RETURNING id
    ),
    wal_done AS (
      UPDATE wal_entries w SET status = 'committed', completed_at = now(),
        duration_ms = (extract(epoch FROM now() - wal.started_at) * 1000)::int
      FROM wal WHERE w.id = wal.id AND EXISTS (SELECT 1 FROM file)
      RETURNING w.id
    ),
    job AS (
      UPDATE file_jobs SET
        state = CASE WHEN EXISTS (SELECT 1 FROM existing) THEN 'duplicate' ELSE 'committed' END,
        progress = 100, duplicate_of = (SELECT id FROM existing), error_code = NULL,
        error_message = NULL, finished_at = now(), updated_at = now()
      WHERE id = $19 AND EXISTS (SELECT 1 FROM wal_done)
      RETURNING state, duplicate_of
    )
    SELECT EXISTS (SELECT 1 FROM wal) AS locked, EXISTS (SELECT 1 FROM blob) AS referenced,
      (SELECT state FROM job) AS state, (SELECT duplicate_of FROM job) AS duplicate_of`,
    [
      walId.toString(), meta.sha256, String(meta.size), storageKey, meta.id, meta.fileName, meta.contentType,
      meta.description, meta.version, meta.tags, JSON.stringify(meta.metadata), meta.owner, meta.ownerName,
      meta.elementId, meta.createdAt, meta.updatedAt, meta.revision, attrPath, jobId, blobRepaired,
    ],
  ).catch((err: unknown) => {
    // unique_violation on files.id: the whole statement rolled back.
    if ((err as { code?: string }).code === '23505' && (err as { constraint?: string }).constraint === 'files_pkey') return null;
    throw err;
  });
  if (result === null) return { kind: 'file-id-taken' };
  const [row] = result.rows;
  if (!row!.locked) return { kind: 'lost' };
  if (!row!.referenced) return { kind: 'blob-in-gc' };
  if (row!.state !== 'committed' && row!.state !== 'duplicate') {
    // Every step after the blob depends only on the rows before it: this cannot happen short of a schema change.
    throw new Error(`ingest commit of job ${jobId} wrote the blob reference but not the job (state ${String(row!.state)})`);
  }
  return { kind: 'committed', state: row!.state, duplicateOf: row!.duplicate_of };
}
