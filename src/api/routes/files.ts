// GET/HEAD /api/v1/files/{id} (bytes: Range, ETag, 304) and GET /api/v1/files/{id}/metadata.
import type { Request, Response } from 'express';
import { z } from 'zod';
import { pipeline } from 'node:stream/promises';
import { getFileMetadata, getServableFile, openFileContent, readFileRange, SMALL_RANGE_MAX_BYTES } from '../../shared/domain/file-queries.js';
import type { ServableFile } from '../../shared/domain/servable-files.js';
import { AppError } from '../../shared/errors.js';
import type { ApiContext } from '../context.js';
import { decideRange } from '../http/range.js';
import { defineRoute, type RouteSpec } from '../http/route-spec.js';
import { errors } from '../http/openapi-errors.js';
import { actingPrincipalOf } from '../auth.js';
import { fileMetadataSchema } from '../../contract/files.js';

function contentDisposition(fileName: string): string {
  // RFC 8187 ext-value: UTF-8, percent-encoding everything outside attr-char.
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename*=UTF-8''${encoded}`;
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

interface FileHeaders {
  etag: string;
  lastModified: string;
  contentDisposition: string;
}

/** Header values of a cached row, made once per row read rather than once per request (Range readers repeat). */
const headersOfRow = new WeakMap<ServableFile, FileHeaders>();

function fileHeaders(servable: ServableFile): FileHeaders {
  let headers = headersOfRow.get(servable);
  if (!headers) {
    const file = servable.metadata;
    headers = { etag: `"${file.sha256}"`, lastModified: new Date(file.createdAt).toUTCString(), contentDisposition: contentDisposition(file.fileName) };
    headersOfRow.set(servable, headers);
  }
  return headers;
}

async function sendFile(ctx: ApiContext, req: Request, res: Response, servable: ServableFile): Promise<void> {
  const file = servable.metadata;
  const { etag, lastModified, contentDisposition: disposition } = fileHeaders(servable);
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', lastModified);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Cache-Control', 'private, max-age=0, must-revalidate');
  if (etagMatches(req.header('if-none-match'), etag)) {
    res.status(304).end();
    return;
  }
  res.setHeader('Content-Type', file.contentType);
  res.setHeader('Content-Disposition', disposition);
  // If-Range: honour the Range only while the client's copy is this one.
  const ifRange = req.header('if-range');
  const rangeHeader = ifRange && ifRange.trim() !== etag ? undefined : req.header('range');
  const decision = decideRange(rangeHeader, file.size);
  if (decision.kind === 'unsatisfiable') {
    res.setHeader('Content-Range', `bytes */${file.size}`);
    throw new AppError('range_not_satisfiable', `range ${req.header('range')} is outside the ${file.size} bytes of this file`);
  }
  const range = decision.kind === 'partial' ? decision.range : undefined;
  const length = range ? range.end - range.start + 1 : file.size;
  res.setHeader('Content-Length', String(length));
  if (range) {
    res.status(206).setHeader('Content-Range', `bytes ${range.start}-${range.end}/${file.size}`);
  } else {
    res.status(200);
  }
  if (req.method === 'HEAD' || length === 0) {
    res.end();
    return;
  }
  if (range && length <= SMALL_RANGE_MAX_BYTES) {
    // A few KiB: one read and one write cost less CPU than a stream (bench/ download scenario).
    res.end(await readFileRange(ctx.blobStore, servable, range));
    return;
  }
  const stream = await openFileContent(ctx.blobStore, file, range);
  try {
    await pipeline(stream, res);
  } catch (err) {
    // A client that goes away mid-download is normal; anything else is worth a log line.
    if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') ctx.logger.warn({ err, fileId: file.id }, 'download stream failed');
  }
}

const fileParams = z.object({ fileId: z.string().describe('file id (UUID)') });

export function fileRoutes(ctx: ApiContext): RouteSpec[] {
  const download = async (req: Request, res: Response, fileId: string) => {
    // Bytes the scrub found corrupt are never served (409 corrupt); the metadata stays readable.
    const file = await getServableFile(ctx.servableFiles, fileId);
    await sendFile(ctx, req, res, file);
    // Audit trail (issue 17): with AUDIT_READS=true, a GET that served bytes is recorded (buffered, batched).
    if (ctx.audit.recordsReads && req.method === 'GET' && (res.statusCode === 200 || res.statusCode === 206)) {
      const range = res.getHeader('Content-Range');
      const details = { status: res.statusCode, range: typeof range === 'string' ? range : null, bytes: Number(res.getHeader('Content-Length') ?? 0) };
      ctx.audit.download(actingPrincipalOf(req, res), file.metadata, details);
    }
  };
  const bytes = {
    200: { description: 'the bytes', contentType: 'application/octet-stream', schema: z.string().meta({ format: 'binary' }) },
    206: { description: 'the requested byte range', contentType: 'application/octet-stream', schema: z.string().meta({ format: 'binary' }) },
    304: { description: 'not modified (If-None-Match matched the ETag)' },
    ...errors(401, 403, 404, 409, 416),
  };
  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/files/:fileId',
      summary: 'Download a file (Range, If-None-Match, If-Range supported)',
      tag: 'files',
      permission: 'file:read',
      mode: 'download',
      params: fileParams,
      responses: bytes,
      handler: (req, res, { params }) => download(req, res, params.fileId),
    }),
    defineRoute({
      method: 'head',
      path: '/api/v1/files/:fileId',
      summary: 'Headers of a download, without the body',
      tag: 'files',
      permission: 'file:read',
      mode: 'download',
      params: fileParams,
      responses: { 200: { description: 'the headers of GET' }, ...errors(401, 403, 404, 409, 416) },
      handler: (req, res, { params }) => download(req, res, params.fileId),
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/files/:fileId/metadata',
      summary: "A file's metadata",
      tag: 'files',
      permission: 'file:read',
      mode: 'read',
      params: fileParams,
      responses: { 200: { description: 'FileMetadata', schema: fileMetadataSchema }, ...errors(401, 403, 404) },
      handler: async (_req, res, { params }) => {
        res.json(await getFileMetadata(ctx.db, params.fileId));
      },
    }),
  ];
}
