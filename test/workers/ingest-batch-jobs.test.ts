// 'ingest-batch' BullMQ jobs (issue 12): the small files of a group of uploads ride one BullMQ job that reads its
// rows by its id. A file's own failure (a wrong checksum, a taken file id) is recorded on its row and never fails
// the job or its neighbours; a run stopped by a crash runs again without doing anything twice; the requeue sweep
// adds a batch job Redis lost again under its id, once for all its rows, and leaves a waiting one alone.
import { createHash, randomBytes } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIngestBatch } from '../../src/shared/domain/ingest-batch.js';
import { runIngestJob } from '../../src/shared/domain/ingest-commit.js';
import { rebuildIndex } from '../../src/shared/domain/index-rebuild.js';
import { createLogger } from '../../src/shared/logger.js';
import { QUEUE_NAMES } from '../../src/shared/queues.js';
import { attrRelativePath } from '../../src/shared/storage/attr-files.js';
import type { WorkerContext } from '../../src/workers/context.js';
import { ingestBatchProcessor } from '../../src/workers/ingest-batch-job.js';
import { ingestProcessor, newIngestBatcher } from '../../src/workers/ingest.js';
import { MAX_STALLED_COUNT } from '../../src/workers/job-errors.js';
import { requeueStaleJobs } from '../../src/workers/requeue.js';
import { closeDrivenWorker, openDrivenWorker } from '../helpers/driven-worker.js';
import { stageFileJob, stageFileJobs } from '../helpers/ingest-jobs.js';
import type { World } from '../helpers/world.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const silent = createLogger({ logLevel: 'silent' }, 'test');

describe('ingest-batch jobs', () => {
  let world: World;
  let ctx: WorkerContext;
  beforeAll(async () => {
    ({ world, ctx } = await openDrivenWorker());
  });
  afterAll(() => closeDrivenWorker(world, ctx));

  const db = () => world.api.db;
  /** A BullMQ 'ingest-batch' job as the processor sees it. */
  const batchJob = (queueJobId: string, attemptsMade = 0, stalledCounter = 0) =>
    ({ id: queueJobId, name: 'ingest-batch', data: { queueJobId }, attemptsMade, stalledCounter, opts: { attempts: 3 } }) as unknown as Job<{ queueJobId: string }>;
  const finished = async (state: string) =>
    (await ctx.metrics.jobsFinished.get()).values.filter((v) => v.labels.state === state).reduce((n, v) => n + v.value, 0);
  /** Pauses the first run that reaches crash point `step` until release(); reached resolves when it is there. */
  const pauseOnceAt = (step: string) => {
    let paused: () => void = () => {};
    const reached = new Promise<void>((resolve) => (paused = resolve));
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    ctx.crashPoint = async (at) => {
      if (at !== step || !first) return;
      first = false;
      paused();
      await gate;
    };
    return { reached, release: () => release() };
  };
  const states = async (ids: string[]) =>
    (await db().fileJob.findMany({ where: { id: { in: ids } } })).map((r) => r.state).sort();

  /** rebuild-index brings in a restored file holding the job's file id before the job commits (ingest-batch.test.ts). */
  async function takeFileIdByRestore(job: { fileId: string; createdAt: Date }, donorFileId: string): Promise<void> {
    const donor = await db().file.findUniqueOrThrow({ where: { id: donorFileId } });
    const record = (await ctx.attrStore.read(donor.attrPath))!;
    const createdAt = job.createdAt.toISOString();
    await ctx.attrStore.write(attrRelativePath(job.fileId, job.createdAt), { ...record, id: job.fileId, fileName: 'restored.bin', createdAt, updatedAt: createdAt });
    await rebuildIndex({ db: db(), config: world.config, blobStore: ctx.blobStore, logger: silent });
  }

  it('commits 30 of 32 files in one BullMQ job: a wrong checksum and a taken file id fail alone, the job completes', async () => {
    const donor = await stageFileJob(world, randomBytes(3_000));
    await runIngestBatch(ctx, [donor.id]);
    const files = Array.from({ length: 32 }, (_, i) => randomBytes(1_000 + i * 331));
    const declared = files.map(sha);
    declared[4] = sha(randomBytes(16));
    const jobs = await stageFileJobs(world, files, declared);
    const queueJobId = jobs[0]!.queueJobId!;
    // One upload of small files: one BullMQ job carries them all.
    expect(new Set(jobs.map((j) => j.queueJobId))).toEqual(new Set([queueJobId]));
    await takeFileIdByRestore(jobs[17]!, donor.fileId);
    const before = { committed: await finished('committed'), failed: await finished('failed') };

    const process = ingestBatchProcessor(ctx, newIngestBatcher(ctx));
    // Resolves (the BullMQ job completes): the two failures are the files' own, recorded on their rows.
    await expect(process(batchJob(queueJobId))).resolves.toEqual({ committed: 30, duplicate: 0, failed: 2 });
    for (const [i, job] of jobs.entries()) {
      const row = await db().fileJob.findUniqueOrThrow({ where: { id: job.id } });
      if (i === 4) expect(row).toMatchObject({ state: 'failed', errorCode: 'checksum_mismatch' });
      else if (i === 17) expect(row).toMatchObject({ state: 'failed', errorCode: 'conflict' });
      else expect(row).toMatchObject({ state: 'committed', sha256: sha(job.bytes), errorCode: null });
    }
    // Metrics per file, not per BullMQ job.
    expect((await finished('committed')) - before.committed).toBe(30);
    expect((await finished('failed')) - before.failed).toBe(2);
    // A second run (BullMQ is at-least-once) finds no open row: nothing to do, nothing counted.
    await expect(process(batchJob(queueJobId, 1))).resolves.toEqual({ committed: 0, duplicate: 0, failed: 0 });
    expect((await finished('committed')) - before.committed).toBe(30);
  });

  it('a run stopped by a crash retries the whole job, and the rerun commits each file exactly once', async () => {
    const files = Array.from({ length: 6 }, (_, i) => randomBytes(900 + i));
    const jobs = await stageFileJobs(world, files);
    const ids = jobs.map((j) => j.id);
    const process = ingestBatchProcessor(ctx, newIngestBatcher(ctx));
    // The worker dies after the blobs are stored and before the attr.json files (a thrown crash point stands in).
    ctx.crashPoint = (step) => {
      if (step === 'after-blob') throw new Error('crash point after-blob');
    };
    try {
      await expect(process(batchJob(jobs[0]!.queueJobId!))).rejects.toThrow('crash point after-blob');
    } finally {
      ctx.crashPoint = undefined;
    }
    // Not a file's fault: no file failed, and the job is left for BullMQ's retry.
    expect(await states(ids)).toEqual(Array(6).fill('committing'));
    await expect(process(batchJob(jobs[0]!.queueJobId!, 1))).resolves.toEqual({ committed: 6, duplicate: 0, failed: 0 });
    for (const job of jobs) {
      expect(await db().file.count({ where: { id: job.fileId } })).toBe(1);
      expect((await db().blob.findUniqueOrThrow({ where: { sha256: sha(job.bytes) } })).refCount).toBe(1);
      expect((await db().walEntry.findMany({ where: { jobId: job.id } })).map((w) => w.status)).toEqual(['committed']);
    }
  });

  it('the requeue sweep leaves a waiting batch job alone and adds a lost one again under its id, once for all its rows', async () => {
    const jobs = await stageFileJobs(world, [randomBytes(500), randomBytes(600), randomBytes(700)]);
    const queueJobId = jobs[0]!.queueJobId!;
    const queue = ctx.queues.ingest;
    // stageFileJobs took the job out of Redis so no worker runs it; put it back as the API enqueued it.
    await queue.add('ingest-batch', { queueJobId }, { jobId: queueJobId });
    const waitingBefore = await queue.getWaitingCount();
    expect(await requeueStaleJobs(ctx, ctx.queues, 0)).toMatchObject({ requeued: 0, rerun: 0 });
    expect(await queue.getWaitingCount()).toBe(waitingBefore);

    // Redis loses it: one job is added again under the same id, not one per row.
    await queue.remove(queueJobId);
    expect(await requeueStaleJobs(ctx, ctx.queues, 0)).toMatchObject({ requeued: 3 });
    expect(await queue.getWaitingCount()).toBe(waitingBefore);
    expect(await queue.getJob(queueJobId)).toMatchObject({ name: 'ingest-batch', data: { queueJobId } });
    for (const job of jobs) expect(await queue.getJob(job.id)).toBeUndefined();

    // A completed batch job whose rows are still open (its run saw a state that has moved since) runs again.
    const taker = new Worker(QUEUE_NAMES.ingest, null, { connection: ctx.connection, prefix: world.config.queuePrefix, autorun: false });
    try {
      const next = await taker.getNextJob('test-token');
      expect(next?.id).toBe(queueJobId);
      await next!.moveToCompleted({ committed: 0, duplicate: 0, failed: 0 }, 'test-token', false);
    } finally {
      await taker.close();
    }
    expect(await queue.getJobState(queueJobId)).toBe('completed');
    expect(await requeueStaleJobs(ctx, ctx.queues, 0)).toMatchObject({ requeued: 3 });
    expect(await queue.getJobState(queueJobId)).toBe('waiting');
    await queue.remove(queueJobId);
  });
  it('a batch job failed by an older worker (no processor for ingest-batch) runs again instead of failing its files', async () => {
    const jobs = await stageFileJobs(world, [randomBytes(400), randomBytes(450)]);
    const queueJobId = jobs[0]!.queueJobId!;
    const queue = ctx.queues.ingest;
    await queue.add('ingest-batch', { queueJobId }, { jobId: queueJobId });
    // A worker of the version before batch jobs: its runner fails an unknown job name for good, with this reason.
    const old = new Worker(QUEUE_NAMES.ingest, null, { connection: ctx.connection, prefix: world.config.queuePrefix, autorun: false });
    try {
      const next = await old.getNextJob('old-token');
      expect(next?.id).toBe(queueJobId);
      await next!.moveToFailed(new Error(`no processor for job name 'ingest-batch' on queue 'ingest'`), 'old-token', false);
    } finally {
      await old.close();
    }
    expect(await queue.getJobState(queueJobId)).toBe('failed');
    expect(await requeueStaleJobs(ctx, ctx.queues, 0)).toMatchObject({ rerun: 2, failed: 0 });
    expect(await queue.getJobState(queueJobId)).toBe('waiting');
    expect(await states(jobs.map((j) => j.id))).toEqual(['queued', 'queued']);
    await queue.remove(queueJobId);
  });

  it('on its last run after stalls a batch job gives each open file a BullMQ job of its own and runs none of them', async () => {
    // A file that kills its worker stalls its batch job each time; BullMQ fails a job past MAX_STALLED_COUNT stalls,
    // and that would fail every file the job still carries. The last run hands them out instead: the file that
    // kills the worker then stalls out alone, its neighbours each in a job of their own.
    const jobs = await stageFileJobs(world, [randomBytes(1_100), randomBytes(1_200), randomBytes(1_300)]);
    const queueJobId = jobs[0]!.queueJobId!;
    await runIngestBatch(ctx, [jobs[0]!.id]);
    const queue = ctx.queues.ingest;
    const process = ingestBatchProcessor(ctx, newIngestBatcher(ctx));
    await expect(process(batchJob(queueJobId, 0, MAX_STALLED_COUNT))).resolves.toEqual({ committed: 0, duplicate: 0, failed: 0 });
    const rows = await Promise.all(jobs.map((j) => db().fileJob.findUniqueOrThrow({ where: { id: j.id } })));
    expect(rows.map((r) => [r.state, r.queueJobId])).toEqual([['committed', queueJobId], ['queued', null], ['queued', null]]);
    for (const row of rows.slice(1)) {
      expect(await queue.getJob(row.id)).toMatchObject({ name: 'ingest-file', data: { ingestJobId: row.id, size: Number(row.size) } });
    }
    // The batch job carries nothing now: a stall-out of it fails no file, a rerun of it runs none.
    await expect(process(batchJob(queueJobId, 0, MAX_STALLED_COUNT + 1))).resolves.toEqual({ committed: 0, duplicate: 0, failed: 0 });
    // Each file's own job commits it.
    const processFile = ingestProcessor(ctx, newIngestBatcher(ctx));
    for (const row of rows.slice(1)) {
      const job = (await queue.getJob(row.id))!;
      await expect(processFile(job as Job<{ ingestJobId: string; size?: number }>)).resolves.toMatchObject({ state: 'committed' });
      await queue.remove(row.id);
    }
    expect(await states(jobs.map((j) => j.id))).toEqual(['committed', 'committed', 'committed']);
  });

  for (const step of ['after-hash', 'after-wal', 'after-attr'] as const) {
    it(`a WAL recovery run of one of its files while the batch job (last attempt) is paused ${step} commits it once, counted once`, async () => {
      // WAL recovery adds an 'ingest-file' job per stale entry beside the batch job that carries the row (another
      // worker may run it at the same time): the claim lets both in, the commit lets one of them commit. The batch
      // run may then meet the staged file gone (the other run removed it): not a failure of the file.
      const jobs = await stageFileJobs(world, [randomBytes(1_500), randomBytes(1_600)]);
      const [raced, other] = jobs;
      const { reached, release } = pauseOnceAt(step);
      const before = { committed: await finished('committed'), failed: await finished('failed') };
      try {
        const run = ingestBatchProcessor(ctx, newIngestBatcher(ctx))(batchJob(raced!.queueJobId!, 2));
        await reached;
        // The recovery carrier runs the first file alone, to its end, while the batch job waits.
        await expect(runIngestJob(ctx, raced!.id, async () => {})).resolves.toMatchObject({ state: 'committed', ranNow: true });
        release();
        // The batch run commits the other file; the raced one it finds committed (not by this run, not failed).
        await expect(run).resolves.toEqual({ committed: 1, duplicate: 0, failed: 0 });
      } finally {
        ctx.crashPoint = undefined;
        release();
      }
      for (const job of [raced!, other!]) {
        expect(await db().fileJob.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ state: 'committed', errorCode: null });
        expect(await db().file.count({ where: { id: job.fileId } })).toBe(1);
        expect((await db().blob.findUniqueOrThrow({ where: { sha256: sha(job.bytes) } })).refCount).toBe(1);
        expect((await db().walEntry.findMany({ where: { jobId: job.id } })).map((w) => w.status)).toEqual(['committed']);
        expect(await db().auditEvent.count({ where: { jobId: job.id, action: 'ingest' } })).toBe(1);
      }
      // The batch processor counts only the file it committed (the recovery run's processor counts the other).
      expect((await finished('committed')) - before.committed).toBe(1);
      expect((await finished('failed')) - before.failed).toBe(0);
    });
  }

  it('a WAL recovery ingest-file job (last attempt) paused after-wal while the batch job commits its file counts no failure', async () => {
    const jobs = await stageFileJobs(world, [randomBytes(1_700)]);
    const raced = jobs[0]!;
    const { reached, release } = pauseOnceAt('after-wal');
    const before = { committed: await finished('committed'), failed: await finished('failed') };
    const recoveryJob = {
      id: `${raced.id}-recovery-1`, name: 'ingest-file', data: { ingestJobId: raced.id, size: raced.bytes.length }, attemptsMade: 2, opts: { attempts: 3 },
    } as unknown as Job<{ ingestJobId: string; size?: number }>;
    try {
      const recovery = ingestProcessor(ctx, newIngestBatcher(ctx))(recoveryJob).then(
        () => 'completed',
        () => 'failed',
      );
      await reached;
      await expect(ingestBatchProcessor(ctx, newIngestBatcher(ctx))(batchJob(raced.queueJobId!))).resolves.toEqual({ committed: 1, duplicate: 0, failed: 0 });
      release();
      // The recovery run met the staged file gone; however BullMQ ends its job, the file is committed, counted once.
      await recovery;
    } finally {
      ctx.crashPoint = undefined;
      release();
    }
    expect(await db().fileJob.findUniqueOrThrow({ where: { id: raced.id } })).toMatchObject({ state: 'committed', errorCode: null });
    expect((await finished('committed')) - before.committed).toBe(1);
    expect((await finished('failed')) - before.failed).toBe(0);
  });
});
