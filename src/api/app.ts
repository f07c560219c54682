// The Express app factory: request ids and logs, metrics, auth for /api/v1, routes, problem+json errors.
import express, { type Express } from 'express';
import { AppError } from '../shared/errors.js';
import type { ApiContext } from './context.js';
import { requestEdge } from './http/access-log.js';
import { problemHandler } from './http/problem.js';
import { auditDenials } from './http/audit-denials.js';
import { mountRoutes } from './http/route-spec.js';
import { AdminSessions } from './admin-session.js';
import { adminCookies, bullBoardRouter } from './routes/admin.js';
import { docsAssets } from './routes/docs.js';
import { allRoutes } from './routes/index.js';

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
