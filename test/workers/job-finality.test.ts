// Every job row reaches a final state: a failure the database could not take is recorded by the requeue sweep,
// a job whose attempts ran out during an outage runs again afterwards, and a job BullMQ fails after the stall
// limit is recorded as failed. Outages are real (PostgreSQL behind a TCP proxy the test cuts); the stall is
// BullMQ's own, from a worker that takes the job and never finishes it.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { Worker } from 'bullmq';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { QUEUE_NAMES } from '../../src/shared/queues.js';
import { createWorkerConnection } from '../../src/shared/redis.js';
import { openWorkerContext, type WorkerContext } from '../../src/workers/context.js';
import { MAX_STALLED_COUNT } from '../../src/workers/job-errors.js';
import { requeueStaleJobs } from '../../src/workers/requeue.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/runner.js';
import { bullIdOf } from '../helpers/ingest-jobs.js';
import { pollUntil } from '../helpers/wait.js';
import { TcpProxy, targetOf } from '../helpers/tcp-proxy.js';
import { createWorld, type World } from '../helpers/world.js';

describe('job finality', () => {
  let world: World | undefined;
  let proxy: TcpProxy | undefined;
  let worker: { ctx: WorkerContext; running: RunningWorkers } | undefined;

  afterEach(async () => {
    await proxy?.restore();
    await worker?.running.close();
    await worker?.ctx.close();
    await world?.close();
    await proxy?.close();
    world = proxy = worker = undefined;
  });

  /** A world without a worker, and a worker in this process that reaches PostgreSQL through a proxy. */
  async function setup(): Promise<{ world: World; proxy: TcpProxy; ctx: WorkerContext; token: string }> {
    world = await createWorld({ isolatedDatabase: true });
    proxy = await TcpProxy.open(targetOf(world.config.databaseUrl));
    const config = { ...world.config, databaseUrl: proxy.urlFor(world.config.databaseUrl) };
    const ctx = await openWorkerContext(config, createLogger(config, 'test'));
    return { world, proxy, ctx, token: await world.token('user', 'alice') };
  }

  async function startWorker(ctx: WorkerContext): Promise<void> {
    worker = { ctx, running: await startWorkers(ctx) };
  }

  async function upload(w: World, token: string, fields: Record<string, string> = {}): Promise<string> {
    let req = request(w.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`);
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    const res = await req.attach('file', randomBytes(2000), 'f.bin');
    expect(res.status).toBe(202);
    return res.body.jobs[0].id as string;
  }

  /** The state of the BullMQ job that carries the row (its 'ingest-batch' job). */
  const bullState = async (w: World, id: string) => w.api.queues.ingest.getJobState(await bullIdOf(w, id));

  it('records a final failure the database could not take when it happened, once the database is back', async () => {
    const { world, proxy, ctx, token } = await setup();
    // The database goes away between the checksum check and the recording of its failure (once: the file's
    // 'ingest-batch' job fails as a whole for the outage, and the sweep's rerun finds the mismatch again).
    let cut = false;
    ctx.crashPoint = (step) => {
      if (step !== 'after-hash' || cut) return;
      cut = true;
      proxy.cut();
    };
    await startWorker(ctx);
    const jobId = await upload(world, token, { sha256: '0'.repeat(64) });
    await pollUntil('BullMQ failed the job', 20_000, async () => (await bullState(world, jobId)) === 'failed');
    const open = await world.api.db.fileJob.findUniqueOrThrow({ where: { id: jobId } });
    expect(open.state).toBe('hashing');

    await proxy.restore();
    await requeueStaleJobs(ctx, ctx.queues, 0);
    const job = await world.waitForJob(jobId, token, 10_000);
    expect(job).toMatchObject({ state: 'failed', error: { code: 'checksum_mismatch' } });
    const row = await world.api.db.fileJob.findUniqueOrThrow({ where: { id: jobId } });
    expect(row.stagedPath).toBeNull();
    await expect(fs.stat(open.stagedPath!)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('runs a job again after an outage used up its attempts, and it commits', async () => {
    const { world, proxy, ctx, token } = await setup();
    await startWorker(ctx);
    proxy.cut();
    const jobId = await upload(world, token);
    await pollUntil('BullMQ failed the job', 20_000, async () => (await bullState(world, jobId)) === 'failed');
    expect((await world.api.db.fileJob.findUniqueOrThrow({ where: { id: jobId } })).state).toBe('queued');

    await proxy.restore();
    const report = await requeueStaleJobs(ctx, ctx.queues, 0);
    expect(report.rerun).toBe(1);
    const job = await world.waitForJob(jobId, token, 20_000);
    expect(job.state).toBe('committed');
  });

  it('records a job BullMQ failed after the stall limit as failed', async () => {
    const { world, ctx, token } = await setup();
    const jobId = await upload(world, token);
    // A worker that takes the job and dies on it: its lock lapses, and with a stall limit of 0 BullMQ marks the
    // job to fail when a worker next takes it.
    const dying = new Worker(QUEUE_NAMES.ingest, null, {
      connection: createWorkerConnection(world.config),
      prefix: world.config.queuePrefix,
      lockDuration: 300,
      stalledInterval: 300,
      maxStalledCount: 0,
      autorun: false,
    });
    try {
      const taken = await dying.getNextJob('dying-worker');
      expect(taken?.id).toBe(await bullIdOf(world, jobId));
      void dying.startStalledCheckTimer();
      await pollUntil('the job stalled back to waiting', 15_000, async () => (await bullState(world, jobId)) === 'waiting');
    } finally {
      await dying.close();
      await dying.disconnect();
    }
    await startWorker(ctx);
    const job = await world.waitForJob(jobId, token, 15_000);
    expect(job).toMatchObject({ state: 'failed', error: { code: 'internal' } });
    expect(String((job.error as { message: string }).message)).toMatch(/stopped its worker/);
    const row = await world.api.db.fileJob.findUniqueOrThrow({ where: { id: jobId } });
    expect(row.stagedPath).toBeNull();
  });

  it('a batch job that stalled as often as allowed hands its file a job of its own, which commits it', async () => {
    const { world, ctx, token } = await setup();
    const jobId = await upload(world, token);
    const batchId = await bullIdOf(world, jobId);
    // Two workers take the batch job in turn and die on it (the stall limit is the real one: it is not failed).
    for (const token of ['dying-1', 'dying-2']) {
      const dying = new Worker(QUEUE_NAMES.ingest, null, {
        connection: createWorkerConnection(world.config),
        prefix: world.config.queuePrefix,
        lockDuration: 300,
        stalledInterval: 300,
        maxStalledCount: MAX_STALLED_COUNT,
        autorun: false,
      });
      try {
        expect((await dying.getNextJob(token))?.id).toBe(batchId);
        void dying.startStalledCheckTimer();
        await pollUntil('the job stalled back to waiting', 15_000, async () => (await world.api.queues.ingest.getJobState(batchId)) === 'waiting');
      } finally {
        await dying.close();
        await dying.disconnect();
      }
    }
    await startWorker(ctx);
    const job = await world.waitForJob(jobId, token, 15_000);
    expect(job.state).toBe('committed');
    // The third run gave the file an 'ingest-file' job of its own rather than running it in the batch job.
    expect((await world.api.db.fileJob.findUniqueOrThrow({ where: { id: jobId } })).queueJobId).toBeNull();
    expect(await world.api.queues.ingest.getJob(jobId)).toMatchObject({ name: 'ingest-file' });
  });
});
