// POST /api/v1/files/upload: multipart into staging (multer disk storage), ingest jobs, 202 (or 201 with wait=).
import type { Request, RequestHandler } from 'express';
import multer from 'multer';
import { z } from 'zod';
import { getFilesByIds } from '../../shared/domain/file-queries.js';
import { submitUpload, type StagedUpload } from '../../shared/domain/ingest-submit.js';
import { waitForJobs } from '../../shared/domain/job-queries.js';
import { isFinalState, toJobView } from '../../shared/domain/job-view.js';
import { newStagedName, removeStagedFiles } from '../../shared/storage/staging.js';
import { AppError } from '../../shared/errors.js';
import { principalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { defineRoute, parseInput, type RouteSpec } from '../http/route-spec.js';
import { errors, jobListSchema } from '../http/schemas.js';
import { parseIdempotencyKey, parseUploadFields, sanitizeFileName, uploadFieldsSchema, uploadQuerySchema } from '../http/upload-fields.js';

const MAX_FIELDS = 20;
const MAX_FIELD_BYTES = 64 * 1024;

/**
 * multer disk storage into STAGING_PATH. The per-file limit is MAX_UPLOAD_BYTES or, when less, what is left
 * under STORAGE_MAX_BYTES (measured by the preflight); passing the latter answers 507 instead of 413.
 */
function stagingMiddleware(ctx: ApiContext): RequestHandler {
  const { config } = ctx;
  const storage = multer.diskStorage({
    destination: config.stagingPath,
    filename: (_req, _file, cb) => cb(null, newStagedName()),
  });
  return (req, res, next) => {
    const remaining = res.locals.remainingBytes as number;
    const capacityBound = remaining < config.maxUploadBytes;
    const settled = ctx.uploads.enter();
    multer({
      storage,
      // curl and browsers send UTF-8 file names without RFC 5987 encoding.
      defParamCharset: 'utf8',
      limits: {
        fileSize: Math.min(config.maxUploadBytes, remaining),
        files: config.maxFilesPerUpload,
        fields: MAX_FIELDS,
        fieldSize: MAX_FIELD_BYTES,
        fieldNameSize: 100,
        parts: config.maxFilesPerUpload + MAX_FIELDS,
        headerPairs: 100,
      },
    }).array('file')(req, res, (err?: unknown) => {
      // multer calls back only after removing what it staged for a failed or aborted request.
      settled();
      if (capacityBound && err instanceof multer.MulterError && err.code === 'LIMIT_FILE_SIZE') {
        next(new AppError('insufficient_storage', `the element has ${remaining} bytes left under STORAGE_MAX_BYTES`));
        return;
      }
      next(err);
    });
  };
}

/** Refuses, before a byte is staged, what can be refused from the query and headers alone. */
function preflight(ctx: ApiContext): RequestHandler {
  return async (req, res, next) => {
    parseInput(uploadQuerySchema, req.query ?? {}, 'query parameter');
    parseIdempotencyKey(req.header('idempotency-key'));
    const declared = Number(req.header('content-length'));
    // Content-Length counts the multipart framing too: a conservative early answer.
    if (Number.isFinite(declared)) await ctx.capacity.assertRoomFor(declared);
    res.locals.remainingBytes = await ctx.capacity.remainingBytes();
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
      body: uploadFieldsSchema.extend({ file: z.array(z.string().meta({ format: 'binary' })).describe('one or more files') }),
      bodyContentType: 'multipart/form-data',
      before: [preflight(ctx), stagingMiddleware(ctx)],
      responses: {
        201: { description: 'with wait=: every job finished successfully; each job carries its file', schema: jobListSchema },
        202: { description: 'accepted; poll the jobs (Location names the first)', schema: jobListSchema },
        ...errors(400, 401, 403, 409, 413, 507),
      },
      handler: async (req: Request, res, { query }) => {
        const files = (req.files as Express.Multer.File[] | undefined) ?? [];
        const staged: StagedUpload[] = files.map((f) => ({
          stagedPath: f.path,
          fileName: sanitizeFileName(f.originalname),
          contentType: f.mimetype && f.mimetype !== '' ? f.mimetype.toLowerCase() : 'application/octet-stream',
          size: f.size,
        }));
        let fields;
        try {
          fields = parseUploadFields(req.body);
          await ctx.capacity.assertRoomFor(staged.reduce((n, f) => n + f.size, 0));
        } catch (err) {
          // submitUpload owns staged files once called; before that they are still ours to remove.
          await removeStagedFiles(staged.map((s) => s.stagedPath));
          throw err;
        }
        const result = await submitUpload(ctx, principalOf(res), staged, fields, parseIdempotencyKey(req.header('idempotency-key')));
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
