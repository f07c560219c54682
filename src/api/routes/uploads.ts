// POST /api/v1/files/upload: multipart into staging (multer disk storage), ingest jobs, 202 (or 201 with wait=).
import { Router, type Request, type RequestHandler } from 'express';
import multer from 'multer';
import { getFilesByIds } from '../../shared/domain/file-queries.js';
import { submitUpload, type StagedUpload } from '../../shared/domain/ingest-submit.js';
import { waitForJobs } from '../../shared/domain/job-queries.js';
import { isFinalState, toJobView } from '../../shared/domain/job-view.js';
import { assertModeAllows } from '../../shared/domain/modes.js';
import { newStagedName, removeStagedFiles } from '../../shared/storage/staging.js';
import { principalOf, requirePermission } from '../auth.js';
import type { ApiContext } from '../context.js';
import { parseIdempotencyKey, parseUploadFields, parseWaitSeconds, sanitizeFileName } from '../http/upload-fields.js';

const MAX_FIELDS = 20;
const MAX_FIELD_BYTES = 64 * 1024;

function stagingMiddleware(ctx: ApiContext): RequestHandler {
  const { config } = ctx;
  return multer({
    storage: multer.diskStorage({
      destination: config.stagingPath,
      filename: (_req, _file, cb) => cb(null, newStagedName()),
    }),
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
}

export function uploadRoutes(ctx: ApiContext): Router {
  const router = Router();
  router.post(
    '/api/v1/files/upload',
    requirePermission('file:upload'),
    // Everything that can be refused without the body is refused before a byte is staged.
    async (req, res, next) => {
      parseWaitSeconds(req.query.wait);
      parseIdempotencyKey(req.header('idempotency-key'));
      assertModeAllows(await ctx.modes.current(), 'upload');
      next();
    },
    stagingMiddleware(ctx),
    async (req: Request, res) => {
      const files = (req.files as Express.Multer.File[] | undefined) ?? [];
      const staged: StagedUpload[] = files.map((f) => ({
        stagedPath: f.path,
        fileName: sanitizeFileName(f.originalname),
        contentType: f.mimetype && f.mimetype !== '' ? f.mimetype.toLowerCase() : 'application/octet-stream',
        size: f.size,
      }));
      const waitSeconds = parseWaitSeconds(req.query.wait);
      let fields;
      try {
        fields = parseUploadFields(req.body);
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
  );
  return router;
}
