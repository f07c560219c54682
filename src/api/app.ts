// The Express app factory: request ids and logs, metrics, auth for /api/v1, routes, problem+json errors.
import express, { type Express, type RequestHandler } from 'express';
import { AppError } from '../shared/errors.js';
import type { ApiContext } from './context.js';
import { requestEdge } from './http/access-log.js';
import { problemHandler } from './http/problem.js';
import { auditDenials } from './http/audit-denials.js';
import { mountRoutes } from './http/route-spec.js';
import { AdminSessions } from './admin-session.js';
import { ADMIN_COOKIES_PATH, adminCookies, bullBoardRouter } from './routes/admin.js';
import { DOCS_ASSETS_PATH, docsAssets } from './routes/docs.js';
import { allRoutes } from './routes/index.js';

/**
 * JSON request bodies of /api/v1. An upload (multipart) skips the parser at once: it would only find the type is
 * not JSON and pass it on, which cost more than it sounds on the most frequent request.
 */
function jsonBodies(): RequestHandler {
  const json = express.json({ limit: '1mb' });
  return (req, res, next) => {
    const type = req.headers['content-type'];
    if (type !== undefined && /^multipart\/form-data\s*;/i.test(type)) {
      next();
      return;
    }
    json(req, res, next);
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
  app.use(requestEdge(app, ctx.logger, ctx.metrics.requests));
  app.use(auditDenials(ctx.audit));
  // Node answers a missing Host with an empty 400 unless the server is made with requireHostHeader: false; then
  // this refuses it in the shape of every other error.
  app.use((req, _res, next) => {
    if (req.httpVersion === '1.1' && !req.headers.host) throw new AppError('validation_failed', 'HTTP/1.1 requires a Host header', { parameter: 'Host' });
    next();
  });
  app.use(DOCS_ASSETS_PATH, docsAssets());
  app.use(ADMIN_COOKIES_PATH, adminCookies());
  app.use('/api/v1', jsonBodies());
  const sessions = new AdminSessions(ctx.redis, ctx.config.queuePrefix);
  app.use(mountRoutes(ctx, allRoutes(ctx, sessions)));
  app.use(bullBoardRouter(ctx, sessions));
  app.use((req) => {
    throw new AppError('not_found', `no route ${req.method} ${req.path}`);
  });
  app.use(problemHandler(ctx.logger));
  return app;
}
