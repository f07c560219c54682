// The integrity scrub flags blobs whose bytes changed or vanished, resumes after its checkpoint, and clears restored ones.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrubBlobs, scrubCheckpointKey, type ScrubReport } from '../../src/shared/domain/blob-scrub.js';
import type { BlobStore } from '../../src/shared/storage/blob-store.js';
import { SCRUB_SCHEDULER_ID, scheduleScrub } from '../../src/workers/scrub.js';
import { createWorld, type World } from '../helpers/world.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('integrity scrub', () => {
  let world: World;
  let alice: string;
  let admin: string;
  const files: Array<{ id: string; bytes: Buffer; sha256: string }> = [];

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true });
    alice = await world.token('user', 'alice');
    admin = await world.token('admin', 'ada');
    for (const size of [5_000, 12_000, 30_000, 64_000]) {
      const bytes = randomBytes(size);
      const res = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${alice}`).attach('file', bytes, `f${size}.bin`);
      expect(res.status).toBe(201);
      files.push({ id: res.body.jobs[0].fileId as string, bytes, sha256: sha(bytes) });
    }
  });
  afterAll(async () => world?.close());

  const scrub = (budgetMs = 60_000): Promise<ScrubReport> => scrubBlobs(world.worker!, { budgetMs });
  const blobFile = (h: string) => path.join(world.config.storagePath, 'blobs', h.slice(0, 2), h.slice(2, 4), h);
  const blobRow = (h: string) => world.api.db.blob.findUniqueOrThrow({ where: { sha256: h } });
  const download = (fileId: string) => request(world.app).get(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${alice}`).buffer(true);

  /** Flips one byte of a stored blob in place (blob files are read-only: 0440). */
  async function flipByte(h: string, offset: number): Promise<void> {
    const file = blobFile(h);
    await fs.chmod(file, 0o640);
    const handle = await fs.open(file, 'r+');
    try {
      const one = Buffer.alloc(1);
      await handle.read(one, 0, 1, offset);
      one[0] = one[0]! ^ 0xff;
      await handle.write(one, 0, 1, offset);
    } finally {
      await handle.close();
    }
    await fs.chmod(file, 0o440);
  }

  async function scrubThroughApi(body?: object): Promise<ScrubReport> {
    const res = await request(world.app).post('/api/v1/admin/scrub').set('Authorization', `Bearer ${admin}`).send(body);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ jobId: expect.any(String) });
    const deadline = Date.now() + 30_000;
    while (true) {
      const job = await world.api.queues.maintenance.getJob(res.body.jobId as string);
      const state = await job?.getState();
      // The job object was fetched before its state: once completed, fetch it again for its return value.
      if (state === 'completed') return (await world.api.queues.maintenance.getJob(res.body.jobId as string))!.returnvalue as ScrubReport;
      if (state === 'failed') throw new Error(`scrub job failed: ${job!.failedReason}`);
      if (Date.now() > deadline) throw new Error(`scrub job still ${state} after 30 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('flags a blob whose bytes changed: its download answers 409 corrupt, its metadata and other files stay served', async () => {
    const [bad, ...good] = files;
    await flipByte(bad!.sha256, 1_000);
    const report = await scrub();
    expect(report).toEqual({ checked: 4, corrupt: 1, missing: 0, resumeAfter: null });
    expect(await blobRow(bad!.sha256)).toMatchObject({ corruptAt: expect.any(Date), corruptReason: 'mismatch', lastVerifiedAt: null });
    for (const f of good) expect(await blobRow(f.sha256)).toMatchObject({ corruptAt: null, lastVerifiedAt: expect.any(Date) });

    const refused = await download(bad!.id);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('corrupt');
    expect((await request(world.app).head(`/api/v1/files/${bad!.id}`).set('Authorization', `Bearer ${alice}`)).status).toBe(409);
    const meta = await request(world.app).get(`/api/v1/files/${bad!.id}/metadata`).set('Authorization', `Bearer ${alice}`);
    expect(meta.status).toBe(200);
    expect(meta.body.sha256).toBe(bad!.sha256);
    for (const f of good) {
      const res = await download(f.id);
      expect(res.status).toBe(200);
      expect(sha(res.body as Buffer)).toBe(f.sha256);
    }
    const metrics = await world.worker!.registry.metrics();
    expect(metrics).toMatch(/artstore_scrub_corrupt_blobs_total\{reason="mismatch"[^}]*\} 1\b/);
    const checkedBytes = Number(/artstore_scrub_checked_bytes_total\{[^}]*\} (\d+)/.exec(metrics)?.[1]);
    expect(checkedBytes).toBe(files.reduce((n, f) => n + f.bytes.length, 0));
  });

  it('clears the mark once the original bytes are restored', async () => {
    const [bad] = files;
    await flipByte(bad!.sha256, 1_000);
    expect(await scrub()).toMatchObject({ checked: 4, corrupt: 0, missing: 0 });
    expect(await blobRow(bad!.sha256)).toMatchObject({ corruptAt: null, corruptReason: null, lastVerifiedAt: expect.any(Date) });
    const res = await download(bad!.id);
    expect(res.status).toBe(200);
    expect(Buffer.compare(res.body as Buffer, bad!.bytes)).toBe(0);
  });

  it('reports a blob whose file is gone as corrupt with reason missing', async () => {
    const gone = files[1]!;
    const aside = `${blobFile(gone.sha256)}.aside`;
    await fs.rename(blobFile(gone.sha256), aside);
    try {
      expect(await scrub()).toEqual({ checked: 4, corrupt: 0, missing: 1, resumeAfter: null });
      expect(await blobRow(gone.sha256)).toMatchObject({ corruptAt: expect.any(Date), corruptReason: 'missing' });
      expect((await download(gone.id)).body.code).toBe('corrupt');
    } finally {
      await fs.rename(aside, blobFile(gone.sha256));
    }
    await scrub();
    expect(await blobRow(gone.sha256)).toMatchObject({ corruptAt: null });
  });

  it('checks at least one blob per run on a tiny budget and resumes after the checkpoint instead of restarting', async () => {
    const order = files.map((f) => f.sha256).sort();
    const checkpoint = () => world.worker!.connection.get(scrubCheckpointKey(world.config.queuePrefix));
    expect(await checkpoint()).toBeNull();

    const first = await scrub(1);
    expect(first.checked).toBeGreaterThanOrEqual(1);
    expect(first.resumeAfter).toBe(order[first.checked - 1]);
    expect(await checkpoint()).toBe(first.resumeAfter);

    const second = await scrub(1);
    expect(second.checked).toBeGreaterThanOrEqual(1);
    expect(second.resumeAfter === null || second.resumeAfter > first.resumeAfter!).toBe(true);
    const doneSoFar = first.checked + second.checked;
    if (second.resumeAfter !== null) expect(second.resumeAfter).toBe(order[doneSoFar - 1]);

    // Without a budget limit the run finishes the pass where the last one stopped, then starts over next time.
    const rest = await scrub();
    expect(rest).toEqual({ checked: order.length - doneSoFar, corrupt: 0, missing: 0, resumeAfter: null });
    expect(await checkpoint()).toBeNull();
  });

  it('runs through POST /api/v1/admin/scrub as a BullMQ job', async () => {
    const bad = files[2]!;
    await flipByte(bad.sha256, 0);
    const report = await scrubThroughApi({ budgetSeconds: 60 });
    expect(report).toEqual({ checked: 4, corrupt: 1, missing: 0, resumeAfter: null });
    expect(await blobRow(bad.sha256)).toMatchObject({ corruptReason: 'mismatch' });
    expect((await download(bad.id)).status).toBe(409);
    await flipByte(bad.sha256, 0);
    expect(await scrubThroughApi()).toMatchObject({ checked: 4, corrupt: 0 });
    expect((await download(bad.id)).status).toBe(200);
  });

  it('lets only admins start a run, with a strict body', async () => {
    const post = (token: string, body?: object) => request(world.app).post('/api/v1/admin/scrub').set('Authorization', `Bearer ${token}`).send(body);
    const forbidden = await post(await world.token('operator', 'olga'));
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.code).toBe('forbidden');
    expect((await request(world.app).post('/api/v1/admin/scrub')).status).toBe(401);
    for (const body of [{ budget: 5 }, { budgetSeconds: -1 }, { budgetSeconds: 'ten' }]) {
      const res = await post(admin, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('validation_failed');
    }
  });

  it('schedules a run every SCRUB_INTERVAL_HOURS, the first one interval after start, and removes the schedule at 0', async () => {
    const queue = world.worker!.queues.maintenance;
    const scheduler = await queue.getJobScheduler(SCRUB_SCHEDULER_ID);
    expect(scheduler).toMatchObject({ name: 'scrub-blobs', every: 24 * 3_600_000 });
    expect(scheduler!.next).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    // A restart keeps the schedule's next run instead of postponing it.
    await scheduleScrub(world.worker!);
    expect((await queue.getJobScheduler(SCRUB_SCHEDULER_ID))!.next).toBe(scheduler!.next);
    await scheduleScrub({ ...world.worker!, config: { ...world.config, scrubIntervalHours: 0 } });
    expect(await queue.getJobScheduler(SCRUB_SCHEDULER_ID)).toBeUndefined();
  });

  it('scrubs a blob store without the localPath capability by streaming each blob to a hash thread', async () => {
    const local = world.worker!.blobStore;
    // A backend without local files (as S3): the same store's reads, without the capability.
    const remote: BlobStore = {
      backend: 'remote',
      put: local.put.bind(local),
      openRead: local.openRead.bind(local),
      readRange: local.readRange.bind(local),
      stat: local.stat.bind(local),
      delete: local.delete.bind(local),
      list: local.list.bind(local),
      sweepTemporaries: local.sweepTemporaries.bind(local),
      keyFor: local.keyFor.bind(local),
    };
    const scrubRemote = () => scrubBlobs({ ...world.worker!, blobStore: remote }, { budgetMs: 60_000 });
    await world.worker!.connection.del(scrubCheckpointKey(world.config.queuePrefix));
    const target = files[2]!;
    await flipByte(target.sha256, 7);
    expect(await scrubRemote()).toMatchObject({ corrupt: 1, missing: 0, resumeAfter: null });
    expect(await blobRow(target.sha256)).toMatchObject({ corruptAt: expect.any(Date), corruptReason: 'mismatch' });
    await flipByte(target.sha256, 7);
    expect(await scrubRemote()).toMatchObject({ corrupt: 0, missing: 0, resumeAfter: null });
    expect(await blobRow(target.sha256)).toMatchObject({ corruptAt: null, lastVerifiedAt: expect.any(Date) });
  });
});
