// Authentication and roles (SPEC §3): RS256 only, exp required, refresh tokens and unknown roles refused.
import { createHmac, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SignJWT, importPKCS8 } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createWorld, type World } from '../helpers/world.js';

const b64url = (v: string | Buffer) => Buffer.from(v).toString('base64url');

describe('authentication', () => {
  let world: World;
  let publicPem: string;

  beforeAll(async () => {
    world = await createWorld();
    publicPem = await fs.readFile(path.join(world.config.devKeysPath, 'public.pem'), 'utf8');
  });
  afterAll(async () => world?.close());

  const jobsWith = (token?: string) => {
    const req = request(world.app).get('/api/v1/jobs?ids=00000000-0000-4000-8000-000000000000');
    return token === undefined ? req : req.set('Authorization', `Bearer ${token}`);
  };

  const expect401 = async (token?: string) => {
    const res = await jobsWith(token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body).toMatchObject({ status: 401, code: 'unauthorized' });
    return res;
  };

  it('accepts a valid RS256 token', async () => {
    const res = await jobsWith(await world.token('readonly'));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ jobs: [] });
  });

  it('answers 401 without a token', async () => {
    await expect401();
    const res = await request(world.app).get('/api/v1/jobs?ids=x').set('Authorization', 'Basic dXNlcjpwYXNz');
    expect(res.status).toBe(401);
  });

  it('answers 401 to alg none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify({ sub: 'eve', role: 'admin', exp: now + 600 }))}.`;
    await expect401(token);
  });

  it('answers 401 to HS256 signed with the public key as the secret', async () => {
    const now = Math.floor(Date.now() / 1000);
    const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64url(JSON.stringify({ sub: 'eve', role: 'admin', exp: now + 600 }));
    const sig = createHmac('sha256', publicPem).update(`${head}.${body}`).digest('base64url');
    await expect401(`${head}.${body}.${sig}`);
  });

  it('answers 401 to an expired token and to one without exp', async () => {
    const key = await importPKCS8(await fs.readFile(path.join(world.config.devKeysPath, 'private.pem'), 'utf8'), 'RS256');
    const expired = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'RS256' }).setSubject('a').setExpirationTime(Math.floor(Date.now() / 1000) - 120).sign(key);
    const res = await expect401(expired);
    expect(res.body.detail).toMatch(/expired/);
    const noExp = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'RS256' }).setSubject('a').sign(key);
    await expect401(noExp);
  });

  it('refuses a token it remembers from earlier requests once it expired, and checks its role on every request', async () => {
    const key = await importPKCS8(await fs.readFile(path.join(world.config.devKeysPath, 'private.pem'), 'utf8'), 'RS256');
    const sign = (role: string) =>
      new SignJWT({ role }).setProtectedHeader({ alg: 'RS256' }).setSubject('poller').setExpirationTime(Math.floor(Date.now() / 1000) + 5).sign(key);
    const [reader, user] = [await sign('readonly'), await sign('user')];
    expect((await jobsWith(reader)).status).toBe(200);
    expect((await jobsWith(reader)).status).toBe(200);
    // Remembered, yet its role still may not upload: the permission is checked on every request.
    const upload = () => request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${reader}`).attach('file', Buffer.from('x'), 'x.txt');
    expect((await upload()).status).toBe(403);
    expect((await jobsWith(user)).status).toBe(200);
    // 50 s later: past exp and the 30 s clock tolerance, within the verifier's 60 s memory. Only Date is faked.
    vi.useFakeTimers({ now: Date.now() + 50_000, toFake: ['Date'] });
    try {
      for (const token of [reader, user]) expect((await expect401(token)).body.detail).toBe('token expired');
    } finally {
      vi.useRealTimers();
    }
  });

  it('answers 401 to a token signed by a foreign key', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreign = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'RS256' }).setSubject('mallory').setExpirationTime('5m').sign(privateKey);
    await expect401(foreign);
  });

  it('answers 401 to a refresh token and to garbage', async () => {
    await expect401(await world.token('admin', 'alice', { type: 'refresh' }));
    await expect401('not.a.jwt');
  });

  it('answers 403 to an unknown role instead of granting a default one', async () => {
    const res = await jobsWith(await world.token('superuser'));
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('forbidden');
  });

  it('answers 403 when the role lacks the right (readonly uploading), before any byte is staged', async () => {
    const res = await request(world.app)
      .post('/api/v1/files/upload')
      .set('Authorization', `Bearer ${await world.token('readonly')}`)
      .attach('file', Buffer.from('x'), 'x.txt');
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('forbidden');
    expect(await world.stagedFiles()).toEqual([]);
  });

  it('leaves health and metrics public', async () => {
    expect((await request(world.app).get('/health/live')).body).toEqual({ status: 'ok' });
    const ready = await request(world.app).get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok', storage: 'ok' } });
    const metrics = await request(world.app).get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('artstore_http_requests_total');
    expect(metrics.text).toMatch(/artstore_queue_jobs\{[^}]*state="waiting"/);
    expect(metrics.text).toContain('artstore_wal_entries');
    expect(metrics.text).toContain('artstore_nodejs_eventloop_lag_seconds');
  });
});
