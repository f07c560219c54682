// While PostgreSQL or Redis cannot be reached, routes answer 503 `unavailable` with Retry-After (never 500), the
// liveness probe stays 200, and everything answers again once the service is back. The outage is real: the API
// reaches both services through a TCP proxy that the test cuts.
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createClient } from '../../src/client/index.js';
import { serve } from '../helpers/serve.js';
import { pollUntil } from '../helpers/wait.js';
import { TcpProxy, targetOf } from '../helpers/tcp-proxy.js';
import { createWorld, type World } from '../helpers/world.js';

function expectUnavailable(res: request.Response, route: string): void {
  expect(res.status, `${route}: ${res.text}`).toBe(503);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['retry-after']).toBe('5');
  expect(res.body).toMatchObject({ status: 503, code: 'unavailable' });
  // Driver text (hosts, ports, Prisma invocations) stays in the log.
  expect(res.body.detail).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|prisma|invocation/i);
}

describe('API during a database or Redis outage', () => {
  let world: World;
  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let user: string;

  beforeAll(async () => {
    const testEnv = inject('testEnv');
    pgProxy = await TcpProxy.open(targetOf(testEnv.databaseUrl));
    redisProxy = await TcpProxy.open(targetOf(testEnv.redisUrl));
    world = await createWorld({
      env: { DATABASE_URL: pgProxy.urlFor(testEnv.databaseUrl), REDIS_URL: redisProxy.urlFor(testEnv.redisUrl) },
    });
    user = await world.token('user', 'alice');
  });
  afterAll(async () => {
    await pgProxy?.restore();
    await redisProxy?.restore();
    await world?.close();
    await pgProxy?.close();
    await redisProxy?.close();
  });

  const get = (path: string) => request(world.app).get(path).set('Authorization', `Bearer ${user}`);

  it('answers 503 unavailable with Retry-After while PostgreSQL is down, and 200 once it is back', async () => {
    expect((await get('/api/v1/files/search?q=x')).status).toBe(200);
    pgProxy.cut();
    try {
      for (const path of ['/api/v1/files/search?q=x', '/api/v1/files', `/api/v1/jobs/${randomUUID()}`, `/api/v1/files/${randomUUID()}/metadata`]) {
        expectUnavailable(await get(path), path);
      }
      const upload = await request(world.app)
        .post('/api/v1/files/upload')
        .set('Authorization', `Bearer ${user}`)
        .attach('file', randomBytes(100), 'a.bin');
      expectUnavailable(upload, 'upload');
      expect((await request(world.app).get('/health/live')).status).toBe(200);
      const ready = await request(world.app).get('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.checks.database).toBe('unavailable');
    } finally {
      await pgProxy.restore();
    }
    await pollUntil('search answers again', 10_000, async () => (await get('/api/v1/files/search?q=x')).status === 200);
  });

  it('answers 503 unavailable with Retry-After while Redis is down, and 200 once it is back', async () => {
    redisProxy.cut();
    try {
      expectUnavailable(await get('/api/v1/info'), 'info');
      // An upload needs no Redis to be accepted: its job is durable in PostgreSQL and the requeue sweep enqueues it.
      const upload = await request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${user}`).attach('file', randomBytes(100), 'r.bin');
      expect(upload.status).toBe(202);
      expect((await request(world.app).get('/health/live')).status).toBe(200);
    } finally {
      await redisProxy.restore();
    }
    await pollUntil('info answers again', 15_000, async () => (await get('/api/v1/info')).status === 200);
  });

  it('lets the client ride out the outage: it retries the 503 after Retry-After and gets the answer', async () => {
    const up = await request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${user}`).attach('file', randomBytes(10), 'c.bin');
    expect(up.status).toBe(202);
    const jobId = up.body.jobs[0].id as string;
    const server = await serve(world.app);
    const retries: Array<{ delayMs: number; reason: string }> = [];
    // Retry-After: 5 is capped by retryMaxMs (200); without the header the backoff would stay under retryBaseMs (5).
    const client = createClient({
      url: server.url,
      token: user,
      retryBaseMs: 5,
      retryMaxMs: 200,
      onRetry: (r) => {
        retries.push(r);
        void pgProxy.restore();
      },
    });
    pgProxy.cut();
    try {
      await expect(client.job(jobId)).resolves.toMatchObject({ id: jobId });
    } finally {
      await pgProxy.restore();
      await server.close();
    }
    expect(retries[0]).toMatchObject({ delayMs: 200, reason: 'http 503' });
  });
});
