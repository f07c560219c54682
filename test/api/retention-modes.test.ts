// Retention changes and modes (SPEC §4, §10): a retain-until is a metadata change (edit and rw only); a legal hold
// only ever protects what is stored, so it is set and released in every mode, ro and ar included.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

describe('retention changes by mode', () => {
  let world: World;
  let admin: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { APP_MODE: 'rw', LIFECYCLE_INTERVAL_SECONDS: '0' } });
    admin = await world.token('admin', 'adam');
  });
  afterAll(async () => world?.close());

  const put = (id: string, what: 'retention' | 'legal-hold', body: object) =>
    request(world.app).put(`/api/v1/files/${id}/${what}`).set('Authorization', `Bearer ${admin}`).send(body);
  const retainUntil = () => new Date(Date.now() + 86_400_000).toISOString();

  it('sets a retention in rw only, and a legal hold in rw, ro and ar', async () => {
    const res = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${admin}`).attach('file', randomBytes(64), 'm.bin');
    expect(res.status).toBe(201);
    const id = res.body.jobs[0].fileId as string;
    expect((await put(id, 'retention', { retainUntil: retainUntil() })).status).toBe(200);
    expect((await put(id, 'legal-hold', { on: true })).body.legalHold).toBe(true);
    let on = true;
    for (const mode of ['ro', 'ar'] as const) {
      expect((await request(world.app).put('/api/v1/mode').set('Authorization', `Bearer ${admin}`).send({ mode })).status).toBe(200);
      await until(`mode ${mode}`, async () => (await world.api.modes.current()) === mode, 5_000);
      const refused = await put(id, 'retention', { retainUntil: retainUntil() });
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('mode_forbids');
      on = !on;
      const hold = await put(id, 'legal-hold', { on });
      expect(hold.status, hold.text).toBe(200);
      expect(hold.body.legalHold).toBe(on);
    }
  });
});
