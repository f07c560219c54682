// The HTTP side shared by the tus and IETF dialects: the domain's dependencies from the API context and one
// append run (idle timeout, shutdown accounting, a client that left mid-body).
import type { Request, Response } from 'express';
import { appendToUpload, completeIfFull, type AppendRequest } from '../../shared/domain/resumable-append.js';
import { modeAllows } from '../../shared/domain/modes.js';
import { resumableBytesFor, type ResumableByteStore } from '../../shared/domain/resumable-bytes.js';
import type { ResumableDeps } from '../../shared/domain/resumable-uploads.js';
import type { ResumableUpload } from '../../shared/domain/resumable-uploads.js';
import { actingPrincipalOf, principalOf } from '../auth.js';
import type { ApiContext } from '../context.js';

const bytesOf = new WeakMap<ApiContext, ResumableByteStore>();
const slotHolders = new WeakSet<Response>();

/**
 * Takes the append's place among the principal's concurrent uploads (429 past MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL),
 * once per response. A creation with upload calls it before creating, so a 429 leaves no empty upload behind that
 * would hold a place under MAX_OPEN_UPLOADS_PER_PRINCIPAL until it expired.
 */
export function takeAppendSlot(ctx: ApiContext, res: Response): void {
  if (slotHolders.has(res)) return;
  ctx.uploadSlots.take(res, principalOf(res).sub);
  slotHolders.add(res);
}

/** Completes a full upload that has no job yet (completeIfFull), unless the mode forbids uploads (SPEC §4). */
export async function completeIfAllowed(ctx: ApiContext, req: Request, res: Response, upload: ResumableUpload, busyCode: AppendRequest['busyCode']): Promise<ResumableUpload> {
  if (!modeAllows(await ctx.modes.current(), 'upload')) return upload;
  return completeIfFull(resumableDeps(ctx), actingPrincipalOf(req, res), upload, busyCode);
}

/** The domain's dependencies; the bytes wait where the staging is (STAGING_PATH, or the bucket with BLOB_BACKEND=s3). */
export function resumableDeps(ctx: ApiContext): ResumableDeps {
  let bytes = bytesOf.get(ctx);
  if (!bytes) bytesOf.set(ctx, (bytes = resumableBytesFor(ctx.staging, ctx.config.stagingPath)));
  return {
    db: ctx.db,
    queues: ctx.queues,
    config: ctx.config,
    staging: ctx.staging,
    logger: ctx.logger,
    redis: ctx.redis,
    capacity: ctx.capacity,
    bytes,
    writerId: ctx.stagingWriter.id,
    hooks: ctx.resumableHooks,
  };
}

/**
 * Appends the request body. Returns the upload after the append, or undefined when the client went away mid-body
 * (what arrived is durable and recorded; nobody is left to answer, so the socket is closed).
 */
export async function runAppend(ctx: ApiContext, req: Request, res: Response, input: Omit<AppendRequest, 'body'>): Promise<ResumableUpload | undefined> {
  const settled = ctx.uploads.enter();
  // A stalled body holds the upload's lock: cut it like a stalled multipart upload.
  req.setTimeout(ctx.config.uploadIdleTimeoutMs, () => req.socket.destroy());
  try {
    // An append holds a socket and a lock as a multipart upload does: the same per-principal cap (429).
    takeAppendSlot(ctx, res);
    const result = await appendToUpload(resumableDeps(ctx), actingPrincipalOf(req, res), { ...input, body: req });
    if (result.streamError !== undefined) {
      req.log.info({ uploadId: input.id, offset: result.upload.offset }, 'resumable append cut off; its durable part was recorded');
      res.destroy();
      return undefined;
    }
    return result.upload;
  } catch (err) {
    // Refused before or while its body arrived: answer, then close, rather than read the rest of a large body.
    if (!req.complete) res.setHeader('Connection', 'close');
    throw err;
  } finally {
    settled();
  }
}

/** Upload-Job-Id on the answer that completed the upload (and on later HEADs). */
export function setJobHeader(res: Response, upload: ResumableUpload): void {
  if (upload.jobId) res.setHeader('Upload-Job-Id', upload.jobId);
}
