// The files and blobs writes that commits make, beside the WAL protocol (wal.ts) they are part of: the ingest's
// prepare and commit as one SQL statement each on the pool under Prisma (the query compiler and interactive-
// transaction round trips cost more CPU than the work itself: bench/), an update's guarded patch of the file row,
// and a delete's soft delete and blob reference release.
import { randomUUID } from 'node:crypto';
import type { File } from '../db/generated/client.js';
import type { FileMetadata } from '../../contract/files.js';
import { isUniqueViolation, poolOf, type Db, type Prisma } from './database.js';
import { createFileJob, FINAL_STATES_SQL, type FileJob } from './file-jobs.js';
import { MAINTENANCE_SHARED_LOCK_SQL } from './maintenance-lock.js';
import { WAL_SQL, type WalOperation } from './wal.js';
import type { AuditEventInput } from './audit-record.js';
import { inAuditedTransaction } from './audit-transaction.js';
import { appendAuditEvents } from './audit-events.js';
import { ingestEventsOf } from './audit-job-events.js';

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
  operation: WalOperation,
  payload: Record<string, unknown>,
): Promise<PreparedCommit> {
  const { rows: [row] } = await poolOf(db).query<PrepareRow>(
    `WITH taken AS (SELECT EXISTS (SELECT 1 FROM files WHERE id = $2) AS taken),
    blob AS (SELECT gc_started_at, corrupt_at FROM blobs WHERE sha256 = $3 FOR SHARE),
    job AS (
      UPDATE file_jobs SET state = 'committing', progress = 50, sha256 = $3, updated_at = now()
      WHERE id = $1 AND state NOT IN (${FINAL_STATES_SQL}) AND NOT (SELECT taken FROM taken)
        AND NOT EXISTS (SELECT 1 FROM blob WHERE gc_started_at IS NOT NULL)
      RETURNING id
    ),
    ins AS (${WAL_SQL.insertPending('job', {
      txId: '$4::uuid', operation: '$5::text', fileId: '$2::uuid', jobId: '$1::uuid', actor: '$6::text', payload: '$7::jsonb',
    })}),
    earlier AS (${WAL_SQL.entryOfJob('$1', '$5')})
    SELECT EXISTS (SELECT 1 FROM job) AS advanced, (SELECT taken FROM taken) AS taken,
      COALESCE((SELECT id FROM ins), (SELECT id FROM earlier)) AS wal_id,
      COALESCE((SELECT started_at FROM ins), (SELECT started_at FROM earlier)) AS started_at,
      COALESCE((SELECT status FROM ins), (SELECT status FROM earlier)) AS status,
      EXISTS (SELECT 1 FROM blob) AS blob_row,
      EXISTS (SELECT 1 FROM blob WHERE gc_started_at IS NOT NULL) AS blob_in_gc,
      EXISTS (SELECT 1 FROM blob WHERE gc_started_at IS NULL AND corrupt_at IS NULL) AS blob_healthy`,
    [job.id, job.fileId, sha256, randomUUID(), operation, job.principal, JSON.stringify(payload)],
  );
  return preparedFromRow(row!);
}

/** What a prepare statement (one job, or one row of a batch) answers about a job. */
export interface PrepareRow {
  advanced: boolean;
  taken: boolean;
  wal_id: string | null;
  started_at: Date | null;
  status: string | null;
  blob_row: boolean;
  blob_in_gc: boolean;
  blob_healthy: boolean;
}

/** The decision a prepare row means (shared by the one-job statement and the batch statement). */
export function preparedFromRow(row: PrepareRow): PreparedCommit {
  if (row.taken) {
    // The file may be this very job's, committed by a concurrent run: then the job is final, not in conflict.
    return row.status === 'committed' ? { kind: 'final' } : { kind: 'file-id-taken' };
  }
  if (row.blob_in_gc && !row.advanced) return row.status === 'committed' ? { kind: 'final' } : { kind: 'blob-in-gc' };
  if (!row.advanced || row.wal_id === null) return { kind: 'final' };
  // Bytes without a row (an orphan of unknown provenance) or marked corrupt by the scrub are replaced by this
  // job's verified staged copy; bytes a healthy row vouches for are reused after a size check.
  const existingBlob: ExistingBlobPolicy = row.blob_healthy ? 'reuse' : 'replace';
  return { kind: 'ready', wal: { id: BigInt(row.wal_id), startedAt: row.started_at!, status: row.status! }, existingBlob };
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
  /** Audit trail (issue 17): the ingest event this commit records; appended in its transaction when it commits. */
  audit?: AuditEventInput,
): Promise<CommitResult> {
  // Audit trail hook (issue 17): the statement runs in a transaction that appends the job's event when it committed.
  const result = await inAuditedTransaction(db, (client) => client.query<CommitRow>(
    `WITH maintenance AS (${MAINTENANCE_SHARED_LOCK_SQL}),
    wal AS (${WAL_SQL.lockPending('$1::bigint', 'maintenance')}),
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
        element_id, created_at, updated_at, revision, attr_path, retention_policy, expires_at, retain_until, retention_mode, legal_hold)
      SELECT $5::uuid, $6::text, $7::text, $3::bigint, $2::bpchar, $8::text, $9::text, $10::text[], $11::jsonb, $12::text, $13::text,
        $14::text, $15::timestamptz, $16::timestamptz, $17::int, $18::text, $21::text, $22::timestamptz, $23::timestamptz,
        $24::text, $25::boolean
      FROM blob
      RETURNING id
    ),
    wal_done AS (${WAL_SQL.markCommitted('wal', 'EXISTS (SELECT 1 FROM file)')}),
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
      meta.retentionPolicy, meta.expiresAt, meta.retainUntil, meta.retentionMode, meta.legalHold,
    ],
  ), (r) => (audit ? ingestEventsOf([audit], [commitResultFromRow(jobId, r.rows[0]!)]) : [])).catch((err: unknown) => {
    // unique_violation on files.id: the whole statement rolled back.
    if (isUniqueViolation(err, 'files_pkey')) return null;
    throw err;
  });
  if (result === null) return { kind: 'file-id-taken' };
  return commitResultFromRow(jobId, result.rows[0]!);
}

/** What a commit statement (one job, or one row of a batch) answers about a job. */
export interface CommitRow {
  locked: boolean;
  referenced: boolean;
  state: string | null;
  duplicate_of: string | null;
}

export function commitResultFromRow(jobId: string, row: CommitRow): CommitResult {
  if (!row.locked) return { kind: 'lost' };
  if (!row.referenced) return { kind: 'blob-in-gc' };
  if (row.state !== 'committed' && row.state !== 'duplicate') {
    // Every step after the blob depends only on the rows before it: this cannot happen short of a schema change.
    throw new Error(`ingest commit of job ${jobId} wrote the blob reference but not the job (state ${String(row.state)})`);
  }
  return { kind: 'committed', state: row.state, duplicateOf: row.duplicate_of };
}

/** Inside an update's commit: the patched fields and revision written, only while the row is still at `from`. */
export async function patchFileAtRevision(
  tx: Prisma.TransactionClient,
  from: Pick<File, 'id' | 'revision'>,
  next: Pick<FileMetadata, 'description' | 'version' | 'tags' | 'metadata' | 'revision' | 'updatedAt' | 'retainUntil' | 'retentionMode' | 'legalHold'>,
): Promise<boolean> {
  const changed = await tx.$executeRaw`
    UPDATE files SET description = ${next.description}, version = ${next.version}, tags = ${next.tags},
      metadata = ${JSON.stringify(next.metadata)}::jsonb, revision = ${next.revision}, updated_at = ${new Date(next.updatedAt)},
      retain_until = ${next.retainUntil}::timestamptz, retention_mode = ${next.retentionMode}, legal_hold = ${next.legalHold}
    WHERE id = ${from.id}::uuid AND revision = ${from.revision} AND deleted_at IS NULL`;
  return changed === 1;
}

/**
 * Inside a delete's commit: the blob's reference count released (orphaned from now when it reaches 0). False when
 * the blob has no row.
 */
export async function releaseBlobReference(tx: Prisma.TransactionClient, sha256: string): Promise<boolean> {
  const rows = await tx.$queryRaw<unknown[]>`
    UPDATE blobs SET ref_count = GREATEST(ref_count - 1, 0),
      orphaned_at = CASE WHEN ref_count - 1 <= 0 THEN now() ELSE orphaned_at END
    WHERE sha256 = ${sha256} RETURNING ref_count, orphaned_at`;
  return rows.length > 0;
}

type DeletedFile = Pick<File, 'id' | 'fileName' | 'contentType' | 'size' | 'sha256' | 'legalHold' | 'retainUntil'>;

/**
 * In one transaction: hides a live file from readers at once (deleted_at) and records the job that finishes the
 * deletion (jobOf builds it from the file). Null, with nothing changed, when there is no such live file. jobOf
 * may refuse by throwing (a retention, domain/retention-rules.ts): the row is locked from the UPDATE on, so what it
 * sees cannot change before the rollback or the commit.
 */
export async function softDeleteFileWithJob(
  db: Db,
  fileId: string,
  jobOf: (file: DeletedFile) => Prisma.FileJobUncheckedCreateInput,
  /** Audit trail (issue 17): the delete event, appended in the same transaction. */
  eventOf?: (file: DeletedFile, job: FileJob) => AuditEventInput,
): Promise<FileJob | null> {
  return db.$transaction(async (tx) => {
    const [file] = await tx.$queryRaw<DeletedFile[]>`
      UPDATE files SET deleted_at = now(), updated_at = now()
      WHERE id = ${fileId}::uuid AND deleted_at IS NULL
      RETURNING id, file_name AS "fileName", content_type AS "contentType", size, sha256, legal_hold AS "legalHold",
        retain_until AS "retainUntil"`;
    if (!file) return null;
    const job = await createFileJob(tx, jobOf(file));
    if (eventOf) await appendAuditEvents(tx, [eventOf(file, job)]);
    return job;
  });
}
