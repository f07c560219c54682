// The per-request edge, the first middleware of every request: nosniff, request id, the Host check, and when the
// response ends one access-log line, the request metrics and the audit of a refusal. One middleware rather than
// four, because status polling is the most frequent request and every Express layer it passes costs: no child
// logger unless something logs on the request, nothing built for a line that is not written, one shared listener
// per response.
import { randomUUID } from 'node:crypto';
import type { Express, Request, RequestHandler, Response } from 'express';
import { pino, type Level } from 'pino';
import type { AuditRecorder } from '../../shared/domain/audit-recorder.js';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { RequestMetrics } from '../../shared/request-metrics.js';
import { recordDenial } from './audit-denials.js';

declare module 'http' {
  interface IncomingMessage {
    /** The request id: the client's X-Request-Id when it is well formed, else a new UUID. */
    id?: string;
    /** A child logger carrying the request id, made on first use. */
    log: Logger;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A request slower than this is logged at info even on a quiet route. */
export const SLOW_REQUEST_MS = 1_000;

const STARTED = Symbol('startedAt');
const UNMATCHED = { path: 'unmatched' };
/** Probes and scrapes: counted in the metrics, not written to the access log. */
const UNLOGGED = new Set(['/health/live', '/metrics']);

type Timed = Response & { [STARTED]?: number };

/**
 * Marks a response whose success is routine (a status poll): logged at debug, unless it was slow. Its failures
 * are logged as every other request's.
 */
export function quietSuccess(res: Response): void {
  res.locals.quietSuccess = true;
}

/** The level of the access-log line. */
function levelOf(res: Response, finished: boolean, ms: number): Level {
  if (finished && res.statusCode >= 400) return res.statusCode >= 500 ? 'error' : 'warn';
  return finished && ms < SLOW_REQUEST_MS && res.locals.quietSuccess === true ? 'debug' : 'info';
}

/**
 * Mounts the edge on app: every response gets X-Content-Type-Options: nosniff (downloads carry the uploader's
 * Content-Type: no browser may second-guess it into HTML or script, and no route or error page can forget it),
 * every request an id (also answered as X-Request-Id) and, through app.request, a lazily made req.log; an HTTP/1.1
 * request without Host is refused. When its response ends (or the client leaves) the metrics are counted, a 401 or
 * 403 is audited, and the access line, shaped as pino-http's (reqId, req, res, responseTime), is written if its
 * level is enabled.
 */
export function requestEdge(app: Express, logger: Logger, metrics: RequestMetrics, audit: Pick<AuditRecorder, 'denied'>): RequestHandler {
  const access = logger.child({}, { serializers: { req: pino.stdSerializers.req, res: pino.stdSerializers.res } });
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    get(this: Request) {
      const log = logger.child({ reqId: this.id });
      Object.defineProperty(this, 'log', { value: log, writable: true, configurable: true });
      return log;
    },
    set(this: Request, log: Logger) {
      Object.defineProperty(this, 'log', { value: log, writable: true, configurable: true });
    },
  });

  function onClose(this: Timed): void {
    const res = this;
    const req = res.req as Request;
    const ms = performance.now() - (res[STARTED] ?? 0);
    const finished = res.writableFinished;
    if (finished) {
      const route = (req.route as { path?: unknown } | undefined) ?? UNMATCHED;
      const path = route === UNMATCHED ? UNMATCHED.path : String(route.path);
      metrics.observe(route, route === UNMATCHED ? '' : req.baseUrl, path, req.method, res.statusCode, ms / 1_000);
      recordDenial(audit, req, res);
    }
    const level = levelOf(res, finished, ms);
    // The url last: hashing a long query string (100 job ids) costs more than the rest of this check.
    if (!access.isLevelEnabled(level) || UNLOGGED.has(req.url)) return;
    const responseTime = Math.round(ms);
    const msg = !finished ? 'request aborted' : res.statusCode >= 500 ? 'request errored' : 'request completed';
    access[level]({ reqId: req.id, req, res, responseTime, ...(responseTime >= SLOW_REQUEST_MS ? { slow: true } : {}) }, msg);
  }

  return (req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const { headers } = req;
    const incoming = headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.id = id;
    res.setHeader('X-Request-Id', id);
    (res as Timed)[STARTED] = performance.now();
    res.once('close', onClose);
    // Node answers a missing Host with an empty 400 unless the server is made with requireHostHeader: false; then
    // this refuses it in the shape of every other error.
    if (req.httpVersion === '1.1' && !headers.host) throw new AppError('validation_failed', 'HTTP/1.1 requires a Host header', { parameter: 'Host' });
    next();
  };
}
