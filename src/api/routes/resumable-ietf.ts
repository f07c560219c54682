// "Resumable Uploads for HTTP" (IETF httpbis draft, interop versions 5 and 6 as tus-js-client 4.3.1 sends them) at
// POST /api/v1/uploads, and GET /api/v1/uploads/{id} (the JSON status of an upload of either dialect).
// Creation answers 201 + Location without the draft's 104 (Node cannot send a 104 carrying a Location).
import type { Request, Response } from 'express';
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import { cancelUpload, createResumableUpload, findOwnUpload, statusOf } from '../../shared/domain/resumable-uploads.js';
import type { ResumableUpload } from '../../shared/domain/resumable-uploads.js';
import { actingPrincipalOf, principalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { errors } from '../http/openapi-errors.js';
import { appendDigestOf, hasBody, newUploadRequest, parseByteCount, parseSfBoolean, setUploadLimit } from '../http/resumable-headers.js';
import { completeIfAllowed, resumableDeps, runAppend, setJobHeader, takeAppendSlot } from '../http/resumable-append.js';
import { defineRoute, uuidParam, type RouteSpec } from '../http/route-spec.js';

const BASE = '/api/v1/uploads';
const PARTIAL_UPLOAD = 'application/partial-upload';
const INTEROP_VERSION = '6';
const idParams = z.object({ id: uuidParam });

const uploadStatusSchema = z
  .object({
    id: z.uuid(),
    offset: z.number().int(),
    length: z.number().int().nullable(),
    complete: z.boolean(),
    jobId: z.uuid().nullable().describe('the ingest job the complete upload became'),
  })
  .meta({ id: 'UploadStatus' });

/** interop 6 appends are application/partial-upload; interop 5 (ietf-draft-03) sends no Content-Type. */
function assertAppendType(req: Request): void {
  const type = req.header('content-type')?.split(';')[0]!.trim().toLowerCase();
  if (type !== undefined && type !== PARTIAL_UPLOAD && hasBody(req)) {
    throw new AppError('unsupported_media_type', `Content-Type of an append must be ${PARTIAL_UPLOAD}`, { parameter: 'Content-Type' });
  }
}

function setUploadHeaders(ctx: ApiContext, res: Response, upload: ResumableUpload): void {
  res.setHeader('Upload-Draft-Interop-Version', INTEROP_VERSION);
  res.setHeader('Upload-Offset', String(upload.offset));
  res.setHeader('Upload-Complete', upload.completedAt ? '?1' : '?0');
  if (upload.length !== null) res.setHeader('Upload-Length', String(upload.length));
  res.setHeader('Cache-Control', 'no-store');
  setUploadLimit(res, ctx.config, upload.completedAt ? undefined : upload.expiresAt);
  setJobHeader(res, upload);
}

function ietfCreateRoute(ctx: ApiContext): RouteSpec {
  return defineRoute({
    method: 'post',
    path: BASE,
    summary: 'IETF resumable upload creation (Upload-Complete, Upload-Length, Upload-Metadata keys, Repr-Digest), optionally with bytes',
    tag: 'uploads',
    permission: 'file:upload',
    mode: 'upload',
    responses: { 201: { description: 'created; Location names the upload resource' }, ...errors(400, 401, 403, 409, 413, 429, 507) },
    handler: async (req, res) => {
      const complete = parseSfBoolean(req, 'Upload-Complete', true)!;
      const length = parseByteCount(req, 'Upload-Length', false) ?? null;
      // The append's slot before the creation: a 429 leaves no upload behind.
      if (hasBody(req) || complete) takeAppendSlot(ctx, res);
      const upload = await createResumableUpload(resumableDeps(ctx), principalOf(res), newUploadRequest(req, 'ietf', length));
      res.setHeader('Location', `${BASE}/${upload.id}`);
      let after: ResumableUpload | undefined = upload;
      if (hasBody(req) || complete) {
        // A Repr-Digest header went into the upload's fields above; a trailer comes after the body.
        after = await runAppend(ctx, req, res, { id: upload.id, offset: 0, complete, declaredDigest: appendDigestOf(req, false), busyCode: 'upload_busy' });
        if (!after) return;
      }
      setUploadHeaders(ctx, res, after);
      res.status(201).end();
    },
  });
}

function ietfHeadRoute(ctx: ApiContext): RouteSpec {
  return defineRoute({
    method: 'head',
    path: `${BASE}/:id`,
    summary: 'IETF offset retrieval: Upload-Offset, Upload-Complete, Upload-Length, Upload-Limit',
    tag: 'uploads',
    permission: 'file:upload',
    params: idParams,
    quietSuccess: true,
    responses: { 204: { description: 'the upload’s durable offset' }, ...errors(401, 403, 404) },
    handler: async (req, res, { params }) => {
      const deps = resumableDeps(ctx);
      const upload = await completeIfAllowed(ctx, req, res, await findOwnUpload(deps, principalOf(res), params.id), 'upload_busy');
      setUploadHeaders(ctx, res, upload);
      res.status(204).end();
    },
  });
}

function uploadStatusRoute(ctx: ApiContext): RouteSpec {
  return defineRoute({
    method: 'get',
    path: `${BASE}/:id`,
    summary: 'An upload of either dialect: offset, length, complete and the ingest job it became',
    tag: 'uploads',
    permission: 'file:upload',
    params: idParams,
    quietSuccess: true,
    responses: { 200: { description: 'the upload', schema: uploadStatusSchema }, ...errors(401, 403, 404) },
    handler: async (req, res, { params }) => {
      const deps = resumableDeps(ctx);
      const upload = await completeIfAllowed(ctx, req, res, await findOwnUpload(deps, principalOf(res), params.id), 'upload_busy');
      res.setHeader('Cache-Control', 'no-store');
      res.status(200).json(statusOf(upload));
    },
  });
}

function ietfPatchRoute(ctx: ApiContext): RouteSpec {
  return defineRoute({
    method: 'patch',
    path: `${BASE}/:id`,
    summary:
      'IETF append (application/partial-upload) at Upload-Offset; Upload-Complete: ?1 ends it and makes the ingest job; Repr-Digest (header or trailer) declares the whole upload’s sha-256',
    tag: 'uploads',
    permission: 'file:upload',
    mode: 'upload',
    params: idParams,
    responses: {
      200: { description: 'complete: the upload became an ingest job (Upload-Job-Id)', schema: uploadStatusSchema },
      204: { description: 'appended; Upload-Offset is the new offset' },
      ...errors(400, 401, 403, 404, 409, 413, 415, 507),
    },
    handler: async (req, res, { params }) => {
      assertAppendType(req);
      const offset = parseByteCount(req, 'Upload-Offset', true)!;
      const complete = parseSfBoolean(req, 'Upload-Complete', true)!;
      const length = parseByteCount(req, 'Upload-Length', false);
      const declaredDigest = appendDigestOf(req);
      const upload = await runAppend(ctx, req, res, { id: params.id, offset, complete, length, declaredDigest, busyCode: 'upload_busy' });
      if (!upload) return;
      setUploadHeaders(ctx, res, upload);
      if (upload.completedAt) res.status(200).json(statusOf(upload));
      else res.status(204).end();
    },
  });
}

function ietfDeleteRoute(ctx: ApiContext): RouteSpec {
  return defineRoute({
    method: 'delete',
    path: `${BASE}/:id`,
    summary: 'IETF cancellation: the upload and its bytes are removed (a completed upload’s job stays)',
    tag: 'uploads',
    permission: 'file:upload',
    params: idParams,
    responses: { 204: { description: 'cancelled' }, ...errors(401, 403, 404, 409) },
    handler: async (_req, res, { params }) => {
      await cancelUpload(resumableDeps(ctx), principalOf(res), params.id, 'upload_busy');
      res.status(204).end();
    },
  });
}

export function resumableIetfRoutes(ctx: ApiContext): RouteSpec[] {
  return [ietfCreateRoute(ctx), ietfHeadRoute(ctx), uploadStatusRoute(ctx), ietfPatchRoute(ctx), ietfDeleteRoute(ctx)];
}
