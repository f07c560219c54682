// Resumable uploads (SPEC §9), protocol-neutral: creation, lookup for their owner, status, cancellation.
// tus 1.0 and the IETF draft are two HTTP dialects over these functions; appends are in resumable-append.ts.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { RedisConnection } from '../redis.js';
import type { CapacityReader } from './capacity.js';
import type { SubmitDeps } from './ingest-submit.js';
import type { Principal } from './principal.js';
import { assertMayHold } from './retention-rules.js';
import {
  countOpenUploads,
  deleteResumableUpload,
  fenceUpload,
  findResumableUpload,
  insertResumableUpload,
  type ResumableFields,
  type ResumableProtocol,
  type ResumableUpload,
} from '../records/resumable-uploads.js';
import { acquireUploadLease, type UploadLease } from './resumable-lock.js';

export type { ResumableProtocol, ResumableUpload };
import type { ResumableByteStore } from './resumable-bytes.js';

/** Test hooks: a step of an append where a test pauses or cuts the request. */
export interface ResumableHooks {
  /** After a chunk was written (not yet durable) at the given end offset. */
  afterChunk?: (uploadId: string, offset: number) => Promise<void> | void;
  /** In a checkpoint of a long append, before its bytes are synced up to offset (the append reads on meanwhile). */
  beforeCheckpointSync?: (uploadId: string, offset: number) => Promise<void> | void;
  /** After the owner's lookup, before the upload's lease is taken (a test cancels the upload here). */
  beforeLease?: (uploadId: string) => Promise<void> | void;
  /** Before a complete upload is handed to the ingest pipeline (a test makes it fail here). */
  beforeComplete?: (uploadId: string) => Promise<void> | void;
  /** A cancellation, before it takes the upload's lease (a test sees a client's cancel while an append holds it). */
  beforeCancel?: (uploadId: string) => Promise<void> | void;
}

export interface ResumableDeps extends SubmitDeps {
  config: Pick<Config, 'queuePrefix' | 'uploadLockMs' | 'uploadExpiryHours' | 'maxUploadBytes' | 'maxOpenUploadsPerPrincipal' | 'jobAttempts' | 'ingestJobFilesMax'>;
  redis: RedisConnection;
  capacity: CapacityReader;
  bytes: ResumableByteStore;
  /** Names the staged file a completed upload becomes (this process as a staging writer). */
  writerId?: string;
  hooks?: ResumableHooks;
}

/** IANA HTTP problem types of the IETF draft, carried in the problem body of both dialects. */
export const PROBLEM_TYPES = {
  offsetMismatch: 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset',
  completed: 'https://iana.org/assignments/http-problem-types#completed-upload',
  inconsistentLength: 'https://iana.org/assignments/http-problem-types#inconsistent-upload-length',
} as const;

export interface NewUploadRequest {
  protocol: ResumableProtocol;
  length: number | null;
  fileName: string;
  contentType: string;
  fields: ResumableFields;
}

/** Refuses what MAX_UPLOAD_BYTES (413) or capacity (507) would refuse later anyway. */
export async function assertLengthAllowed(deps: Pick<ResumableDeps, 'config' | 'capacity'>, length: number): Promise<void> {
  if (length > deps.config.maxUploadBytes) {
    throw new AppError('payload_too_large', `Upload-Length ${length} exceeds MAX_UPLOAD_BYTES (${deps.config.maxUploadBytes})`, { parameter: 'Upload-Length' });
  }
  await deps.capacity.assertRoomFor(length);
}

/**
 * Creates an upload: its empty file, then its row (the row never names a file that is not there). The cap on open
 * uploads is counted before the insert: two creations racing may both pass it, by one each (a soft cap).
 */
export async function createResumableUpload(deps: ResumableDeps, principal: Principal, req: NewUploadRequest): Promise<ResumableUpload> {
  if (req.length !== null) await assertLengthAllowed(deps, req.length);
  // A legal hold at upload is for operators and admins (SPEC §10): refused before any byte is sent.
  if (req.fields.retention?.legalHold) assertMayHold(principal);
  const now = new Date();
  const open = await countOpenUploads(deps.db, principal.sub, now);
  if (open >= deps.config.maxOpenUploadsPerPrincipal) {
    throw new AppError(
      'too_many_open_uploads',
      `${open} incomplete uploads are open for this principal (MAX_OPEN_UPLOADS_PER_PRINCIPAL); finish or cancel one first`,
    );
  }
  const id = randomUUID();
  await deps.bytes.create(id);
  try {
    return await insertResumableUpload(deps.db, {
      id,
      owner: principal.sub,
      ownerName: principal.name ?? null,
      protocol: req.protocol,
      length: req.length,
      fileName: req.fileName,
      contentType: req.contentType,
      fields: req.fields,
      expiresAt: new Date(now.getTime() + deps.config.uploadExpiryHours * 3_600_000),
    });
  } catch (err) {
    await deps.bytes.remove(id);
    throw err;
  }
}

/**
 * The upload for its owner: 404 to anyone else (its existence is not revealed), and 404 once an incomplete upload
 * has expired, even before the expiry job removed it.
 */
export async function findOwnUpload(deps: Pick<ResumableDeps, 'db'>, principal: Principal, id: string): Promise<ResumableUpload> {
  const upload = await findResumableUpload(deps.db, id);
  if (!upload || upload.owner !== principal.sub) throw new AppError('not_found', `no upload ${id}`);
  if (!upload.completedAt && upload.expiresAt.getTime() <= Date.now()) throw new AppError('not_found', `upload ${id} has expired`);
  return upload;
}

export interface UploadStatus {
  id: string;
  offset: number;
  length: number | null;
  complete: boolean;
  jobId: string | null;
}

export function statusOf(upload: ResumableUpload): UploadStatus {
  return { id: upload.id, offset: upload.offset, length: upload.length, complete: upload.completedAt !== null, jobId: upload.jobId };
}

/** Takes the upload's lease, or throws the dialect's busy error (tus 423 upload_locked, IETF 409 upload_busy). */
export async function leaseUpload(deps: ResumableDeps, id: string, busyCode: 'upload_locked' | 'upload_busy'): Promise<UploadLease> {
  const lease = await acquireUploadLease(deps.redis, deps.config.queuePrefix, id, deps.config.uploadLockMs);
  if (!lease) throw new AppError(busyCode, `upload ${id} is being written by another request; retry when it has finished`);
  try {
    await fenceUpload(deps.db, id, lease.token);
  } catch (err) {
    await lease.release().catch(() => undefined);
    throw err;
  }
  return lease;
}

/** Cancels (terminates) an upload: its bytes and its row go; a completed upload's job is not touched. */
export async function cancelUpload(deps: ResumableDeps, principal: Principal, id: string, busyCode: 'upload_locked' | 'upload_busy'): Promise<void> {
  await findOwnUpload(deps, principal, id);
  await deps.hooks?.beforeCancel?.(id);
  const lease = await leaseUpload(deps, id, busyCode);
  try {
    await deps.bytes.remove(id);
    await deleteResumableUpload(deps.db, id);
  } finally {
    await lease.release();
  }
}
