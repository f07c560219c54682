// The one error mapper at the HTTP edge: AppError, multer and body-parser errors -> application/problem+json.
import type { ErrorRequestHandler, Response } from 'express';
import multer from 'multer';
import { AppError, ERROR_STATUS, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  416: 'Range Not Satisfiable',
  422: 'Unprocessable Content',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

export function sendProblem(res: Response, code: ErrorCode, detail: string, extra: Record<string, unknown> = {}): void {
  const status = ERROR_STATUS[code];
  if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
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

export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
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
    (req as { log?: Logger }).log?.error({ err }, 'unhandled error') ?? logger.error({ err }, 'unhandled error');
    sendProblem(res, 'internal', 'internal error; the request id in X-Request-Id identifies it in the logs');
  };
}
