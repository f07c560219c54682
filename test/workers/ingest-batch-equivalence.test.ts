// A batch must mean for each file exactly what running its job alone means (review findings of issue 12): bytes
// no blob row vouches for are replaced, the same bytes twice are stored once and counted once, a job that two
// BullMQ jobs ran in one batch is counted once, and a large file runs alone with progress.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIngestBatch } from '../../src/shared/domain/ingest-batch.js';
import type { WorkerContext } from '../../src/workers/context.js';
import { ingestProcessor } from '../../src/workers/ingest.js';
import { stageFileJob, stageFileJobs } from '../helpers/ingest-jobs.js';
import type { World } from '../helpers/world.js';
import { closeDrivenWorker, openDrivenWorker } from '../helpers/driven-worker.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('ingest batch, file by file the same as one job alone', () => {
  let world: World;
  let ctx: WorkerContext;
  beforeAll(async () => {
    ({ world, ctx } = await openDrivenWorker());
  });
  afterAll(() => closeDrivenWorker(world, ctx));

  const blobFile = (digest: string) => path.join(world.config.storagePath, ctx.blobStore.keyFor(digest));
  /** A BullMQ job as the processor sees it, recording the progress it reports. */
  const fakeJob = (bullId: string, data: { ingestJobId: string; size?: number }, progress: number[] = []) =>
    ({ id: bullId, data, attemptsMade: 0, opts: { attempts: 3 }, updateProgress: async (p: number) => void progress.push(p) }) as unknown as Job;
  const committedCount = async () =>
    (await ctx.metrics.jobsFinished.get()).values.filter((v) => v.labels.state === 'committed').reduce((n, v) => n + v.value, 0);

  it('replaces same-size bytes at the blob path that no blob row vouches for', async () => {
    const bytes = randomBytes(4_000);
    await fs.mkdir(path.dirname(blobFile(sha(bytes))), { recursive: true });
    await fs.writeFile(blobFile(sha(bytes)), randomBytes(bytes.length));
    const job = await stageFileJob(world, bytes);
    const result = (await runIngestBatch(ctx, [job.id])).get(job.id)!;
    expect(result).toMatchObject({ ok: true, outcome: { state: 'committed' } });
    expect(sha(await fs.readFile(blobFile(sha(bytes))))).toBe(sha(bytes));
  });

  it('stores the same new bytes twice in one batch once: the earlier file created the blob, the later reused it', async () => {
    for (let n = 0; n < 5; n++) {
      const same = randomBytes(3_000 + n);
      const jobs = await stageFileJobs(world, [same, same]);
      const results = await runIngestBatch(ctx, jobs.map((j) => j.id));
      const [first, second] = jobs.map((j) => results.get(j.id)!).map((r) => (r.ok ? r.outcome : null));
      expect(first).toMatchObject({ state: 'committed', blobCreated: true });
      expect(second).toMatchObject({ state: 'duplicate', blobCreated: false });
      const row = await world.api.db.blob.findUniqueOrThrow({ where: { sha256: sha(same) } });
      expect(row).toMatchObject({ refCount: 2, corruptAt: null });
    }
  });

  it('counts a job once when two BullMQ jobs of it (a WAL recovery run beside the original) meet in one batch', async () => {
    const job = await stageFileJob(world, randomBytes(2_000));
    const process = ingestProcessor(ctx);
    const before = await committedCount();
    const answers = await Promise.all([
      process(fakeJob(job.id, { ingestJobId: job.id }) as never),
      process(fakeJob(`${job.id}-recovery-1`, { ingestJobId: job.id }) as never),
    ]);
    expect(answers.map((a) => a.state)).toEqual(['committed', 'committed']);
    expect((await committedCount()) - before).toBe(1);
  });

  it('runs a large file (its payload says so) alone, reporting progress; a small one in a batch, quietly', async () => {
    const process = ingestProcessor(ctx);
    const large = await stageFileJob(world, randomBytes(9 * 1024 * 1024));
    const small = await stageFileJob(world, randomBytes(1_000));
    const progress = { large: [] as number[], small: [] as number[] };
    await Promise.all([
      process(fakeJob(large.id, { ingestJobId: large.id, size: 9 * 1024 * 1024 }, progress.large) as never),
      process(fakeJob(small.id, { ingestJobId: small.id, size: 1_000 }, progress.small) as never),
    ]);
    expect(progress.large).toEqual(expect.arrayContaining([10, 50, 80]));
    expect(progress.small).toEqual([]);
  });
});
