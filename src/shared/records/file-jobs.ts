// The file_jobs table (ingest, update and delete jobs): its record, its row mapping and its queries. The hot
// reads and the upload INSERT run as plain SQL on the pool (status polling and ingest decide the req/s); the rest
// through Prisma.
import { randomUUID } from 'node:crypto';
import type { FileJob } from '../db/generated/client.js';
import { FINAL_JOB_STATES } from '../../contract/jobs.js';
import { poolOf, type Db, type DbClient, type Prisma } from './database.js';

export type { FileJob };

/** Every column of file_jobs, in the shape fileJobFromRow reads. */
export const FILE_JOB_COLUMNS = `id, kind, state, progress, principal, principal_name, idempotency_key, batch_index, file_name,
  content_type, size, staged_path, declared_sha256, staged_sha256, sha256, file_id, duplicate_of, params, error_code, error_message,
  attempts, created_at, updated_at, finished_at, result, queue_job_id`;

/** The final states as a SQL list, for `state NOT IN (...)`. */
export const FINAL_STATES_SQL = FINAL_JOB_STATES.map((s) => `'${s}'`).join(', ');

/** The unique index that lets one unfinished (or successful) ingest job at a time hold a file id. */
export const FILE_ID_CLAIM = 'file_jobs_file_id_claim_key';

export interface FileJobRow {
  id: string;
  kind: string;
  state: string;
  progress: number;
  principal: string;
  principal_name: string | null;
  idempotency_key: string | null;
  batch_index: number;
  file_name: string;
  content_type: string;
  /** int8 arrives as text from pg. */
  size: string | bigint;
  staged_path: string | null;
  declared_sha256: string | null; staged_sha256: string | null; sha256: string | null;
  file_id: string;
  duplicate_of: string | null;
  params: FileJob['params'];
  error_code: string | null;
  error_message: string | null;
  attempts: number;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  result: FileJob['result'];
  queue_job_id: string | null;
}

export function fileJobFromRow(r: FileJobRow): FileJob {
  return {
    id: r.id,
    kind: r.kind,
    state: r.state,
    progress: r.progress,
    principal: r.principal,
    principalName: r.principal_name,
    idempotencyKey: r.idempotency_key,
    batchIndex: r.batch_index,
    fileName: r.file_name,
    contentType: r.content_type,
    size: BigInt(r.size),
    stagedPath: r.staged_path,
    declaredSha256: r.declared_sha256, stagedSha256: r.staged_sha256,
    sha256: r.sha256,
    fileId: r.file_id,
    duplicateOf: r.duplicate_of,
    params: r.params,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    attempts: r.attempts,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
    result: r.result,
    queueJobId: r.queue_job_id,
  };
}

/**
 * Moves a non-final job to `hashing` (attempts + 1) and returns its row, or null when the job is already final
 * or does not exist (the caller tells the two apart).
 */
export async function claimFileJob(db: Db, id: string): Promise<FileJob | null> {
  const { rows: [row] } = await poolOf(db).query<FileJobRow>(
    `UPDATE file_jobs SET state = 'hashing', progress = 10, attempts = attempts + 1, updated_at = now()
     WHERE id = $1 AND state NOT IN (${FINAL_STATES_SQL})
     RETURNING ${FILE_JOB_COLUMNS}`,
    [id],
  );
  return row ? fileJobFromRow(row) : null;
}

export async function findFileJob(client: DbClient, id: string): Promise<FileJob | null> {
  return client.fileJob.findUnique({ where: { id } });
}

/** The job, which the caller knows exists (a job row is never deleted). */
export async function getFileJob(client: DbClient, id: string): Promise<FileJob> {
  return client.fileJob.findUniqueOrThrow({ where: { id } });
}

/** The rows among ids (plain SQL: status polling is the hottest read), optionally only those of one principal. */
export async function selectFileJobs(db: Db, ids: string[], principal?: string): Promise<FileJob[]> {
  const { rows } = await poolOf(db).query<FileJobRow>(
    `SELECT ${FILE_JOB_COLUMNS} FROM file_jobs WHERE id = ANY($1::uuid[]) AND ($2::text IS NULL OR principal = $2)`,
    [ids, principal ?? null],
  );
  return rows.map(fileJobFromRow);
}

/** What a Job view is built from: a FileJob, or the leaner status row (timestamps already ISO text). */
export type FileJobStatusRow = Pick<
  FileJob,
  'id' | 'kind' | 'state' | 'progress' | 'fileName' | 'sha256' | 'fileId' | 'duplicateOf' | 'errorCode' | 'errorMessage' | 'attempts' | 'principal' | 'result'
> & {
  size: bigint | number | string;
  createdAt: Date | string;
  updatedAt: Date | string;
  finishedAt: Date | string | null;
};

// Only what a Job view shows, timestamps formatted by PostgreSQL: status polling reads up to 100 jobs a request.
const ISO = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const STATUS_COLUMNS = `id, kind, state, progress, principal, file_name AS "fileName", size, sha256, file_id AS "fileId",
  duplicate_of AS "duplicateOf", error_code AS "errorCode", error_message AS "errorMessage", attempts,
  ${ISO('created_at')} AS "createdAt", ${ISO('updated_at')} AS "updatedAt", ${ISO('finished_at')} AS "finishedAt", result`;

/**
 * A named (prepared) statement: each pool connection parses and plans it once, then only binds and executes it.
 * Any number of ids is one statement and one round trip.
 */
const SELECT_STATUSES = {
  name: 'file-job-statuses',
  text: `SELECT ${STATUS_COLUMNS} FROM file_jobs WHERE id = ANY($1::uuid[]) AND ($2::text IS NULL OR principal = $2)`,
};

/** The status rows among ids, optionally only those of one principal (unordered). */
export async function selectFileJobStatuses(db: Db, ids: string[], principal?: string): Promise<FileJobStatusRow[]> {
  const { rows } = await poolOf(db).query<FileJobStatusRow>({ ...SELECT_STATUSES, values: [ids, principal ?? null] });
  return rows;
}

/**
 * Whether a job row can never change again, so a copy of it may be kept (the status cache): a final ingest job.
 * Both ways an ingest job ends (the commit statement and failJobWithWal) need the row non-final under its WAL
 * entry's lock, and reopenFileJob takes back only delete jobs. Final update and delete jobs are not for keeping:
 * WAL recovery reopens a final delete job, and commitWalEntry marks its job committed without looking at the
 * job's state.
 */
export function isSettledForGood(row: { kind: string; state: string }): boolean {
  return row.kind === 'ingest' && (FINAL_JOB_STATES as readonly string[]).includes(row.state);
}

/** The jobs an earlier request with this Idempotency-Key created, in batch order. */
export async function selectJobsOfIdempotencyKey(db: Db, principal: string, idempotencyKey: string): Promise<FileJob[]> {
  const { rows } = await poolOf(db).query<FileJobRow>(
    `SELECT ${FILE_JOB_COLUMNS} FROM file_jobs WHERE principal = $1 AND idempotency_key = $2 ORDER BY batch_index`,
    [principal, idempotencyKey],
  );
  return rows.map(fileJobFromRow);
}

/** Frees an Idempotency-Key past its window: detaches it from the jobs that used it. */
export async function detachIdempotencyKey(db: Db, principal: string, idempotencyKey: string): Promise<void> {
  await poolOf(db).query('UPDATE file_jobs SET idempotency_key = NULL WHERE principal = $1 AND idempotency_key = $2', [principal, idempotencyKey]);
}

/** Whether a file holds this id, or an ingest job that has not failed claims it. */
export async function isFileIdClaimed(db: Db, fileId: string): Promise<boolean> {
  const { rows: [row] } = await poolOf(db).query<{ taken: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM files WHERE id = $1) OR EXISTS (SELECT 1 FROM file_jobs WHERE file_id = $1 AND state <> 'failed') AS taken`,
    [fileId],
  );
  return row?.taken ?? false;
}

export interface NewIngestJob {
  batchIndex: number;
  fileName: string;
  contentType: string;
  size: number;
  stagedPath: string;
  fileId: string;
  declaredSha256: string | null;
  /** The 'ingest-batch' BullMQ job that carries it; null or absent: a BullMQ job of its own (a large file). */
  queueJobId?: string | null;
  stagedSha256?: string | null; // the staged bytes' sha256 as the API wrote them (absent: the worker hashes them)
}

/**
 * Inserts the queued ingest jobs of several uploads (each its owner and files, one job per file) in one statement,
 * so one transaction: all are recorded or none. Answers each upload's jobs in batch order. Throws a unique
 * violation when an Idempotency-Key or FILE_ID_CLAIM is taken by a racing request.
 */
export async function insertIngestJobs(db: Db, uploads: ReadonlyArray<{ owner: IngestJobOwner; jobs: NewIngestJob[] }>): Promise<FileJob[][]> {
  const rows = uploads.flatMap(({ owner, jobs }) =>
    jobs.map((j) => ({
      id: randomUUID(), principal: owner.principal, principal_name: owner.principalName, idempotency_key: owner.idempotencyKey,
      params: owner.params, batch_index: j.batchIndex, file_name: j.fileName, content_type: j.contentType, size: j.size,
      staged_path: j.stagedPath, file_id: j.fileId, declared_sha256: j.declaredSha256, staged_sha256: j.stagedSha256 ?? null,
      queue_job_id: j.queueJobId ?? null,
    })),
  );
  const { rows: inserted } = await poolOf(db).query<FileJobRow>(
    `INSERT INTO file_jobs (id, kind, state, progress, principal, principal_name, idempotency_key, batch_index, file_name,
       content_type, size, staged_path, declared_sha256, staged_sha256, file_id, params, queue_job_id, created_at, updated_at)
     SELECT r.id, 'ingest', 'queued', 0, r.principal, r.principal_name, r.idempotency_key, r.batch_index, r.file_name, r.content_type,
       r.size, r.staged_path, r.declared_sha256, r.staged_sha256, r.file_id, r.params, r.queue_job_id, $2, $2
     FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, principal text, principal_name text, idempotency_key text, params jsonb,
       batch_index int, file_name text, content_type text, size bigint, staged_path text, file_id uuid, declared_sha256 text,
       staged_sha256 text, queue_job_id uuid)
     RETURNING ${FILE_JOB_COLUMNS}`,
    [JSON.stringify(rows), new Date()],
  );
  const byId = new Map(inserted.map((r) => [r.id, r]));
  let next = 0;
  return uploads.map(({ jobs }) => jobs.map(() => fileJobFromRow(byId.get(rows[next++]!.id)!)));
}

/** Of these staged paths, those a job row names, with whether that job is final. */
export async function selectStagedPathOwners(db: Db, stagedPaths: string[]): Promise<Array<{ stagedPath: string; final: boolean }>> {
  const { rows } = await poolOf(db).query<{ staged_path: string; final: boolean }>(
    `SELECT staged_path, state IN (${FINAL_STATES_SQL}) AS final FROM file_jobs WHERE staged_path = ANY($1::text[])`,
    [stagedPaths],
  );
  return rows.map((r) => ({ stagedPath: r.staged_path, final: r.final }));
}

/**
 * Moves a job between non-final states. Returns false when the job is already final: a concurrent run of the
 * same job finished first, and a late progress update must never overwrite its outcome.
 */
export async function advanceFileJob(db: Db, id: string, data: Prisma.FileJobUpdateManyMutationInput): Promise<boolean> {
  const { count } = await db.fileJob.updateMany({
    where: { id, state: { notIn: [...FINAL_JOB_STATES] } },
    data: { ...data, updatedAt: new Date() },
  });
  return count === 1;
}

/** Creates a queued job row (update and delete requests; uploads use insertIngestJobs). */
export async function createFileJob(client: DbClient, data: Prisma.FileJobUncheckedCreateInput): Promise<FileJob> {
  return client.fileJob.create({ data });
}

/** Inside a commit: the job ends committed. */
export async function markFileJobCommitted(tx: Prisma.TransactionClient, id: string, now: Date): Promise<void> {
  await tx.fileJob.update({ where: { id }, data: { state: 'committed', progress: 100, finishedAt: now, updatedAt: now } });
}

/** Inside a failing transaction: locks the job row while it is not final; false when it is final already. */
export async function lockOpenFileJob(tx: Prisma.TransactionClient, id: string): Promise<boolean> {
  const [current] = await tx.$queryRaw<Array<{ id: string }>>`
    SELECT id FROM file_jobs WHERE id = ${id}::uuid AND state <> ALL(${[...FINAL_JOB_STATES]}::text[]) FOR UPDATE`;
  return current !== undefined;
}

/** The job ends failed unless it is final already (then false). */
export async function markFileJobFailed(tx: Prisma.TransactionClient, id: string, code: string, message: string, now: Date): Promise<boolean> {
  const { count } = await tx.fileJob.updateMany({
    where: { id, state: { notIn: [...FINAL_JOB_STATES] } },
    data: { state: 'failed', errorCode: code, errorMessage: message.slice(0, 2_000), finishedAt: now, updatedAt: now },
  });
  return count === 1;
}

/** Forgets the staged path of a job whose staged file is gone. */
export async function clearStagedPath(db: Db, id: string): Promise<void> {
  await db.fileJob.update({ where: { id }, data: { stagedPath: null } });
}

/**
 * A final delete job back to `queued` (WAL recovery finishing a deletion readers already see). Only delete jobs:
 * API processes keep final ingest jobs in memory as never changing again (isSettledForGood).
 */
export async function reopenFileJob(db: Db, id: string): Promise<void> {
  const { count } = await db.fileJob.updateMany({
    where: { id, kind: 'delete' },
    data: { state: 'queued', errorCode: null, errorMessage: null, finishedAt: null, updatedAt: new Date() },
  });
  if (count !== 1) throw new Error(`job ${id} is not a delete job: only those are reopened`);
}

/** Who asked for an upload's ingest jobs, and the metadata its files share. */
export type IngestJobOwner = { principal: string; principalName: string | null; idempotencyKey: string | null; params: Record<string, unknown> };
