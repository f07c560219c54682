// The Bull Board session cookie ends no later than the admin token it was made from, and is Secure in production.
import { importPKCS8, SignJWT } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevKeyPair } from '../../src/shared/auth/dev-keys.js';
import { SESSION_TTL_SECONDS } from '../../src/api/admin-session.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

/** An admin token signed with the dev keypair that expires at `exp` (seconds since the epoch). */
async function adminToken(world: World, exp: number, claims: Record<string, unknown> = {}): Promise<string> {
  const keys = await ensureDevKeyPair(world.config.devKeysPath);
  return new SignJWT({ role: 'admin', ...claims })
    .setProtectedHeader({ alg: 'RS256' })
    .setSubject('root')
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(await importPKCS8(keys.privateKeyPem, 'RS256'));
}

const maxAgeOf = (setCookie: string) => Number(/Max-Age=(\d+)/.exec(setCookie)?.[1]);
const nowSeconds = () => Math.floor(Date.now() / 1_000);

describe('admin session', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld();
  });
  afterAll(async () => world?.close());

  it('lasts the full session time for a long-lived token, without Secure over plain http outside production', async () => {
    const res = await request(world.app).post('/admin/session').set('Authorization', `Bearer ${await adminToken(world, nowSeconds() + 3_600)}`);
    expect(res.status).toBe(204);
    const setCookie = String(res.headers['set-cookie']);
    expect(maxAgeOf(setCookie)).toBe(SESSION_TTL_SECONDS);
    expect(setCookie).not.toMatch(/;\s*Secure/i);
  });

  it('ends when the token expires: cookie, Redis entry and access', async () => {
    const exp = nowSeconds() + 3;
    const res = await request(world.app).post('/admin/session').set('Authorization', `Bearer ${await adminToken(world, exp)}`);
    expect(res.status).toBe(204);
    const setCookie = String(res.headers['set-cookie']);
    expect(maxAgeOf(setCookie)).toBeGreaterThanOrEqual(1);
    expect(maxAgeOf(setCookie)).toBeLessThanOrEqual(3);
    const cookie = setCookie.split(';')[0]!;
    const ttl = await world.api.redis.ttl(`${world.config.queuePrefix}:admin-session:${cookie.split('=')[1]}`);
    expect(ttl).toBeGreaterThanOrEqual(1);
    expect(ttl).toBeLessThanOrEqual(3);
    expect((await request(world.app).get('/admin/queues/api/queues').set('Cookie', cookie)).status).toBe(200);

    // The verifier would still accept the token itself for 30 s of clock skew; the session must not outlive exp.
    let status = 200;
    const sessionEnded = async () => (status = (await request(world.app).get('/admin/queues/api/queues').set('Cookie', cookie)).status) !== 200;
    await until('the session to end', sessionEnded, 10_000, 100);
    expect(status).toBe(401);
    expect(nowSeconds()).toBeGreaterThanOrEqual(exp - 1);
  });

  it('refuses a session for a token already past its exp (within the clock tolerance)', async () => {
    const res = await request(world.app).post('/admin/session').set('Authorization', `Bearer ${await adminToken(world, nowSeconds() - 5)}`);
    expect(res.status).toBe(401);
    expect(res.body.detail).toBe('token expired');
    expect(res.headers['set-cookie']).toBeUndefined();
  });
});

describe('admin session in production', () => {
  let world: World;
  const ISSUER = 'https://idp.example.test/';
  const AUDIENCE = 'artstore-test';

  beforeAll(async () => {
    // Production refuses the dev keypair's file, so its public key is handed over as text (a test stand-in for an IdP).
    const probe = await createWorld();
    const keys = await ensureDevKeyPair(probe.config.devKeysPath);
    await probe.close();
    world = await createWorld({ env: { NODE_ENV: 'production', AUDIT_SIGNING_KEY_FILE: '/run/secrets/audit_signing_key', JWT_PUBLIC_KEY: keys.publicKeyPem, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE } });
  });
  afterAll(async () => world?.close());

  it('sets Secure even when the request reached it over plain http (TLS ends at the proxy)', async () => {
    const token = await adminToken(world, nowSeconds() + 600, { iss: ISSUER, aud: AUDIENCE });
    const res = await request(world.app).post('/admin/session').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(204);
    expect(String(res.headers['set-cookie'])).toMatch(/;\s*Secure/i);
  });
});
