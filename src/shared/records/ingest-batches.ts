// The batch flavour of the ingest statements (issue 12): one claim, one prepare and one commit statement for many
// jobs. They are planned at every call, never kept as prepared statements: a generic plan made while a table was
// still small (a new element) walks it whole for every row once it is large, and one plan per batch is cheap. Every
// keyed lookup also names its keys as an array (`= ANY(...)`), so the plan reaches rows by their index. Every row means exactly what the
// one-job statements of file-commits.ts mean for it (the same row mappings, the same WAL_SQL pieces); a statement
// that fails as a whole (a deadlock against a concurrent batch, a constraint) leaves the caller to run the
// one-job statements for its jobs.
import { randomUUID } from 'node:crypto';
import type { FileMetadata } from '../../contract/files.js';
import { poolOf, type Db } from './database.js';
import { FILE_JOB_COLUMNS, FINAL_STATES_SQL, fileJobFromRow, type FileJob, type FileJobRow } from './file-jobs.js';
import { commitResultFromRow, preparedFromRow, type CommitResult, type CommitRow, type PreparedCommit, type PrepareRow } from './file-commits.js';
import { MAINTENANCE_SHARED_LOCK_SQL } from './maintenance-lock.js';
import { WAL_SQL, type WalOperation } from './wal.js';
import type { AuditEventInput } from './audit-record.js';
import { ingestEventsOf } from './audit-job-events.js';
import { inAuditedTransaction } from './audit-transaction.js';

const CLAIM = {
  text: `UPDATE file_jobs SET state = 'hashing', progress = 10, attempts = attempts + 1, updated_at = now()
    WHERE id = ANY($1::uuid[]) AND state NOT IN (${FINAL_STATES_SQL})
    RETURNING ${FILE_JOB_COLUMNS}`,
};

/** claimFileJob for many jobs in one statement: the rows moved to `hashing`; final or missing ids are absent. */
export async function claimFileJobs(db: Db, ids: string[]): Promise<FileJob[]> {
  const { rows } = await poolOf(db).query<FileJobRow>({ ...CLAIM, values: [ids] });
  return rows.map(fileJobFromRow);
}

const PREPARE = {
  text: `WITH input AS (
      SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bpchar[], $4::uuid[], $5::text[], $6::jsonb[])
        AS i(job_id, file_id, sha256, tx_id, actor, payload)
    ),
    taken AS (SELECT i.job_id, EXISTS (SELECT 1 FROM files f WHERE f.id = i.file_id) AS taken FROM input i),
    blob AS (
      SELECT b.sha256, b.gc_started_at, b.corrupt_at FROM blobs b
      WHERE b.sha256 = ANY($3::bpchar[]) ORDER BY b.sha256 FOR SHARE
    ),
    job AS (
      UPDATE file_jobs j SET state = 'committing', progress = 50, sha256 = i.sha256, updated_at = now()
      FROM input i JOIN taken t ON t.job_id = i.job_id
      WHERE j.id = ANY($1::uuid[]) AND j.id = i.job_id AND j.state NOT IN (${FINAL_STATES_SQL}) AND NOT t.taken
        AND NOT EXISTS (SELECT 1 FROM blob b WHERE b.sha256 = i.sha256 AND b.gc_started_at IS NOT NULL)
      RETURNING j.id
    ),
    ins AS (${WAL_SQL.insertPending(
      'input i JOIN job ON job.id = i.job_id',
      { txId: 'i.tx_id', operation: '$7::text', fileId: 'i.file_id', jobId: 'i.job_id', actor: 'i.actor', payload: 'i.payload' },
      'job_id',
    )}),
    earlier AS (
      SELECT w.id, w.job_id, w.started_at, w.status FROM wal_entries w
      WHERE w.job_id = ANY($1::uuid[]) AND w.operation = $7::text
    )
    SELECT i.job_id, job.id IS NOT NULL AS advanced, t.taken,
      COALESCE(ins.id, e.id) AS wal_id, COALESCE(ins.started_at, e.started_at) AS started_at,
      COALESCE(ins.status, e.status) AS status, b.sha256 IS NOT NULL AS blob_row,
      COALESCE(b.gc_started_at IS NOT NULL, false) AS blob_in_gc,
      -- No row (the LEFT JOIN's NULLs) is not healthy: unvouched bytes are replaced, as the one-job statement does.
      (b.sha256 IS NOT NULL AND b.gc_started_at IS NULL AND b.corrupt_at IS NULL) AS blob_healthy
    FROM input i JOIN taken t ON t.job_id = i.job_id
      LEFT JOIN job ON job.id = i.job_id LEFT JOIN ins ON ins.job_id = i.job_id
      LEFT JOIN earlier e ON e.job_id = i.job_id LEFT JOIN blob b ON b.sha256 = i.sha256`,
};

export interface PrepareInput {
  job: Pick<FileJob, 'id' | 'fileId' | 'principal'>;
  sha256: string;
  payload: Record<string, unknown>;
}

/**
 * prepareIngestCommit for many jobs in one statement (distinct job ids), one decision per input in input order.
 * Blob rows are locked in sha256 order, so two batches sharing blobs take their locks in the same order.
 */
export async function prepareIngestCommits(db: Db, operation: WalOperation, inputs: PrepareInput[]): Promise<PreparedCommit[]> {
  const { rows } = await poolOf(db).query<PrepareRow & { job_id: string }>({
    ...PREPARE,
    values: [
      inputs.map((i) => i.job.id), inputs.map((i) => i.job.fileId), inputs.map((i) => i.sha256), inputs.map(() => randomUUID()),
      inputs.map((i) => i.job.principal), inputs.map((i) => JSON.stringify(i.payload)), operation,
    ],
  });
  const byJob = new Map(rows.map((r) => [r.job_id, r]));
  return inputs.map((i) => preparedFromRow(byJob.get(i.job.id)!));
}

const COMMIT = {
  text: `WITH maintenance AS (${MAINTENANCE_SHARED_LOCK_SQL}),
    input AS (
      SELECT * FROM jsonb_to_recordset($1::jsonb) AS i(job_id uuid, wal_id bigint, sha256 bpchar, size bigint,
        storage_key text, file_id uuid, file_name text, content_type text, description text, version text, tags jsonb,
        metadata jsonb, owner text, owner_name text, element_id text, created_at timestamptz, updated_at timestamptz,
        revision int, attr_path text, repaired boolean, retention_policy text, expires_at timestamptz,
        retain_until timestamptz, retention_mode text, legal_hold boolean)
    ),
    wal AS (
      SELECT w.id, w.started_at, w.job_id FROM wal_entries w, maintenance
      WHERE w.id = ANY($2::bigint[]) AND w.status = 'pending' ORDER BY w.id FOR UPDATE OF w
    ),
    locked AS (SELECT i.* FROM input i JOIN wal ON wal.id = i.wal_id),
    existing AS MATERIALIZED (
      SELECT l.job_id, (SELECT f.id FROM files f WHERE f.sha256 = l.sha256 AND f.deleted_at IS NULL
        ORDER BY f.created_at, f.id LIMIT 1) AS id
      FROM locked l
    ),
    blob AS (
      INSERT INTO blobs (sha256, size, storage_key, ref_count, created_at, last_verified_at)
      SELECT l.sha256, l.size, l.storage_key, 1, now(), CASE WHEN l.repaired THEN now() END FROM locked l ORDER BY l.sha256
      ON CONFLICT (sha256) DO UPDATE SET ref_count = blobs.ref_count + 1, orphaned_at = NULL,
        corrupt_at = CASE WHEN excluded.last_verified_at IS NOT NULL THEN NULL ELSE blobs.corrupt_at END,
        corrupt_reason = CASE WHEN excluded.last_verified_at IS NOT NULL THEN NULL ELSE blobs.corrupt_reason END,
        last_verified_at = COALESCE(excluded.last_verified_at, blobs.last_verified_at)
      WHERE blobs.gc_started_at IS NULL
      RETURNING sha256
    ),
    file AS (
      INSERT INTO files (id, file_name, content_type, size, sha256, description, version, tags, metadata, owner, owner_name,
        element_id, created_at, updated_at, revision, attr_path, retention_policy, expires_at, retain_until, retention_mode, legal_hold)
      SELECT l.file_id, l.file_name, l.content_type, l.size, l.sha256, l.description, l.version,
        ARRAY(SELECT jsonb_array_elements_text(l.tags)), l.metadata, l.owner, l.owner_name, l.element_id, l.created_at,
        l.updated_at, l.revision, l.attr_path, l.retention_policy, l.expires_at, l.retain_until, l.retention_mode, l.legal_hold
      FROM locked l JOIN blob b ON b.sha256 = l.sha256
      RETURNING id
    ),
    wal_done AS (${WAL_SQL.markCommitted(
      'wal',
      // An array built once: a join of these CTEs (estimated at one row each) is planned as nested loops.
      'w.id = ANY($2::bigint[]) AND w.file_id = ANY(ARRAY(SELECT id FROM file))',
      'w.id, w.job_id',
    )}),
    job AS (
      UPDATE file_jobs j SET
        state = CASE WHEN e.id IS NOT NULL THEN 'duplicate' ELSE 'committed' END,
        progress = 100, duplicate_of = e.id, error_code = NULL, error_message = NULL, finished_at = now(), updated_at = now()
      FROM wal_done d JOIN existing e ON e.job_id = d.job_id
      WHERE j.id = ANY($3::uuid[]) AND j.id = d.job_id
      RETURNING j.id, j.state, j.duplicate_of
    )
    SELECT i.job_id, wal.id IS NOT NULL AS locked, b.sha256 IS NOT NULL AS referenced, job.state, job.duplicate_of
    FROM input i LEFT JOIN wal ON wal.id = i.wal_id LEFT JOIN blob b ON b.sha256 = i.sha256 LEFT JOIN job ON job.id = i.job_id`,
};

export interface CommitInput {
  jobId: string;
  walId: bigint;
  meta: FileMetadata;
  attrPath: string;
  storageKey: string;
  blobRepaired: boolean;
  /** Audit trail (issue 17): the ingest event of this job, appended in the commit's transaction when it commits. */
  audit?: AuditEventInput;
}

/**
 * commitIngest for many jobs, one result per input in input order. Inputs with the same bytes go to separate
 * statements, one after the other (a blob row is counted once per statement, and a later file must see the
 * earlier one to be recorded as its duplicate, as it would one job at a time). When a statement throws, `results`
 * holds what the statements before it committed.
 */
export async function commitIngests(db: Db, inputs: CommitInput[], results = new Map<string, CommitResult>()): Promise<CommitResult[]> {
  for (const round of distinctRounds(inputs, (i) => i.meta.sha256)) {
    const records = round.map((i) => ({
      job_id: i.jobId, wal_id: i.walId.toString(), sha256: i.meta.sha256, size: i.meta.size, storage_key: i.storageKey,
      file_id: i.meta.id, file_name: i.meta.fileName, content_type: i.meta.contentType, description: i.meta.description,
      version: i.meta.version, tags: i.meta.tags, metadata: i.meta.metadata, owner: i.meta.owner, owner_name: i.meta.ownerName,
      element_id: i.meta.elementId, created_at: i.meta.createdAt, updated_at: i.meta.updatedAt, revision: i.meta.revision,
      attr_path: i.attrPath, repaired: i.blobRepaired, retention_policy: i.meta.retentionPolicy, expires_at: i.meta.expiresAt,
      retain_until: i.meta.retainUntil, retention_mode: i.meta.retentionMode, legal_hold: i.meta.legalHold,
    }));
    // Audit trail hook (issue 17): the round's statement and the events of the jobs it committed, one transaction.
    const { rows } = await inAuditedTransaction(
      db,
      (client) => client.query<CommitRow & { job_id: string }>({
        ...COMMIT,
        values: [JSON.stringify(records), round.map((i) => i.walId.toString()), round.map((i) => i.jobId)],
      }),
      ({ rows: done }) => {
        const byJob = new Map(done.map((r) => [r.job_id, commitResultFromRow(r.job_id, r)]));
        return ingestEventsOf(round.map((i) => i.audit), round.map((i) => byJob.get(i.jobId) ?? { kind: 'lost' }));
      },
    );
    for (const row of rows) results.set(row.job_id, commitResultFromRow(row.job_id, row));
  }
  return inputs.map((i) => results.get(i.jobId)!);
}

/** Splits items into rounds in which no key repeats, keeping their order (the first of each key in round one). */
export function distinctRounds<T>(items: T[], key: (item: T) => string): T[][] {
  const rounds: T[][] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    const n = seen.get(k) ?? 0;
    seen.set(k, n + 1);
    (rounds[n] ??= []).push(item);
  }
  return rounds;
}
