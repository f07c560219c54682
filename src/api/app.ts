// The Express app factory: the request edge (ids, logs, metrics), JSON bodies, routes, problem+json errors.
import express, { type Express, type RequestHandler } from 'express';
import { AppError } from '../shared/errors.js';
import type { ApiContext } from './context.js';
import { requestEdge } from './http/access-log.js';
import { problemHandler } from './http/problem.js';
import { mountRoutes } from './http/route-spec.js';
import { AdminSessions } from './admin-session.js';
import { ADMIN_COOKIES_PATH, adminCookies, bullBoardRouter } from './routes/admin.js';
import { DOCS_ASSETS_PATH, docsAssets } from './routes/docs.js';
import { allRoutes } from './routes/index.js';

/**
 * JSON request bodies of /api/v1. A request without a body (no Content-Length, no Transfer-Encoding: a GET, a
 * status poll) and an upload (multipart) skip the parser at once: it would only find there is nothing for it and
 * pass it on, which cost more than it sounds on the most frequent requests.
 */
function jsonBodies(): RequestHandler {
  const json = express.json({ limit: '1mb' });
  return (req, res, next) => {
    const { headers } = req;
    if (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
      next();
      return;
    }
    const type = headers['content-type'];
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
  // nosniff, request id, Host check, access log, metrics, audit of refusals: one layer (http/access-log.ts).
  app.use(requestEdge(app, ctx.logger, ctx.metrics.requests, ctx.audit));
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
