// file_jobs rows read with plain SQL (the hot status and ingest paths), mapped to the Prisma FileJob shape.
import type { FileJob } from '../db/generated/client.js';

/** Every column of file_jobs, in the shape fileJobFromRow reads. */
export const INGEST_JOB_COLUMNS = `id, kind, state, progress, principal, principal_name, idempotency_key, batch_index, file_name,
  content_type, size, staged_path, declared_sha256, sha256, file_id, duplicate_of, params, error_code, error_message,
  attempts, created_at, updated_at, finished_at`;

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
  declared_sha256: string | null;
  sha256: string | null;
  file_id: string;
  duplicate_of: string | null;
  params: FileJob['params'];
  error_code: string | null;
  error_message: string | null;
  attempts: number;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
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
    declaredSha256: r.declared_sha256,
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
  };
}
