// GET/HEAD /api/v1/files/{id} (bytes: Range, ETag, 304) and GET /api/v1/files/{id}/metadata.
import { Router, type Request, type Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { getFileMetadata, openFileContent } from '../../shared/domain/file-queries.js';
import type { FileMetadata } from '../../shared/domain/file-view.js';
import { assertModeAllows } from '../../shared/domain/modes.js';
import { AppError } from '../../shared/errors.js';
import { requirePermission } from '../auth.js';
import type { ApiContext } from '../context.js';
import { decideRange } from '../http/range.js';

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

async function sendFile(ctx: ApiContext, req: Request, res: Response, file: FileMetadata): Promise<void> {
  const etag = `"${file.sha256}"`;
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', new Date(file.createdAt).toUTCString());
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Cache-Control', 'private, max-age=0, must-revalidate');
  if (etagMatches(req.header('if-none-match'), etag)) {
    res.status(304).end();
    return;
  }
  res.setHeader('Content-Type', file.contentType);
  res.setHeader('Content-Disposition', contentDisposition(file.fileName));
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
  const stream = await openFileContent(ctx.blobStore, file, range);
  try {
    await pipeline(stream, res);
  } catch (err) {
    // A client that goes away mid-download is normal; anything else is worth a log line.
    if ((err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') ctx.logger.warn({ err, fileId: file.id }, 'download stream failed');
  }
}

export function fileRoutes(ctx: ApiContext): Router {
  const router = Router();
  const download = async (req: Request, res: Response) => {
    const file = await getFileMetadata(ctx.db, String(req.params.fileId));
    assertModeAllows(await ctx.modes.current(), 'download');
    await sendFile(ctx, req, res, file);
  };
  router.get('/api/v1/files/:fileId', requirePermission('file:read'), download);
  router.head('/api/v1/files/:fileId', requirePermission('file:read'), download);
  router.get('/api/v1/files/:fileId/metadata', requirePermission('file:read'), async (req, res) => {
    assertModeAllows(await ctx.modes.current(), 'read');
    res.json(await getFileMetadata(ctx.db, String(req.params.fileId)));
  });
  return router;
}
