// tus 1.0 at /api/v1/uploads/tus (SPEC §9): core, creation, creation-with-upload, termination, expiration.
// Written on Express over the shared upload model rather than @tus/server: its only locker is in-memory (one
// process), and the element's auth, modes, limits, staging and ingest jobs would all sit in its hooks.
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import { cancelUpload, createResumableUpload, findOwnUpload } from '../../shared/domain/resumable-uploads.js';
import type { ResumableUpload } from '../../shared/domain/resumable-uploads.js';
import { actingPrincipalOf, principalOf } from '../auth.js';
import type { ApiContext } from '../context.js';
import { errors } from '../http/openapi-errors.js';
import { hasBody, newUploadRequest, parseByteCount } from '../http/resumable-headers.js';
import { completeIfAllowed, resumableDeps, runAppend, setJobHeader, takeAppendSlot } from '../http/resumable-append.js';
import { defineRoute, uuidParam, type RouteSpec } from '../http/route-spec.js';

const TUS_VERSION = '1.0.0';
const TUS_EXTENSIONS = 'creation,creation-with-upload,termination,expiration';
const CHUNK_TYPE = 'application/offset+octet-stream';
const BASE = '/api/v1/uploads/tus';
const idParams = z.object({ id: uuidParam });

/** Every tus answer says Tus-Resumable; a request in another protocol version is refused (412, Tus-Version). */
const tusHeaders: RequestHandler = (req, res, next) => {
  res.setHeader('Tus-Resumable', TUS_VERSION);
  if (req.header('tus-resumable') !== TUS_VERSION) {
    res.setHeader('Tus-Version', TUS_VERSION);
    throw new AppError('precondition_failed', `Tus-Resumable must be ${TUS_VERSION}`, { parameter: 'Tus-Resumable' });
  }
  next();
};

function assertChunkType(req: Request): void {
  const type = req.header('content-type')?.split(';')[0]!.trim().toLowerCase();
  if (type !== CHUNK_TYPE) throw new AppError('unsupported_media_type', `Content-Type must be ${CHUNK_TYPE}`, { parameter: 'Content-Type' });
}

function setUploadHeaders(res: Response, upload: ResumableUpload): void {
  res.setHeader('Upload-Offset', String(upload.offset));
  if (upload.length !== null) res.setHeader('Upload-Length', String(upload.length));
  if (!upload.completedAt) res.setHeader('Upload-Expires', upload.expiresAt.toUTCString());
  res.setHeader('Cache-Control', 'no-store');
  setJobHeader(res, upload);
}

function tusOptionsRoute(ctx: ApiContext): RouteSpec {
  return defineRoute({
    method: 'options',
    path: BASE,
    summary: 'tus 1.0 discovery: version, extensions and Tus-Max-Size',
    tag: 'uploads',
    permission: 'public',
    responses: { 204: { description: 'Tus-Version, Tus-Extension, Tus-Max-Size' } },
    handler: (_req, res) => {
      res.setHeader('Tus-Resumable', TUS_VERSION);
      res.setHeader('Tus-Version', TUS_VERSION);
      res.setHeader('Tus-Extension', TUS_EXTENSIONS);
      res.setHeader('Tus-Max-Size', String(ctx.config.maxUploadBytes));
      res.status(204).end();
    },
  });
}

function tusCreateRoute(ctx: ApiContext): RouteSpec {
  return defineRoute({
    method: 'post',
    path: BASE,
    summary: 'tus creation (Upload-Length, Upload-Metadata), optionally with the first bytes',
    tag: 'uploads',
    permission: 'file:upload',
    mode: 'upload',
    before: [tusHeaders],
    responses: { 201: { description: 'created; Location names the upload' }, ...errors(400, 401, 403, 409, 412, 413, 415, 429, 507) },
    handler: async (req, res) => {
      const length = parseByteCount(req, 'Upload-Length', true)!;
      // Refusals of the append come before the creation: a refused request leaves no upload behind.
      if (hasBody(req) && length > 0) assertChunkType(req);
      if (hasBody(req) || length === 0) takeAppendSlot(ctx, res);
      const upload = await createResumableUpload(resumableDeps(ctx), principalOf(res), newUploadRequest(req, 'tus', length));
      res.setHeader('Location', `${BASE}/${upload.id}`);
      let after: ResumableUpload | undefined = upload;
      // An empty file is complete at creation: tus-js-client sends no PATCH for it.
      if (hasBody(req) || length === 0) {
        after = await runAppend(ctx, req, res, { id: upload.id, offset: 0, busyCode: 'upload_locked' });
        if (!after) return;
      }
      setUploadHeaders(res, after);
      res.status(201).end();
    },
  });
}

function tusHeadRoute(ctx: ApiContext): RouteSpec {
  return defineRoute({
    method: 'head',
    path: `${BASE}/:id`,
    summary: 'tus offset retrieval (Upload-Offset, Upload-Length, Upload-Expires; Upload-Job-Id once complete)',
    tag: 'uploads',
    permission: 'file:upload',
    params: idParams,
    before: [tusHeaders],
    quietSuccess: true,
    responses: { 200: { description: 'the upload’s durable offset' }, ...errors(401, 403, 404, 412) },
    handler: async (req, res, { params }) => {
      const deps = resumableDeps(ctx);
      const upload = await completeIfAllowed(ctx, req, res, await findOwnUpload(deps, principalOf(res), params.id), 'upload_locked');
      setUploadHeaders(res, upload);
      res.status(200).end();
    },
  });
}

function tusPatchRoute(ctx: ApiContext): RouteSpec {
  return defineRoute({
    method: 'patch',
    path: `${BASE}/:id`,
    summary: 'tus append at Upload-Offset; the last byte turns the upload into an ingest job (Upload-Job-Id)',
    tag: 'uploads',
    permission: 'file:upload',
    mode: 'upload',
    params: idParams,
    before: [tusHeaders],
    responses: { 204: { description: 'appended; Upload-Offset is the new offset' }, ...errors(400, 401, 403, 404, 409, 412, 413, 415, 423, 507) },
    handler: async (req, res, { params }) => {
      assertChunkType(req);
      const offset = parseByteCount(req, 'Upload-Offset', true)!;
      const upload = await runAppend(ctx, req, res, { id: params.id, offset, busyCode: 'upload_locked' });
      if (!upload) return;
      setUploadHeaders(res, upload);
      res.status(204).end();
    },
  });
}

function tusDeleteRoute(ctx: ApiContext): RouteSpec {
  return defineRoute({
    method: 'delete',
    path: `${BASE}/:id`,
    summary: 'tus termination: the upload and its bytes are removed (a completed upload’s job stays)',
    tag: 'uploads',
    permission: 'file:upload',
    params: idParams,
    before: [tusHeaders],
    responses: { 204: { description: 'terminated' }, ...errors(401, 403, 404, 412, 423) },
    handler: async (_req, res, { params }) => {
      await cancelUpload(resumableDeps(ctx), principalOf(res), params.id, 'upload_locked');
      res.status(204).end();
    },
  });
}

export function resumableTusRoutes(ctx: ApiContext): RouteSpec[] {
  return [tusOptionsRoute(ctx), tusCreateRoute(ctx), tusHeadRoute(ctx), tusPatchRoute(ctx), tusDeleteRoute(ctx)];
}
