// Index maintenance over HTTP (SPEC §10): rebuild full and incremental, the consistency report after a row and
// after an attr.json went missing, one run at a time (503), the 202 + job path, and 403 for a user.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withMaintenanceLock } from '../../src/shared/records/maintenance-lock.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

describe('index maintenance over HTTP', () => {
  let world: World;
  let user: string;
  let service: string;
  const ids: string[] = [];

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { SCRUB_INTERVAL_HOURS: '0' } });
    user = await world.token('user', 'alice');
    service = await world.token('operator', 'admin-module', { type: 'service_account' });
    for (let i = 0; i < 4; i++) {
      const res = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${user}`)
        .field('description', `file ${i}`).attach('file', randomBytes(300 + i), `m${i}.bin`);
      expect(res.status).toBe(201);
      ids.push(res.body.jobs[0].fileId as string);
    }
  });
  afterAll(async () => world?.close());

  const call = (method: 'get' | 'post', url: string, token = service) => request(world.app)[method](url).set('Authorization', `Bearer ${token}`);
  const consistency = async () => {
    const res = await call('get', '/api/v1/index/consistency');
    expect(res.status).toBe(200);
    return res.body;
  };
  const rebuild = async (mode: 'full' | 'incremental') => {
    const res = await call('post', '/api/v1/index/rebuild').send({ mode });
    expect(res.status).toBe(200);
    return res.body;
  };
  const descriptionOf = async (id: string) => (await call('get', `/api/v1/files/${id}/metadata`, user)).body.description;
  const attrPathOf = async (id: string) =>
    path.join(world.config.storagePath, (await world.api.db.file.findUniqueOrThrow({ where: { id } })).attrPath);

  it('refuses a plain user with 403', async () => {
    expect((await call('post', '/api/v1/index/rebuild', user).send({ mode: 'full' })).status).toBe(403);
    expect((await call('get', '/api/v1/index/consistency', user)).status).toBe(403);
    expect((await call('post', '/api/v1/index/cleanup-expired', user)).status).toBe(403);
  });

  it('reports a consistent index, then the attr file whose row was deleted; an incremental rebuild adds it back', async () => {
    expect(await consistency()).toMatchObject({
      attrFiles: 4, liveAttrFiles: 4, fileRows: 4, liveFileRows: 4, isConsistent: true,
      orphanAttrFiles: { count: 0, examples: [] }, orphanFileRows: { count: 0, examples: [] },
    });
    const attrPath = path.relative(world.config.storagePath, await attrPathOf(ids[0]!));
    await world.api.db.$executeRaw`DELETE FROM files WHERE id = ${ids[0]}::uuid`;
    const report = await consistency();
    expect(report).toMatchObject({ attrFiles: 4, fileRows: 3, isConsistent: false, orphanFileRows: { count: 0 } });
    expect(report.orphanAttrFiles).toEqual({ count: 1, examples: [{ fileId: ids[0], attrPath }] });
    expect(report.jobId).toEqual(expect.any(String));

    const rebuilt = await rebuild('incremental');
    expect(rebuilt).toMatchObject({ mode: 'incremental', attrFiles: 4, filesRestored: 1, filesUpToDate: 3 });
    expect(await descriptionOf(ids[0]!)).toBe('file 0');
    expect((await consistency()).isConsistent).toBe(true);
  });

  it('incremental rewrites only rows older than their attr file; full rewrites every row', async () => {
    // Same revision as attr.json (a row changed behind the element's back): only a full rebuild puts it right.
    await world.api.db.$executeRaw`UPDATE files SET description = 'tampered' WHERE id = ${ids[1]}::uuid`;
    // An older revision than attr.json: an incremental rebuild takes the attr file's.
    await world.api.db.$executeRaw`UPDATE files SET description = 'stale', revision = 0 WHERE id = ${ids[2]}::uuid`;
    expect(await rebuild('incremental')).toMatchObject({ filesRestored: 1, filesUpToDate: 3 });
    expect(await descriptionOf(ids[2]!)).toBe('file 2');
    expect(await descriptionOf(ids[1]!)).toBe('tampered');
    expect(await rebuild('full')).toMatchObject({ mode: 'full', filesRestored: 4, filesUpToDate: 0 });
    expect(await descriptionOf(ids[1]!)).toBe('file 1');
    // A full rebuild is the default.
    expect((await call('post', '/api/v1/index/rebuild')).body.mode).toBe('full');
  });

  it('reports the row whose attr.json is gone', async () => {
    const full = await attrPathOf(ids[3]!);
    const saved = await fs.readFile(full);
    await fs.rm(full);
    try {
      const report = await consistency();
      expect(report).toMatchObject({ attrFiles: 3, liveFileRows: 4, isConsistent: false, orphanAttrFiles: { count: 0 } });
      expect(report.orphanFileRows).toEqual({ count: 1, examples: [{ fileId: ids[3], attrPath: path.relative(world.config.storagePath, full) }] });
    } finally {
      await fs.writeFile(full, saved);
    }
    expect((await consistency()).isConsistent).toBe(true);
  });

  it('answers 503 while another maintenance run (here: the rebuild-index CLI) holds the lock', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const cli = withMaintenanceLock(world.api.db, async () => {
      locked();
      await held;
    });
    await lockTaken;
    try {
      for (const res of [
        await call('post', '/api/v1/index/rebuild').send({ mode: 'incremental' }),
        await call('get', '/api/v1/index/consistency'),
        await call('post', '/api/v1/index/cleanup-expired'),
      ]) {
        expect(res.status).toBe(503);
        expect(res.body.code).toBe('unavailable');
        expect(res.headers['retry-after']).toBeDefined();
      }
    } finally {
      release();
      await cli;
    }
    expect((await call('post', '/api/v1/index/cleanup-expired')).body).toMatchObject({ deleted: 0, jobId: expect.any(String) });
  });

  it('cleanup-expired deletes the temporary files whose time has passed, through the delete path', async () => {
    const res = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${user}`)
      .field('retentionPolicy', 'temporary').field('ttlDays', '1').attach('file', randomBytes(200), 'tmp.bin');
    expect(res.status).toBe(201);
    const tmp = res.body.jobs[0].fileId as string;
    // A day is long for a test: the file's time is moved into the past instead.
    await world.api.db.$executeRaw`UPDATE files SET expires_at = now() - interval '1 minute' WHERE id = ${tmp}::uuid`;
    const cleanup = await call('post', '/api/v1/index/cleanup-expired');
    expect(cleanup.status).toBe(200);
    expect(cleanup.body).toMatchObject({ mode: 'edit', deleted: 1, skipped: 0, jobId: expect.any(String) });
    expect((await call('get', `/api/v1/files/${tmp}/metadata`, user)).status).toBe(404);
    expect(await world.api.db.fileJob.count({ where: { fileId: tmp, kind: 'delete' } })).toBe(1);
    // Its delete job tombstones its attr.json: the index stays consistent for the tests after this one.
    await until('the delete job to commit', async () => (await world.api.db.fileJob.findFirst({ where: { fileId: tmp, kind: 'delete' } }))?.state === 'committed');
  });

  it('answers 202 with the job when the run outlasts the wait; the job then carries the result', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let running = '';
    world.api.beforeMaintenanceRun = async (jobId) => {
      running = jobId;
      await gate;
    };
    try {
      const res = await call('post', '/api/v1/index/rebuild?wait=0').send({ mode: 'incremental' });
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ jobId: running, state: 'committing' });
      expect(res.headers.location).toBe(`/api/v1/jobs/${running}`);
      const job = await call('get', res.headers.location!);
      expect(job.body).toMatchObject({ id: running, kind: 'maintenance', state: 'committing', fileName: 'index rebuild (incremental)' });
      expect(job.body.fileId).toBeUndefined();
      // One at a time: this one holds the lock.
      expect((await call('get', '/api/v1/index/consistency')).status).toBe(503);
    } finally {
      world.api.beforeMaintenanceRun = undefined;
      release();
    }
    let job: Record<string, unknown> = {};
    await until('the maintenance job to end', async () => {
      job = (await call('get', `/api/v1/jobs/${running}`)).body;
      return job.state === 'committed';
    });
    // The four files and the expired one's tombstone.
    expect(job.result).toMatchObject({ mode: 'incremental', attrFiles: 5, filesUpToDate: 5, filesRestored: 0 });
    // A user does not see another principal's maintenance job.
    expect((await call('get', `/api/v1/jobs/${running}`, user)).status).toBe(404);
  });
});
