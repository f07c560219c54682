// mountRoutes sends a request only to the routes of its path's group (issue 13: the status poll no longer tests its
// path against the thirty routes in front of it). Every answer must stay the one a single router holding every
// route in order gives: case-insensitive paths, a trailing slash, HEAD through GET, OPTIONS, the first of two
// routes that both match, and a route whose group is not literal (it belongs to every group).
import express, { Router, type Express } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { ApiContext } from '../../src/api/context.js';
import { defineRoute, mountRoutes, type HttpMethod, type RouteSpec } from '../../src/api/http/route-spec.js';

/** A public route answering which spec it is (public routes never touch the context). */
function spec(method: HttpMethod, path: string, name = `${method} ${path}`): RouteSpec {
  return defineRoute({
    method, path, summary: name, tag: 'test', permission: 'public', responses: {},
    handler: (_req, res) => {
      res.json({ route: name });
    },
  });
}

const SPECS: RouteSpec[] = [
  spec('get', '/'),
  spec('get', '/health/live'),
  spec('get', '/api/v1/jobs/:jobId/events'),
  spec('get', '/api/v1/jobs/:jobId'),
  spec('get', '/api/v1/jobs'),
  spec('post', '/api/v1/jobs'),
  spec('get', '/api/v1/files/search'),
  spec('get', '/api/v1/files/:fileId'),
  spec('delete', '/api/v1/files/:fileId'),
  // A literal route after a non-literal one that also matches its paths: the non-literal one must still win.
  spec('get', '/api/:version/echo', 'versioned echo'),
  spec('get', '/api/v1/echo', 'v1 echo'),
  spec('get', '/:page/about', 'any about'),
  spec('get', '/docs/about', 'docs about'),
  spec('get', '/docs/*splat', 'docs files'),
];

function grouped(): Express {
  const app = express();
  app.use(mountRoutes({} as ApiContext, SPECS));
  return app;
}

/** The reference: every spec on one router, in order, as the app mounted them before groups. */
function single(): Express {
  const app = express();
  const router = Router();
  for (const s of SPECS) router[s.method](s.path, (req, res) => s.handler(req, res, { params: {}, query: {}, body: undefined } as never));
  app.use(router);
  return app;
}

const PROBES: Array<[HttpMethod, string]> = [
  ['get', '/'],
  ['get', '/health/live'],
  ['get', '/HEALTH/Live/'],
  ['get', '/api/v1/jobs/abc'],
  ['get', '/API/V1/JOBS/abc'],
  ['get', '/api/v1/jobs/abc/'],
  ['get', '/api/v1/jobs/abc/events'],
  ['get', '/api/v1/jobs?ids=a,b'],
  ['get', '/api/v1/jobs/'],
  ['head', '/api/v1/jobs/abc'],
  ['options', '/api/v1/jobs'],
  ['options', '/api/v1/files/abc'],
  ['post', '/api/v1/jobs'],
  ['delete', '/api/v1/jobs/abc'],
  ['get', '/api/v1/files/search'],
  ['get', '/api/v1/files/abc'],
  ['get', '/api/v1/echo'],
  ['get', '/api/v2/echo'],
  ['get', '/docs/about'],
  ['get', '/docs/a/b.js'],
  ['get', '/other/about'],
  ['get', '/api/v1'],
  ['get', '/api//v1/jobs/abc'],
  ['get', '/api/v1/jo%62s/abc'],
  ['get', '/nowhere'],
];

describe('route groups', () => {
  it('answers every probe as one router holding every route in order does', async () => {
    const [ours, reference] = [grouped(), single()];
    for (const [method, path] of PROBES) {
      const [a, b] = await Promise.all([request(ours)[method](path), request(reference)[method](path)]);
      const label = `${method.toUpperCase()} ${path}`;
      expect({ status: a.status, body: a.body as unknown, allow: a.headers.allow }, label).toEqual({ status: b.status, body: b.body as unknown, allow: b.headers.allow });
    }
  });

  it('lets the first matching route answer, also when it is in another group than later ones', async () => {
    const app = grouped();
    expect((await request(app).get('/api/v1/echo')).body).toEqual({ route: 'versioned echo' });
    expect((await request(app).get('/docs/about')).body).toEqual({ route: 'any about' });
    expect((await request(app).get('/API/V1/JOBS/abc')).body).toEqual({ route: 'get /api/v1/jobs/:jobId' });
  });
});
