// The lifecycle of temporary files (SPEC §10): expired ones are deleted through the WAL delete path in `edit` mode,
// never one under a legal hold or a live retain-until, and never in rw/ro/ar; the worker's job scheduler runs it.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupExpiredFiles } from '../../src/shared/domain/file-lifecycle.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

const DAY_MS = 86_400_000;
const inDays = (days: number) => new Date(Date.now() + days * DAY_MS);

async function store(world: World, token: string, fields: Record<string, string>): Promise<string> {
  let req = request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${token}`);
  for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
  const res = await req.attach('file', randomBytes(256), 'tmp.bin');
  expect(res.status, res.text).toBe(201);
  return res.body.jobs[0].fileId as string;
}

const isLive = async (world: World, id: string) => (await world.api.db.file.findUniqueOrThrow({ where: { id } })).deletedAt === null;

describe('lifecycle in edit mode', () => {
  let world: World;
  let operator: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { LIFECYCLE_INTERVAL_SECONDS: '1' } });
    operator = await world.token('operator', 'olga');
  });
  afterAll(async () => world?.close());

  it('deletes expired temporary files through the WAL delete path and keeps held, retained and unexpired ones', async () => {
    const temporary = { retentionPolicy: 'temporary', ttlDays: '1' };
    const expired = await store(world, operator, temporary);
    const held = await store(world, operator, { ...temporary, legalHold: 'true' });
    const retained = await store(world, operator, { ...temporary, retainUntil: inDays(30).toISOString() });
    const later = await store(world, operator, { retentionPolicy: 'temporary', ttlDays: '5' });
    const permanent = await store(world, operator, {});

    // Nothing has expired yet by the real clock (the scheduler runs every second meanwhile).
    expect(await cleanupExpiredFiles(world.api)).toEqual({ mode: 'edit', deleted: 0, skipped: 0, more: false });
    const result = await cleanupExpiredFiles(world.api, inDays(2));
    // The held and the retained file are not even read (records/expired-files.ts): nothing to skip.
    expect(result).toEqual({ mode: 'edit', deleted: 1, skipped: 0, more: false });

    expect(await isLive(world, expired)).toBe(false);
    const gone = await request(world.app).get(`/api/v1/files/${expired}/metadata`).set('Authorization', `Bearer ${operator}`);
    expect(gone.status).toBe(404);
    const job = await world.api.db.fileJob.findFirstOrThrow({ where: { fileId: expired, kind: 'delete' } });
    expect(job.principal).toBe('system:lifecycle');
    expect(job.params).toMatchObject({ source: 'lifecycle', cleanupType: 'ttl_expired' });
    expect((await world.waitForJob(job.id, operator)).state).toBe('committed');
    const wal = await world.api.db.walEntry.findMany({ where: { fileId: expired, operation: 'file_delete' } });
    expect(wal.map((w) => w.status)).toEqual(['committed']);
    const row = await world.api.db.file.findUniqueOrThrow({ where: { id: expired } });
    const attr = JSON.parse(await fs.readFile(path.join(world.config.storagePath, row.attrPath), 'utf8')) as Record<string, unknown>;
    expect(attr.deletedAt).toBe(row.deletedAt!.toISOString());
    for (const id of [held, retained, later, permanent]) expect(await isLive(world, id)).toBe(true);

    // A second run finds nothing new to delete.
    expect(await cleanupExpiredFiles(world.api, inDays(2))).toEqual({ mode: 'edit', deleted: 0, skipped: 0, more: false });
  });

  it('stops at its bound and leaves the rest, held ones included, to the next run', async () => {
    const temporary = { retentionPolicy: 'temporary', ttlDays: '2' };
    const ids = [
      await store(world, operator, { ...temporary, legalHold: 'true' }),
      ...(await Promise.all([1, 2, 3, 4].map(() => store(world, operator, temporary)))),
    ];
    const bounds = { batch: 2, maxBatches: 2 };
    // The held files (the first test's and this one) are not read: the bound counts deletable files only.
    const first = await cleanupExpiredFiles(world.api, inDays(3), bounds);
    expect(first).toMatchObject({ mode: 'edit', more: true });
    expect(first.deleted + first.skipped).toBe(4);
    const second = await cleanupExpiredFiles(world.api, inDays(3), { batch: 2, maxBatches: 10 });
    expect(second.more).toBe(false);
    expect(first.deleted + second.deleted).toBe(4);
    expect(await isLive(world, ids[0]!)).toBe(true);
    for (const id of ids.slice(1)) expect(await isLive(world, id)).toBe(false);
  });

  it('reaches a deletable file behind more held and retained expired files than one run reads', async () => {
    // Expiring after every file of the tests before (and far after the real clock the scheduler runs by).
    const kept = [
      await store(world, operator, { retentionPolicy: 'temporary', ttlDays: '20', legalHold: 'true' }),
      await store(world, operator, { retentionPolicy: 'temporary', ttlDays: '20', retainUntil: inDays(60).toISOString() }),
    ];
    const target = await store(world, operator, { retentionPolicy: 'temporary', ttlDays: '21' });
    // Each run reads 2 rows; the held and retained expired files of every test here come first in expiry order.
    for (let run = 0; run < 10 && (await isLive(world, target)); run++) {
      await cleanupExpiredFiles(world.api, inDays(22), { batch: 2, maxBatches: 1 });
    }
    expect(await isLive(world, target)).toBe(false);
    for (const id of kept) expect(await isLive(world, id)).toBe(true);
  });

  it('runs on the worker as a BullMQ job scheduler every LIFECYCLE_INTERVAL_SECONDS', async () => {
    const scheduler = await world.api.queues.maintenance.getJobScheduler('cleanup-expired');
    expect(scheduler?.every).toBe(1_000);
    const id = await store(world, operator, { retentionPolicy: 'temporary', ttlDays: '1' });
    const held = await store(world, operator, { retentionPolicy: 'temporary', ttlDays: '1', legalHold: 'true' });
    // Their day has passed, as the database sees it.
    await world.api.db.file.updateMany({ where: { id: { in: [id, held] } }, data: { expiresAt: new Date(Date.now() - 1_000) } });
    await until('the scheduled lifecycle run to delete the expired file', async () => !(await isLive(world, id)), 15_000, 100);
    expect(await isLive(world, held)).toBe(true);
  });
});

describe('lifecycle outside edit mode', () => {
  let world: World;
  let admin: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { APP_MODE: 'rw', LIFECYCLE_INTERVAL_SECONDS: '0' } });
    admin = await world.token('admin', 'adam');
  });
  afterAll(async () => world?.close());

  it('removes nothing in rw, ro or ar', async () => {
    const id = await store(world, admin, { retentionPolicy: 'temporary', ttlDays: '1' });
    for (const mode of ['rw', 'ro', 'ar'] as const) {
      if (mode !== 'rw') {
        const res = await request(world.app).put('/api/v1/mode').set('Authorization', `Bearer ${admin}`).send({ mode });
        expect(res.status, res.text).toBe(200);
      }
      await until(`mode ${mode} to be seen`, async () => (await world.api.modes.current()) === mode, 5_000);
      expect(await cleanupExpiredFiles(world.api, inDays(3))).toEqual({ mode, deleted: 0, skipped: 0, more: false });
      expect(await isLive(world, id)).toBe(true);
    }
  });
});
