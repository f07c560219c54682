// The access log keeps credentials out: request Authorization and Cookie, and the session cookie a response sets;
// a routine status poll is a debug line, its failures are logged as any request's.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { createLogger } from '../../src/shared/logger.js';
import { stageFileJob } from '../helpers/ingest-jobs.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

describe('access log', () => {
  let world: World;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    world = await createWorld();
  });
  afterAll(async () => world?.close());

  /** The world's app again, logging at `level` (info by default) into `lines`. */
  function loggedApp(level = 'info') {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    return createApp({ ...world.api, logger: createLogger({ logLevel: level }, 'test', sink) });
  }

  it('writes neither the admin token, nor the session cookie it set, nor the cookie sent back', async () => {
    const app = loggedApp();
    const admin = await world.token('admin', 'root');
    const login = await request(app).post('/admin/session').set('Authorization', `Bearer ${admin}`);
    expect(login.status).toBe(204);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const session = cookie.split('=')[1]!;
    expect((await request(app).get('/admin/queues/api/queues').set('Cookie', cookie)).status).toBe(200);

    await until('both requests in the access log', () => lines.filter((l) => l.req).length >= 2, 5_000, 20);
    const text = lines.map((l) => JSON.stringify(l)).join('\n');
    expect(text).not.toContain(session);
    expect(text).not.toContain(admin);

    const loginLine = lines.find((l) => (l.req as { url?: string } | undefined)?.url === '/admin/session');
    expect(loginLine, 'the sign-in request is still logged').toBeTruthy();
    expect((loginLine!.res as { headers: Record<string, unknown> }).headers['set-cookie']).toBe('[redacted]');
    expect((loginLine!.req as { headers: Record<string, unknown> }).headers.authorization).toBe('[redacted]');
    const pageLine = lines.find((l) => (l.req as { url?: string } | undefined)?.url === '/admin/queues/api/queues');
    expect((pageLine!.req as { headers: Record<string, unknown> }).headers.cookie).toBe('[redacted]');
  });

  it('logs a successful status poll at debug only, and a failed one at warn with its request id', async () => {
    const token = await world.token('user', 'alice');
    const job = await stageFileJob(world, Buffer.from('polled'));
    const urlOf = (l: Record<string, unknown>) => (l.req as { url?: string } | undefined)?.url;
    const poll = `/api/v1/jobs/${job.id}`;
    const missing = `/api/v1/jobs/${randomUUID()}`;

    const atInfo = loggedApp();
    expect((await request(atInfo).get(poll).set('Authorization', `Bearer ${token}`)).status).toBe(200);
    const failed = await request(atInfo).get(missing).set('Authorization', `Bearer ${token}`).set('X-Request-Id', 'poll-404');
    expect(failed.status).toBe(404);
    expect(failed.headers['x-request-id']).toBe('poll-404');
    await until('the failed poll in the access log', () => lines.some((l) => urlOf(l) === missing), 5_000, 20);
    expect(lines.find((l) => urlOf(l) === missing)).toMatchObject({ level: 40, reqId: 'poll-404', res: { statusCode: 404 } });
    expect(lines.filter((l) => urlOf(l) === poll)).toEqual([]);

    const atDebug = loggedApp('debug');
    expect((await request(atDebug).get(poll).set('Authorization', `Bearer ${token}`)).status).toBe(200);
    await until('the poll at debug', () => lines.some((l) => urlOf(l) === poll), 5_000, 20);
    expect(lines.find((l) => urlOf(l) === poll)).toMatchObject({ level: 20, msg: 'request completed', res: { statusCode: 200 } });
  });
});
