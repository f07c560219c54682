// POST /api/v1/files/upload: multipart into staging (multer + our staging engine), ingest jobs, 202 (or 201 with wait=).
import type { Request, RequestHandler } from 'express';
import multer from 'multer';
import { z } from 'zod';
import { getFilesByIds } from '../../shared/domain/file-queries.js';
import { submitUpload, type StagedUpload } from '../../shared/domain/ingest-submit.js';
import { waitForJobs } from '../../shared/domain/job-queries.js';
import { toJobView } from '../../shared/domain/job-view.js';
import type { StagingReservation } from '../../shared/domain/capacity.js';
import { removeStagedFiles } from '../../shared/storage/staging.js';
import { actingPrincipalOf, principalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { defineRoute, parseInput, type RouteSpec } from '../http/route-spec.js';
import { stagingEngine, type StagedPartInfo } from '../staging-engine.js';
import { errors } from '../http/openapi-errors.js';
import { isFinalState, jobListSchema } from '../../contract/jobs.js';
import { uploadFieldsSchema, uploadQuerySchema } from '../../contract/uploads.js';
import { parseIdempotencyKey, parseUploadFields, sanitizeFileName, uploadFileFilter } from '../http/upload-fields.js';

const MAX_FIELDS = 20;
const MAX_FIELD_BYTES = 64 * 1024;

/**
 * Streams the multipart body into STAGING_PATH (stagingEngine: every chunk passes the capacity reservation, a full
 * disk is 507). A client that stops sending for UPLOAD_IDLE_TIMEOUT_MS is cut; multer then removes what it staged.
 */
function stagingMiddleware(ctx: ApiContext): RequestHandler {
  const { config } = ctx;
  // One parser for every upload (its options do not change); each upload's reservation is found on its response.
  const parse = multer({
    storage: stagingEngine(config.stagingPath, (req) => req.res!.locals.reservation as StagingReservation, ctx.stagingWriter.id, {
      durable: ctx.staging.backend === 'local',
    }),
    // An overlong client file name is refused before a byte of its part is staged.
    fileFilter: uploadFileFilter,
    // curl and browsers send UTF-8 file names without RFC 5987 encoding.
    defParamCharset: 'utf8',
    limits: {
      fileSize: config.maxUploadBytes,
      files: config.maxFilesPerUpload,
      fields: MAX_FIELDS,
      fieldSize: MAX_FIELD_BYTES,
      fieldNameSize: 100,
      parts: config.maxFilesPerUpload + MAX_FIELDS,
      headerPairs: 100,
    },
  }).array('file');
  const cut = (req: Request) => {
    req.log.warn({ idleMs: config.uploadIdleTimeoutMs }, 'upload stalled: cutting the connection');
    req.socket.destroy();
  };
  return (req, res, next) => {
    const settled = ctx.uploads.enter();
    req.setTimeout(config.uploadIdleTimeoutMs, () => cut(req));
    parse(req, res, (err?: unknown) => {
      // multer calls back only after removing what it staged for a failed or aborted request.
      settled();
      if (err && req.socket.destroyed) {
        // Cut (stalled, or the client left): nobody is there to read an answer.
        req.log.warn({ err }, 'upload cut off; its staged files were removed');
        return;
      }
      next(err);
    });
  };
}

/**
 * Refuses, before a byte is staged, what can be refused from the query and headers alone, takes the principal's
 * upload slot (and a long-poll slot for wait=), and opens the upload's capacity reservation.
 */
function preflight(ctx: ApiContext): RequestHandler {
  return async (req, res, next) => {
    const query = parseInput(uploadQuerySchema, req.query ?? {}, 'query parameter');
    parseIdempotencyKey(req.header('idempotency-key'));
    const { sub } = principalOf(res);
    ctx.uploadSlots.take(res, sub);
    if ((query.wait ?? 0) > 0) ctx.streamSlots.take(res, sub);
    const declared = Number(req.header('content-length'));
    // Content-Length counts the multipart framing too: a conservative early answer.
    if (Number.isFinite(declared)) await ctx.capacity.assertRoomFor(declared);
    const reservation = await ctx.capacity.openReservation();
    // Handed over when jobs are recorded; otherwise the bytes are gone (removed) once the response is.
    res.once('close', () => reservation.release());
    res.locals.reservation = reservation;
    next();
  };
}

export function uploadRoutes(ctx: ApiContext): RouteSpec[] {
  return [
    defineRoute({
      method: 'post',
      path: '/api/v1/files/upload',
      summary: 'Upload one or more files (parts named "file"); answers with one ingest job per file',
      tag: 'files',
      permission: 'file:upload',
      mode: 'upload',
      query: uploadQuerySchema,
      body: uploadFieldsSchema.safeExtend({ file: z.array(z.string().meta({ format: 'binary' })).describe('one or more files') }),
      bodyContentType: 'multipart/form-data',
      before: [preflight(ctx), stagingMiddleware(ctx)],
      responses: {
        201: { description: 'with wait=: every job finished successfully; each job carries its file', schema: jobListSchema },
        202: { description: 'accepted; poll the jobs (Location names the first)', schema: jobListSchema },
        ...errors(400, 401, 403, 409, 413, 429, 507),
      },
      handler: async (req: Request, res, { query }) => {
        const files = (req.files as Express.Multer.File[] | undefined) ?? [];
        const staged: StagedUpload[] = files.map((f) => ({
          stagedPath: f.path,
          fileName: sanitizeFileName(f.originalname),
          contentType: f.mimetype && f.mimetype !== '' ? f.mimetype.toLowerCase() : 'application/octet-stream',
          size: f.size,
          // The staging engine's digest of the bytes it wrote (StagedPartInfo), recorded with the job.
          sha256: (f as Express.Multer.File & Partial<StagedPartInfo>).sha256,
        }));
        let fields;
        try {
          fields = parseUploadFields(req.body);
        } catch (err) {
          // submitUpload owns staged files once called; before that they are still ours to remove.
          await removeStagedFiles(staged.map((s) => s.stagedPath));
          throw err;
        }
        const result = await submitUpload(ctx, actingPrincipalOf(req, res), staged, fields, parseIdempotencyKey(req.header('idempotency-key')));
        const reservation = res.locals.reservation as StagingReservation;
        // A replay removed its staged files: their bytes are gone, not on their way to the blob store.
        if (result.replayed) reservation.release();
        else reservation.handOver();
        if (!result.replayed) {
          ctx.metrics.uploadsAccepted.inc(staged.length);
          ctx.metrics.bytesStaged.inc(staged.reduce((n, s) => n + s.size, 0));
        } else {
          res.setHeader('Idempotent-Replayed', 'true');
        }
        const waitSeconds = query.wait ?? 0;
        let jobs = result.jobs;
        if (waitSeconds > 0) {
          const abort = new AbortController();
          res.once('close', () => abort.abort());
          // The body is in; quiet until the jobs finish (at most 60 s), which the idle timeout must not cut.
          req.socket.setTimeout(0);
          jobs = await waitForJobs(ctx.db, jobs.map((j) => j.id), waitSeconds * 1_000, abort.signal);
        }
        const allDone = waitSeconds > 0 && jobs.every((j) => isFinalState(j.state) && j.state !== 'failed');
        const filesById = allDone ? await getFilesByIds(ctx.db, jobs.map((j) => j.fileId)) : new Map();
        const views = jobs.map((j) => ({ ...toJobView(j), ...(filesById.has(j.fileId) ? { file: filesById.get(j.fileId) } : {}) }));
        res.setHeader('Location', `/api/v1/jobs/${jobs[0]!.id}`);
        res.status(allDone ? 201 : 202).json({ jobs: views });
      },
    }),
  ];
}
