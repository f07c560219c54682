// Bull Board at /admin/queues: admins by bearer or by the session cookie a browser gets at /admin/session.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from '../helpers/world.js';

describe('queue dashboard', () => {
  let world: World;
  let admin: string;

  beforeAll(async () => {
    world = await createWorld();
    admin = await world.token('admin', 'root');
  });
  afterAll(async () => world?.close());

  it('refuses anonymous (401) and non-admin (403) visitors, page and API alike', async () => {
    for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
      expect((await request(world.app).get(path)).status).toBe(401);
      const op = await request(world.app).get(path).set('Authorization', `Bearer ${await world.token('operator', 'olga')}`);
      expect(op.status).toBe(403);
      expect((await request(world.app).get(path).set('Cookie', 'artstore_admin=forged-session-id-000000000000000000000000000')).status).toBe(401);
    }
    expect((await request(world.app).post('/admin/session').set('Authorization', `Bearer ${await world.token('user', 'u')}`)).status).toBe(403);
    expect((await request(world.app).post('/admin/session')).status).toBe(401);
  });

  it('serves the page, its assets and its API to an admin with the session cookie', async () => {
    const login = await request(world.app).post('/admin/session').set('Authorization', `Bearer ${admin}`);
    expect(login.status).toBe(204);
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toMatch(/artstore_admin=[A-Za-z0-9_-]{43}/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).toMatch(/Path=\/admin/);
    const cookie = setCookie.split(';')[0]!;

    const page = await request(world.app).get('/admin/queues').set('Cookie', cookie);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<div id="root">');
    // Every asset the page references loads with the cookie alone (a browser sends no bearer header).
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      const url = asset.startsWith('/') ? asset : `/admin/queues/${asset.replace(/^\.\//, '')}`;
      expect((await request(world.app).get(url).set('Cookie', cookie)).status, url).toBe(200);
    }
    const api = await request(world.app).get('/admin/queues/api/queues').set('Cookie', cookie);
    expect(api.status).toBe(200);
    expect(api.body.queues.map((q: { name: string }) => q.name).sort()).toEqual(['files', 'ingest', 'maintenance']);

    // Bearer works too (scripts), and signing out ends the session.
    expect((await request(world.app).get('/admin/queues/api/queues').set('Authorization', `Bearer ${admin}`)).status).toBe(200);
    expect((await request(world.app).delete('/admin/session').set('Cookie', cookie)).status).toBe(204);
    expect((await request(world.app).get('/admin/queues').set('Cookie', cookie)).status).toBe(401);
  });

  it('has a sign-in page that needs no third-party host', async () => {
    const page = await request(world.app).get('/admin/login');
    expect(page.status).toBe(200);
    expect(page.text).not.toMatch(/https?:\/\//);
    expect((await request(world.app).get('/admin/login.js')).text).toContain('/admin/session');
  });
});
