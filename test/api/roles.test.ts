// The role matrix of SPEC §3, walked over every route of the app: 401 without a token, 403 exactly where the
// role lacks the route's permission, never 401/403 on public routes.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminSessions } from '../../src/api/admin-session.js';
import { allRoutes } from '../../src/api/routes/index.js';
import type { RouteSpec } from '../../src/api/http/route-spec.js';
import { can, ROLES } from '../../src/shared/domain/principal.js';
import { createWorld, type World } from '../helpers/world.js';

const SAMPLE_ID = '00000000-0000-4000-8000-000000000000';

function call(world: World, spec: RouteSpec, token?: string) {
  const path = spec.path.replace(/:[A-Za-z]+/g, SAMPLE_ID);
  let req = request(world.app)[spec.method](spec.path === '/api/v1/jobs' ? `${path}?ids=${SAMPLE_ID}` : path);
  if (token) req = req.set('Authorization', `Bearer ${token}`);
  if (spec.method === 'get' && spec.path.endsWith('/events')) req = req.timeout({ deadline: 2_000 });
  return req;
}

describe('role matrix', () => {
  let world: World;
  let specs: RouteSpec[];

  beforeAll(async () => {
    world = await createWorld();
    specs = allRoutes(world.api, new AdminSessions(world.api.redis, world.config.queuePrefix));
  });
  afterAll(async () => world?.close());

  it('covers a permission for every non-public route', () => {
    for (const spec of specs) expect(spec.permission, `${spec.method} ${spec.path}`).toBeTruthy();
  });

  it('answers 401 without a token on every protected route', async () => {
    for (const spec of specs.filter((s) => s.permission !== 'public')) {
      const res = await call(world, spec);
      expect(res.status, `${spec.method} ${spec.path}`).toBe(401);
    }
  });

  for (const role of ROLES) {
    it(`answers 403 exactly where '${role}' lacks the permission`, async () => {
      const token = await world.token(role, `matrix-${role}`);
      for (const spec of specs) {
        const res = await call(world, spec, token).catch((err: { timeout?: number }) => {
          if (err.timeout) return { status: 200 };
          throw err;
        });
        const allowed = spec.permission === 'public' || can({ sub: 'x', role }, spec.permission);
        const label = `${role} ${spec.method.toUpperCase()} ${spec.path} -> ${res.status}`;
        if (allowed) expect([401, 403], label).not.toContain(res.status);
        else expect(res.status, label).toBe(403);
      }
    });
  }

  it('grants what SPEC §3 lists', () => {
    expect(can({ sub: 'r', role: 'readonly' }, 'file:read')).toBe(true);
    expect(can({ sub: 'r', role: 'readonly' }, 'file:upload')).toBe(false);
    expect(can({ sub: 'u', role: 'user' }, 'file:upload')).toBe(true);
    expect(can({ sub: 'u', role: 'user' }, 'file:delete')).toBe(false);
    expect(can({ sub: 'o', role: 'operator' }, 'file:delete')).toBe(true);
    expect(can({ sub: 'o', role: 'operator' }, 'job:read-all')).toBe(true);
    expect(can({ sub: 'o', role: 'operator' }, 'element:mode')).toBe(false);
    expect(can({ sub: 'a', role: 'admin' }, 'element:mode')).toBe(true);
  });
});
