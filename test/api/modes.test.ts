// Element modes (SPEC §4): the one-way rw -> ro -> ar path, what each mode refuses, and how fast every
// process learns of a change. Each world has a database of its own: the mode is element-wide.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { openApiContext } from '../../src/api/context.js';
import { runIngestJob } from '../../src/shared/domain/ingest-commit.js';
import { createLogger } from '../../src/shared/logger.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

describe('an rw element', () => {
  let world: World;
  let admin: string;
  let user: string;
  let operator: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { APP_MODE: 'rw' } });
    admin = await world.token('admin', 'root');
    user = await world.token('user', 'alice');
    operator = await world.token('operator', 'olga');
  });
  afterAll(async () => world?.close());

  const setMode = (mode: string, token = admin) =>
    request(world.app).put('/api/v1/mode').set('Authorization', `Bearer ${token}`).send({ mode });
  const upload = (bytes: Buffer) =>
    request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${user}`).attach('file', bytes, 'm.bin');

  it('goes rw -> ro -> ar one way, writes each change to the WAL, and refuses what each mode forbids', async () => {
    const info = await request(world.app).get('/api/v1/info').set('Authorization', `Bearer ${user}`);
    expect(info.body.mode).toBe('rw');

    // rw: uploads yes, deletes no.
    const up = await upload(randomBytes(100)).query({ wait: '20' });
    expect(up.status).toBe(201);
    const fileId = up.body.jobs[0].fileId as string;
    const del = await request(world.app).delete(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${operator}`);
    expect(del.status).toBe(409);
    expect(del.body.code).toBe('mode_forbids');

    // Only admins change the mode; only the allowed transitions.
    expect((await setMode('ro', operator)).status).toBe(403);
    const back = await setMode('edit');
    expect(back.status).toBe(409);
    expect(back.body.code).toBe('conflict');
    expect((await setMode('ar')).status).toBe(409);
    const ro = await setMode('ro');
    expect(ro.status).toBe(200);
    expect(ro.body).toEqual({ mode: 'ro' });

    // ro: reads yes, uploads and patches no, before any byte is staged.
    const refused = await upload(randomBytes(100));
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('mode_forbids');
    expect(await world.stagedFiles()).toEqual([]);
    const patch = await request(world.app).patch(`/api/v1/files/${fileId}/metadata`).set('Authorization', `Bearer ${user}`).send({ description: 'x' });
    expect(patch.body.code).toBe('mode_forbids');
    expect((await request(world.app).get(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${user}`)).status).toBe(200);
    expect((await setMode('rw')).status).toBe(409);

    // ar: metadata yes, bytes 409 archived; no way back.
    expect((await setMode('ar')).status).toBe(200);
    const dl = await request(world.app).get(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${user}`);
    expect(dl.status).toBe(409);
    expect(dl.body.code).toBe('archived');
    expect((await request(world.app).get(`/api/v1/files/${fileId}/metadata`).set('Authorization', `Bearer ${user}`)).status).toBe(200);
    expect((await setMode('ro')).status).toBe(409);
    expect((await setMode('ar')).status).toBe(200);

    const wal = await world.api.db.walEntry.findMany({ where: { operation: 'mode_change' }, orderBy: { id: 'asc' } });
    expect(wal.map((w) => [w.payload, w.status, w.actor])).toEqual([
      [{ from: 'rw', to: 'ro' }, 'committed', 'root'],
      [{ from: 'ro', to: 'ar' }, 'committed', 'root'],
    ]);
    const history = await world.api.db.elementState.findMany({ orderBy: { id: 'asc' } });
    expect(history.map((h) => h.mode)).toEqual(['rw', 'ro', 'ar']);
  });
});

describe('an edit element', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ isolatedDatabase: true, env: { APP_MODE: 'edit' } });
  });
  afterAll(async () => world?.close());

  it('stays edit', async () => {
    const admin = await world.token('admin', 'root');
    for (const mode of ['rw', 'ro', 'ar']) {
      const res = await request(world.app).put('/api/v1/mode').set('Authorization', `Bearer ${admin}`).send({ mode });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('conflict');
    }
    const same = await request(world.app).put('/api/v1/mode').set('Authorization', `Bearer ${admin}`).send({ mode: 'edit' });
    expect(same.status).toBe(200);
    const bad = await request(world.app).put('/api/v1/mode').set('Authorization', `Bearer ${admin}`).send({ mode: 'readonly' });
    expect(bad.status).toBe(400);
    expect(bad.body.parameter).toBe('mode');
  });
});

describe('a mode change seen by other processes', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { APP_MODE: 'rw' } });
  });
  afterAll(async () => world?.close());

  it('reaches a second API process within 1 s, and the worker stops committing staged uploads', async () => {
    const other = await openApiContext(world.config, createLogger({ logLevel: 'silent' }, 'test'));
    try {
      const otherApp = createApp(other);
      const user = await world.token('user', 'alice');
      // Warm the second process's cache with the old mode.
      expect((await request(otherApp).get('/api/v1/info').set('Authorization', `Bearer ${user}`)).body.mode).toBe('rw');

      // Stage an upload the worker has not committed yet: take it out of the queue first.
      await world.running!.workers.find((w) => w.name === 'ingest')!.pause();
      const staged = await request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${user}`).attach('file', randomBytes(64), 's.bin');
      expect(staged.status).toBe(202);

      const admin = await world.token('admin', 'root');
      expect((await request(world.app).put('/api/v1/mode').set('Authorization', `Bearer ${admin}`).send({ mode: 'ro' })).status).toBe(200);
      const started = Date.now();
      let seen = 'rw';
      while (seen !== 'ro' && Date.now() - started < 1_000) {
        seen = (await request(otherApp).get('/api/v1/info').set('Authorization', `Bearer ${user}`)).body.mode;
      }
      expect(seen).toBe('ro');

      // The worker side refuses to commit what was staged before the switch, once it has learnt of it.
      await until('the worker to see the ro mode', async () => (await world.worker!.modes.current()) === 'ro', 5_000);
      await expect(runIngestJob(world.worker!, staged.body.jobs[0].id, async () => undefined)).rejects.toMatchObject({ code: 'mode_forbids' });
      world.running!.workers.find((w) => w.name === 'ingest')!.resume();
      const job = await world.waitForJob(staged.body.jobs[0].id, user);
      expect(job).toMatchObject({ state: 'failed', error: { code: 'mode_forbids' } });
      expect(await world.stagedFiles()).toEqual([]);
    } finally {
      await other.close();
    }
  });
});
