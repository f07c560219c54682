// The Express app factory: request ids and logs, metrics, auth for /api/v1, routes, problem+json errors.
import { randomUUID } from 'node:crypto';
import express, { type Express, type RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import { AppError } from '../shared/errors.js';
import type { ApiContext } from './context.js';
import { problemHandler } from './http/problem.js';
import { mountRoutes } from './http/route-spec.js';
import { AdminSessions } from './admin-session.js';
import { adminCookies, bullBoardRouter } from './routes/admin.js';
import { docsAssets } from './routes/docs.js';
import { allRoutes } from './routes/index.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function httpMetrics(ctx: ApiContext): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      // The route template (not the raw path) keeps label cardinality bounded.
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      const labels = { method: req.method, route, status: String(res.statusCode) };
      ctx.metrics.httpRequests.inc(labels);
      ctx.metrics.httpDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

export function createApp(ctx: ApiContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  // Downloads carry the uploader's Content-Type: never let a browser second-guess it into HTML or script.
  // Set on every response so no route (or error page) can forget it.
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.use(
    pinoHttp({
      logger: ctx.logger,
      genReqId: (req, res) => {
        const incoming = req.headers['x-request-id'];
        const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      autoLogging: { ignore: (req) => req.url === '/health/live' || req.url === '/metrics' },
      // req.log binds only the request id (serialising the whole request for every child logger cost more CPU
      // than a status read); the request itself is still in each access-log line.
      quietReqLogger: true,
      customLogLevel: (_req, res, err) => {
        const level = err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
        // 'silent' skips building the log line at all (pino-http builds it before pino drops it).
        return ctx.logger.isLevelEnabled(level) ? level : 'silent';
      },
    }),
  );
  app.use(httpMetrics(ctx));
  // Node answers a missing Host with an empty 400 unless the server is made with requireHostHeader: false; then
  // this refuses it in the shape of every other error.
  app.use((req, _res, next) => {
    if (req.httpVersion === '1.1' && !req.headers.host) throw new AppError('validation_failed', 'HTTP/1.1 requires a Host header', { parameter: 'Host' });
    next();
  });
  app.use(docsAssets());
  app.use(adminCookies());
  app.use('/api/v1', express.json({ limit: '1mb' }));
  const sessions = new AdminSessions(ctx.redis, ctx.config.queuePrefix);
  app.use(mountRoutes(ctx, allRoutes(ctx, sessions)));
  app.use(bullBoardRouter(ctx, sessions));
  app.use((req) => {
    throw new AppError('not_found', `no route ${req.method} ${req.path}`);
  });
  app.use(problemHandler(ctx.logger));
  return app;
}
