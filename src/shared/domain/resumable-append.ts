// Appending to a resumable upload under its lease, and turning a complete upload into an ordinary ingest job.
// Durability order: bytes written, made durable (fsync, or a part object in the bucket), then the offset recorded;
// the recorded offset never exceeds the stored bytes, and a resume drops what lies past it (never acknowledged).
import { createHash, type Hash } from 'node:crypto';
import type { AppendSink } from './resumable-bytes.js';
import { AppendWrites } from './append-writes.js';
import { AppError, isAppError } from '../errors.js';
import { submitUpload } from './ingest-submit.js';
import type { Principal } from './principal.js';
import { declareDigest, declareLength, deleteResumableUpload, findResumableUpload, markCompleted, moveOffset, type ResumableUpload } from '../records/resumable-uploads.js';
import type { UploadLease } from './resumable-lock.js';
import { findOwnUpload, leaseUpload, PROBLEM_TYPES, type ResumableDeps } from './resumable-uploads.js';

/** A long append makes its bytes durable (fsync + record) every this many bytes, not only at its end. */
export const CHECKPOINT_BYTES = 8 * 1024 * 1024;

export interface AppendRequest {
  id: string;
  /** The offset the client says it appends at (Upload-Offset). */
  offset: number;
  body: AsyncIterable<Buffer>;
  /** IETF Upload-Complete: true when this request carries the last byte. tus: undefined (length decides). */
  complete?: boolean;
  /** A length declared with this request (IETF Upload-Length on an append). */
  length?: number;
  /**
   * The whole upload's sha256 (hex) that came with this request (IETF Repr-Digest, as a header or a trailer),
   * read once the body has ended; undefined when none came. Recorded as the upload's declared sha256.
   */
  declaredDigest?: () => string | undefined;
  busyCode: 'upload_locked' | 'upload_busy';
}

export interface AppendResult {
  upload: ResumableUpload;
  /** The client's stream failed (it went away): the durable part was recorded; nobody waits for an answer. */
  streamError?: unknown;
}

/** The offset the bytes really reach, with the row brought down to it when it promised more (a lost tail). */
async function durableOffset(deps: ResumableDeps, lease: UploadLease, upload: ResumableUpload): Promise<number> {
  const held = await deps.bytes.reconcile(upload.id, upload.offset);
  if (held < 0) throw new AppError('not_found', `upload ${upload.id} has lost its bytes; start a new upload`);
  if (held < upload.offset) {
    deps.logger.warn({ uploadId: upload.id, recorded: upload.offset, held }, 'resumable upload file is shorter than its recorded offset');
    await moveOffset(deps.db, upload.id, lease.token, upload.offset, held);
  }
  return held;
}

/** Checks the request against the upload's state: completed, offset and length mismatches are the client's 4xx. */
function assertNotCompleted(upload: ResumableUpload): void {
  if (upload.completedAt) {
    throw new AppError('upload_completed', `upload ${upload.id} is complete; nothing more can be appended`, { type: PROBLEM_TYPES.completed });
  }
}

function assertAppendable(upload: ResumableUpload, at: number, req: AppendRequest): number | null {
  if (req.offset !== at) {
    throw new AppError('upload_offset_mismatch', `Upload-Offset ${req.offset} does not match the upload's offset ${at}`, {
      type: PROBLEM_TYPES.offsetMismatch,
      'expected-offset': at,
      'provided-offset': req.offset,
    });
  }
  // A late length below what is already stored can never be met: refused before it is declared (the upload stays usable).
  if (req.length !== undefined && req.length < at) {
    throw new AppError('upload_length_mismatch', `Upload-Length ${req.length} is less than the ${at} bytes already stored`, {
      type: PROBLEM_TYPES.inconsistentLength,
    });
  }
  if (req.length !== undefined && upload.length !== null && req.length !== upload.length) {
    throw new AppError('upload_length_mismatch', `Upload-Length ${req.length} differs from the declared ${upload.length}`, {
      type: PROBLEM_TYPES.inconsistentLength,
    });
  }
  return req.length ?? upload.length;
}

function lostLease(req: AppendRequest): AppError {
  return new AppError(req.busyCode, 'the upload lock was lost mid-append (another request took the upload); resume from its offset');
}

/**
 * Writes the body at `start`; checkpoints every CHECKPOINT_BYTES; returns the end offset and a stream error. hash,
 * when given, sees every byte written, in order. A checkpoint (lease confirmed, bytes synced, offset recorded up to
 * where it started) runs while the next bytes arrive, one at a time: receipt does not wait on the disk's flush.
 * Every checkpoint has settled when this returns, so `durable` is what the row holds.
 */
async function writeBody(
  deps: ResumableDeps,
  sink: AppendSink,
  lease: UploadLease,
  req: AppendRequest,
  start: number,
  limit: { bytes: number; declared: boolean },
  hash?: Hash,
): Promise<{ end: number; durable: number; error?: unknown }> {
  const reservation = await deps.capacity.openReservation();
  const afterWrite = deps.hooks?.afterChunk && ((end: number) => deps.hooks?.afterChunk?.(req.id, end));
  const writes = new AppendWrites(sink, start, hash && ((bytes) => hash.update(bytes)), afterWrite);
  let received = start;
  let durable = start;
  /** The checkpoint under way and the offset it records. */
  let inflight: { at: number; done: Promise<void> } | undefined;
  const checkpoint = async (at: number): Promise<void> => {
    if (!(await lease.confirm())) throw lostLease(req);
    await deps.hooks?.beforeCheckpointSync?.(req.id, at);
    // Syncs every byte written before this call (the writes up to `at` have completed); later ones wait for the next.
    await sink.sync();
    if (!(await moveOffset(deps.db, req.id, lease.token, durable, at))) throw lostLease(req);
    durable = at;
  };
  const settle = async (): Promise<void> => {
    const running = inflight;
    inflight = undefined;
    if (running) await running.done;
  };
  try {
    // Not for-await: leaving it early would destroy the request, and with it the socket the error answer needs.
    const chunks = req.body[Symbol.asyncIterator]();
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      const chunk = next.value;
      if (lease.lost) throw lostLease(req);
      if (received + chunk.length > limit.bytes) {
        if (!limit.declared) throw new AppError('payload_too_large', `the upload goes past MAX_UPLOAD_BYTES (${limit.bytes})`);
        throw new AppError('upload_length_mismatch', `the body goes past the upload's length (${limit.bytes} bytes)`, { type: PROBLEM_TYPES.inconsistentLength });
      }
      reservation.take(chunk.length);
      received += chunk.length;
      // A request stream says how much is buffered behind this chunk; another iterable is written chunk by chunk.
      await writes.push(chunk, ((req.body as { readableLength?: number }).readableLength ?? 0) > 0);
      if (writes.written - (inflight?.at ?? durable) >= CHECKPOINT_BYTES) {
        // One at a time: the previous one must have recorded its offset (or failed) before the next starts.
        await settle();
        const done = checkpoint(writes.written);
        // Its failure is met at the next settle; until then it must not count as unhandled.
        done.catch(() => undefined);
        inflight = { at: writes.written, done };
      }
    }
    await writes.drain();
    await settle();
    return { end: writes.written, durable };
  } catch (error) {
    // Bytes gathered but not written are dropped (the lease may be gone); the client resumes from the offset. A
    // checkpoint still under way settles first (its error, if any, comes second to this one).
    await writes.abandon();
    await settle().catch(() => undefined);
    return { end: writes.written, durable, error };
  } finally {
    // Resting bytes are not "arriving" any more; they count again once the upload is a job.
    reservation.release();
  }
}

/**
 * Appends the request's body (tus PATCH, IETF PATCH, or creation with upload) under the upload's lease. What
 * reached the disk is recorded even when the client goes away mid-body, so the next resume continues from there.
 * A complete upload becomes an ingest job before the lease is released.
 */
export async function appendToUpload(deps: ResumableDeps, principal: Principal, req: AppendRequest): Promise<AppendResult> {
  await findOwnUpload(deps, principal, req.id);
  await deps.hooks?.beforeLease?.(req.id);
  const lease = await leaseUpload(deps, req.id, req.busyCode);
  try {
    // Again under the lease: a DELETE or the expiry may have removed it since the lookup (404, not a crash).
    let upload = await findOwnUpload(deps, principal, req.id);
    // A complete upload's file is gone (its job holds the bytes): refuse before looking for it.
    assertNotCompleted(upload);
    const at = await durableOffset(deps, lease, upload);
    const length = assertAppendable(upload, at, req);
    const limit = { bytes: length ?? deps.config.maxUploadBytes, declared: length !== null };
    if (req.length !== undefined && upload.length === null) {
      await assertLengthAllowedLate(deps, req.length);
      await declareLength(deps.db, req.id, req.length);
    }
    const sink = await deps.bytes.openAppend(req.id, at);
    // An append from the first byte hashes what it writes: when it also brings the last one, the job records the
    // digest and the worker need not read the file again (staged-digest.ts). A resumed upload is hashed there.
    const hash = at === 0 ? createHash('sha256') : undefined;
    let written;
    try {
      written = await writeBody(deps, sink, lease, req, at, limit, hash);
      // Durable before recorded: the offset in the row never runs ahead of the stored bytes. Not once the lease is
      // lost (asked of Redis now): the new holder writes from the same durable offset (in the bucket, one part key).
      if (written.end > written.durable && (await lease.confirm())) await sink.sync();
    } finally {
      await sink.close();
    }
    // Refused when another request took the upload meanwhile (the fence): these bytes are then not ours to vouch for.
    if (written.end > written.durable && !(!lease.lost && (await moveOffset(deps.db, req.id, lease.token, written.durable, written.end)))) {
      written.error ??= lostLease(req);
    }
    if (isAppError(written.error, 'payload_too_large') && !lease.lost) {
      // Past MAX_UPLOAD_BYTES without a declared length: the upload can never complete, so it goes now rather than
      // hold a place under MAX_OPEN_UPLOADS_PER_PRINCIPAL (and its bytes) until it expires.
      await deps.bytes.remove(req.id);
      await deleteResumableUpload(deps.db, req.id);
    }
    if (written.error !== undefined && (written.error instanceof AppError || !isClientGone(written.error))) throw written.error;
    upload = (await findResumableUpload(deps.db, req.id))!;
    if (!written.error) upload = await recordDeclaredDigest(deps, upload, req.declaredDigest?.());
    const finalLength = upload.length ?? (req.complete ? upload.offset : null);
    // IETF Upload-Complete: ?1 on a body that ended short of the length: the draft's inconsistent length (what
    // arrived is recorded; the client resumes from the offset).
    if (!written.error && req.complete && finalLength !== null && upload.offset < finalLength) {
      throw new AppError('upload_length_mismatch', `Upload-Complete: ?1, but ${upload.offset} of the ${finalLength} bytes are stored`, {
        type: PROBLEM_TYPES.inconsistentLength,
      });
    }
    if (!written.error && finalLength !== null && upload.offset === finalLength && (req.complete ?? true)) {
      if (upload.length === null) await declareLength(deps.db, req.id, finalLength);
      const sha256 = hash && written.end === upload.offset ? hash.digest('hex') : undefined;
      upload = await completeUpload(deps, principal, { ...upload, length: finalLength }, sha256);
    }
    return { upload, streamError: written.error };
  } finally {
    await lease.release().catch((err: unknown) => deps.logger.warn({ err, uploadId: req.id }, 'releasing an upload lock failed; it expires by itself'));
  }
}

/**
 * A digest declared with an append (a client that hashed while it sent has it only at the end, in a trailer)
 * becomes the upload's declared sha256, checked against the bytes by the ingest job like one given at creation.
 * One that contradicts the sha256 declared before is refused: the client is confused about what it sends.
 */
async function recordDeclaredDigest(deps: ResumableDeps, upload: ResumableUpload, sha256: string | undefined): Promise<ResumableUpload> {
  if (sha256 === undefined) return upload;
  const before = upload.fields.sha256?.[0];
  if (before === sha256) return upload;
  if (before !== undefined) {
    throw new AppError('validation_failed', `Repr-Digest names sha256 ${sha256}, but the upload declared ${before}`, { parameter: 'Repr-Digest' });
  }
  await declareDigest(deps.db, upload.id, sha256);
  return { ...upload, fields: { ...upload.fields, sha256: [sha256] } };
}

async function assertLengthAllowedLate(deps: ResumableDeps, length: number): Promise<void> {
  if (length > deps.config.maxUploadBytes) {
    throw new AppError('payload_too_large', `Upload-Length ${length} exceeds MAX_UPLOAD_BYTES (${deps.config.maxUploadBytes})`, { parameter: 'Upload-Length' });
  }
}

/** The request stream ended early because the client went away (an aborted body), not because of our fault. */
function isClientGone(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === 'ECONNRESET' || e?.code === 'ERR_STREAM_PREMATURE_CLOSE' || e?.message === 'aborted';
}

/**
 * Hands the complete upload to the ingest pipeline (submitUpload: same job states, WAL, dedup, sha256 check).
 * Its Idempotency-Key is the upload's id, so a completion repeated after a crash between the job's INSERT and
 * the row's update finds the same job instead of making a second one.
 */
async function completeUpload(deps: ResumableDeps, principal: Principal, upload: ResumableUpload, sha256?: string): Promise<ResumableUpload> {
  await deps.hooks?.beforeComplete?.(upload.id);
  const stagedPath = await deps.bytes.toStaging(upload.id, upload.offset, deps.writerId);
  // The request that brings the last byte (or finds it brought) is the owner's (findOwnUpload): its principal, with
  // its request id and address, is the ingest job's actor, and submitUpload judges a legal hold by its role.
  const staged = [{ stagedPath, fileName: upload.fileName, contentType: upload.contentType, size: upload.offset, ...(sha256 ? { sha256 } : {}) }];
  const result = await submitUpload(deps, principal, staged, upload.fields, `resumable:${upload.id}`);
  const jobId = result.jobs[0]!.id;
  await markCompleted(deps.db, upload.id, jobId);
  // The job owns the staged link now; the upload's own name for the same bytes can go.
  await deps.bytes.remove(upload.id);
  return { ...upload, completedAt: new Date(), jobId };
}

async function* noBody(): AsyncGenerator<Buffer> {}

/**
 * An upload whose every byte is durable but that has no job yet (the request that brought its last byte failed
 * while making the job: an outage, say) is completed here, by a HEAD or GET: a client that sees offset == length
 * stops sending (tus-js-client does) and must not be left without its job. Busy: answered as it stands.
 */
export async function completeIfFull(deps: ResumableDeps, principal: Principal, upload: ResumableUpload, busyCode: AppendRequest['busyCode']): Promise<ResumableUpload> {
  if (upload.completedAt || upload.length === null || upload.offset !== upload.length) return upload;
  try {
    return (await appendToUpload(deps, principal, { id: upload.id, offset: upload.length, body: noBody(), busyCode })).upload;
  } catch (err) {
    if (isAppError(err, busyCode)) return upload;
    // Another request completed it between this one's read and its lease: answer as it stands now, not 409.
    if (isAppError(err, 'upload_completed')) return findOwnUpload(deps, principal, upload.id);
    throw err;
  }
}
