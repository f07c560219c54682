// kill -9 the worker at each durable step of an ingest; after a restart every acknowledged upload is committed
// exactly once, with no orphan blob, attr.json or staged file. Plus WAL roll-back of an ingest that ended.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_STEPS } from '../../src/shared/domain/ingest-commit.js';
import { recoverWal } from '../../src/shared/domain/wal-recovery.js';
import { binaryParser } from '../helpers/http.js';
import { envFor, startService } from '../helpers/processes.js';
import { createWorld, type World } from '../helpers/world.js';
import { filesUnder } from '../helpers/wait.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');


describe('crash recovery', () => {
  let world: World;
  let token: string;

  beforeAll(async () => {
    // No in-process worker: the workers here are child processes that can be killed for real.
    world = await createWorld({ isolatedDatabase: true });
    token = await world.token('user', 'alice');
  });
  afterAll(async () => world?.close());

  for (const step of CRASH_STEPS) {
    it(`commits exactly once after kill -9 ${step}`, async () => {
      const env = envFor(world.config, { JOB_LOCK_MS: '1500' });
      const doomed = await startService('workers', { ...env, CRASH_AT: step }, 'worker started');
      const bytes = randomBytes(256 * 1024);
      const res = await request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`).attach('file', bytes, `${step}.bin`);
      expect(res.status).toBe(202);
      const jobId = res.body.jobs[0].id as string;
      expect(await doomed.exited).toBe('SIGKILL');

      const healthy = await startService('workers', env, 'worker started');
      try {
        const job = await world.waitForJob(jobId, token, 30_000);
        expect(job.state, healthy.output()).toBe('committed');
        const fileId = String(job.fileId);
        expect(await world.api.db.file.count({ where: { sha256: sha(bytes) } })).toBe(1);
        expect((await world.api.db.blob.findUniqueOrThrow({ where: { sha256: sha(bytes) } })).refCount).toBe(1);
        expect((await world.api.db.walEntry.findMany({ where: { jobId } })).map((w) => w.status)).toEqual(['committed']);
        const dl = await request(world.app).get(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${token}`).buffer(true).parse(binaryParser);
        expect(sha(dl.body as Buffer)).toBe(sha(bytes));
      } finally {
        healthy.child.kill('SIGTERM');
        await healthy.exited;
      }
      // Nothing half-done anywhere: staging empty, one attr.json per file row, one blob file per blob row.
      expect(await world.stagedFiles()).toEqual([]);
      const attrs = await filesUnder(path.join(world.config.storagePath, 'files'));
      expect(attrs.filter((f) => f.endsWith('.tmp'))).toEqual([]);
      expect(attrs.length).toBe(await world.api.db.file.count());
      const blobs = await filesUnder(path.join(world.config.storagePath, 'blobs'));
      expect(blobs.length).toBe(await world.api.db.blob.count());
    });
  }

  it('rolls back a pending ingest whose job ended: attr.json and staged file removed, its blob left to GC', async () => {
    const bytes = randomBytes(1000);
    const h = sha(bytes);
    const fileId = randomUUID();
    const jobId = randomUUID();
    const staged = path.join(world.config.stagingPath, `${randomUUID()}.part`);
    await fs.writeFile(staged, bytes);
    const attrPath = `files/2026/01/01/00/${fileId}.attr.json`;
    const { LocalBlobStore } = await import('../../src/shared/storage/local-blob-store.js');
    const { AttrFileStore } = await import('../../src/shared/storage/attr-files.js');
    const blobStore = new LocalBlobStore(world.config.storagePath);
    const attrStore = new AttrFileStore(world.config.storagePath);
    await blobStore.put(h, staged);
    await fs.mkdir(path.join(world.config.storagePath, 'files/2026/01/01/00'), { recursive: true });
    const createdAt = new Date('2026-01-01T00:30:00.000Z');
    await fs.writeFile(path.join(world.config.storagePath, attrPath), JSON.stringify({ id: fileId, createdAt: createdAt.toISOString() }));
    await world.api.db.fileJob.create({
      data: {
        id: jobId, kind: 'ingest', state: 'failed', principal: 'alice', fileName: 'x', contentType: 'application/octet-stream',
        size: BigInt(bytes.length), stagedPath: staged, fileId, errorCode: 'internal', finishedAt: new Date(), createdAt,
      },
    });
    await world.api.db.walEntry.create({
      data: { txId: randomUUID(), operation: 'file_create', status: 'pending', fileId, jobId, actor: 'alice', payload: { fileId, sha256: h, size: bytes.length, attrPath }, startedAt: new Date(Date.now() - 3_600_000) },
    });
    const { createLogger } = await import('../../src/shared/logger.js');
    const report = await recoverWal({ db: world.api.db, config: world.config, blobStore, attrStore, staging: world.api.staging, queues: world.api.queues, logger: createLogger({ logLevel: 'silent' }, 'test') });
    expect(report.rolledBack).toBeGreaterThanOrEqual(1);
    expect((await world.api.db.walEntry.findFirstOrThrow({ where: { jobId } })).status).toBe('rolled_back');
    await expect(fs.stat(path.join(world.config.storagePath, attrPath))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(fs.stat(staged)).rejects.toMatchObject({ code: 'ENOENT' });
    // Recovery never unlinks bytes itself (an ingest may have found them present): it records them as an
    // unreferenced blob, which capacity counts and GC removes after the grace period.
    const blob = await world.api.db.blob.findUniqueOrThrow({ where: { sha256: h } });
    expect(blob).toMatchObject({ refCount: 0, size: BigInt(bytes.length) });
    expect(blob.orphanedAt).not.toBeNull();
    await world.api.db.blob.update({ where: { sha256: h }, data: { orphanedAt: new Date(Date.now() - 3_600_000 * 24 * 30) } });
    const { runBlobGc } = await import('../../src/shared/domain/blob-gc.js');
    expect(await runBlobGc({ db: world.api.db, config: world.config, blobStore, logger: createLogger({ logLevel: 'silent' }, 'test') }, h)).toEqual({ removed: true });
    expect(await blobStore.stat(h)).toBeNull();
  });
});
