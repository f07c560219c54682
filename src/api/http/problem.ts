// The one error mapper at the HTTP edge: AppError, outages, multer and body-parser errors -> application/problem+json.
import type { ErrorRequestHandler, Request, Response } from 'express';
import multer from 'multer';
import { AppError, ERROR_STATUS, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { isOutageError } from '../../shared/outage.js';
import { isS3AccessRefused } from '../../shared/storage/s3-errors.js';

/** Seconds a client waits before retrying a 503: long enough for a database or Redis failover, short for a blip. */
export const RETRY_AFTER_SECONDS = 5;

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  422: 'Unprocessable Content',
  423: 'Locked',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

export function sendProblem(res: Response, code: ErrorCode, detail: string, extra: Record<string, unknown> = {}): void {
  const status = ERROR_STATUS[code];
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  if (status === 503) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  res
    .status(status)
    .type('application/problem+json')
    .send(JSON.stringify({ type: 'about:blank', title: TITLES[status] ?? 'Error', status, detail, code, ...extra }));
}

const MULTER_CODES: Record<string, { code: ErrorCode; detail: (field?: string) => string }> = {
  LIMIT_FILE_SIZE: { code: 'payload_too_large', detail: () => 'a file exceeds MAX_UPLOAD_BYTES' },
  LIMIT_FILE_COUNT: { code: 'too_many_files', detail: () => 'too many files in one request (MAX_FILES_PER_UPLOAD)' },
  LIMIT_PART_COUNT: { code: 'payload_too_large', detail: () => 'too many parts in the multipart body' },
  LIMIT_FIELD_KEY: { code: 'validation_failed', detail: () => 'a field name is too long' },
  LIMIT_FIELD_VALUE: { code: 'payload_too_large', detail: (f) => `field '${f}' is too long` },
  LIMIT_FIELD_COUNT: { code: 'validation_failed', detail: () => 'too many fields in the multipart body' },
  LIMIT_UNEXPECTED_FILE: { code: 'validation_failed', detail: (f) => `unexpected file field '${f}': files go in parts named 'file'` },
};

/**
 * The client went away mid-request (an aborted upload): multer reports 'Request aborted', raw-body
 * 'request.aborted', Node the request stream's ECONNRESET 'aborted'. Nobody is left to answer.
 */
function clientGone(req: Request, res: Response, err: unknown): boolean {
  return isAbortError(err) || req.readableAborted || !res.socket || res.socket.destroyed;
}

function isAbortError(err: unknown): boolean {
  const e = (err ?? {}) as { message?: unknown; type?: unknown; code?: unknown };
  if (e.message === 'Request aborted' || e.type === 'request.aborted') return true;
  return e.code === 'ECONNRESET' && e.message === 'aborted';
}

export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const log = (req as { log?: Logger }).log ?? logger;
    if (clientGone(req, res, err)) {
      res.destroy();
      // Nobody is left to answer. An abort is not worth an error line (the access log records the request); a
      // real fault that happened to meet a departed client still is.
      if (isAbortError(err)) log.info({ err: err instanceof Error ? err.message : String(err) }, 'client closed the request');
      else if (!(err instanceof AppError)) log.error({ err }, 'unhandled error (the client had gone)');
      return;
    }
    if (res.headersSent) {
      res.destroy(err instanceof Error ? err : undefined);
      return;
    }
    if (err instanceof AppError) {
      sendProblem(res, err.code, err.message, err.details ?? {});
      return;
    }
    if (err instanceof multer.MulterError) {
      const mapped = MULTER_CODES[err.code] ?? { code: 'validation_failed' as const, detail: () => err.message };
      sendProblem(res, mapped.code, mapped.detail(err.field), err.field ? { parameter: err.field } : {});
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    // body-parser (JSON) and busboy (multipart) report malformed bodies with a 4xx status or a known message.
    if (e.type === 'entity.parse.failed') return sendProblem(res, 'validation_failed', 'request body is not valid JSON');
    if (e.type === 'entity.too.large') return sendProblem(res, 'payload_too_large', 'request body too large');
    if (typeof e.message === 'string' && /multipart|boundary|unexpected end of form|malformed part header/i.test(e.message)) {
      return sendProblem(res, 'validation_failed', `malformed multipart body: ${e.message}`);
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      return sendProblem(res, 'validation_failed', e.message ?? 'bad request');
    }
    if (isOutageError(err)) {
      log.warn({ err }, 'dependency unavailable');
      return sendProblem(res, 'unavailable', 'PostgreSQL, Redis or the blob store cannot be reached; retry later');
    }
    if (isS3AccessRefused(err)) {
      // The operator's fault (a bucket or credentials), not the client's: a retry succeeds once it is mended.
      log.error({ err }, 'the blob store refuses this element (bucket missing or credentials refused)');
      return sendProblem(res, 'unavailable', 'the blob store cannot be used right now; retry later');
    }
    // Logged once, on the request's logger: it carries the request id the answer points to.
    log.error({ err }, 'unhandled error');
    sendProblem(res, 'internal', 'internal error; the request id in X-Request-Id identifies it in the logs');
  };
}
