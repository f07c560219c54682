// BullMQ is at-least-once: the same ingest job run twice (in turn or at once) must yield exactly one file.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIngestJob } from '../../src/shared/domain/ingest-commit.js';
import { queueJobIdOf } from '../../src/shared/domain/ingest-queue-jobs.js';
import { submitUpload } from '../../src/shared/domain/ingest-submit.js';
import { createLogger } from '../../src/shared/logger.js';
import { createWorld, type World } from '../helpers/world.js';

describe('ingest job run more than once', () => {
  let world: World;
  const noProgress = async () => undefined;

  beforeAll(async () => {
    // A worker context without running BullMQ workers: the test drives runIngestJob itself.
    world = await createWorld({ worker: false });
  });
  afterAll(async () => world?.close());

  async function stageJob(bytes: Buffer) {
    await fs.mkdir(world.config.stagingPath, { recursive: true });
    const stagedPath = path.join(world.config.stagingPath, `${randomUUID()}.part`);
    await fs.writeFile(stagedPath, bytes);
    const { jobs } = await submitUpload(
      { db: world.api.db, queues: world.api.queues, config: world.config, staging: world.api.staging, logger: createLogger({ logLevel: 'silent' }, 'test') },
      { sub: 'alice', role: 'user' },
      [{ stagedPath, fileName: 'twice.bin', contentType: 'application/octet-stream', size: bytes.length }],
      { tags: [], metadata: {} },
    );
    // Keep BullMQ's copy from running: this test is the only runner.
    await world.api.queues.ingest.remove(queueJobIdOf(jobs[0]!));
    return jobs[0]!;
  }

  async function deps() {
    const { openWorkerContext } = await import('../../src/workers/context.js');
    return await openWorkerContext(world.config, createLogger({ logLevel: 'silent' }, 'test'));
  }

  it('a second run after completion changes nothing', async () => {
    const ctx = await deps();
    try {
      const bytes = randomBytes(40_000);
      const job = await stageJob(bytes);
      const first = await runIngestJob(ctx, job.id, noProgress);
      const second = await runIngestJob(ctx, job.id, noProgress);
      expect(first).toMatchObject({ state: 'committed', ranNow: true });
      expect(second).toMatchObject({ state: 'committed', fileId: first.fileId, ranNow: false });
      const sha = createHash('sha256').update(bytes).digest('hex');
      expect(await world.api.db.file.count({ where: { sha256: sha } })).toBe(1);
      expect((await world.api.db.blob.findUniqueOrThrow({ where: { sha256: sha } })).refCount).toBe(1);
      expect(await world.api.db.walEntry.count({ where: { jobId: job.id } })).toBe(1);
    } finally {
      await ctx.close();
    }
  });

  it('two concurrent runs of one job produce one file, one blob reference, one committed WAL entry', async () => {
    const ctx = await deps();
    try {
      const bytes = randomBytes(2 * 1024 * 1024);
      const job = await stageJob(bytes);
      const results = await Promise.allSettled([runIngestJob(ctx, job.id, noProgress), runIngestJob(ctx, job.id, noProgress)]);
      const ok = results.filter((r) => r.status === 'fulfilled');
      expect(ok.length).toBeGreaterThanOrEqual(1);
      const sha = createHash('sha256').update(bytes).digest('hex');
      const row = await world.api.db.fileJob.findUniqueOrThrow({ where: { id: job.id } });
      expect(row.state).toBe('committed');
      expect(await world.api.db.file.count({ where: { sha256: sha } })).toBe(1);
      expect((await world.api.db.blob.findUniqueOrThrow({ where: { sha256: sha } })).refCount).toBe(1);
      const wal = await world.api.db.walEntry.findMany({ where: { jobId: job.id } });
      expect(wal.map((w) => w.status)).toEqual(['committed']);
      expect(await world.stagedFiles()).toEqual([]);
    } finally {
      await ctx.close();
    }
  });
});
