// The requeue sweep reaches every stale job row, not only the oldest page: a long queue of jobs legitimately
// waiting must not hide a row whose BullMQ job Redis lost behind it.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { UnrecoverableError, Worker } from 'bullmq';
import { enqueue, QUEUE_NAMES } from '../../src/shared/queues.js';
import { failedReason, OUTAGE_FAILURE } from '../../src/workers/job-errors.js';
import { openWorkerContext, type WorkerContext } from '../../src/workers/context.js';
import { requeueStaleJobs } from '../../src/workers/requeue.js';
import { createWorld, type World } from '../helpers/world.js';

describe('requeue sweep paging', () => {
  let world: World;
  let ctx: WorkerContext;

  beforeAll(async () => {
    world = await createWorld({ worker: false, isolatedDatabase: true });
    ctx = await openWorkerContext(world.config, createLogger({ logLevel: 'silent' }, 'test'));
  });
  afterAll(async () => {
    await ctx?.close();
    await world?.close();
  });

  it('requeues a lost job that sits behind more than one page of waiting ones', async () => {
    const waiting = Array.from({ length: 520 }, () => randomUUID());
    const lost = randomUUID();
    // Older rows first: the waiting ones fill the first page of the sweep's (updated_at, id) order.
    await world.api.db.$executeRaw`
      INSERT INTO file_jobs (id, kind, state, principal, file_name, content_type, size, file_id, created_at, updated_at)
      SELECT w.id, 'ingest', 'queued', 'alice', 'w.bin', 'application/octet-stream', 1, gen_random_uuid(),
        now() - interval '2 hours', now() - interval '2 hours' + w.n * interval '1 millisecond'
      FROM unnest(${waiting}::uuid[]) WITH ORDINALITY AS w(id, n)`;
    await world.api.db.$executeRaw`
      INSERT INTO file_jobs (id, kind, state, principal, file_name, content_type, size, file_id, created_at, updated_at)
      VALUES (${lost}::uuid, 'ingest', 'queued', 'alice', 'lost.bin', 'application/octet-stream', 1, gen_random_uuid(),
        now() - interval '1 hour', now() - interval '1 hour')`;
    // No worker runs in this world: these stay waiting in BullMQ; the lost row's job was never added (or Redis lost it).
    await enqueue(ctx.queues, world.config, 'ingest-file', waiting.map((id) => ({ id, payload: { ingestJobId: id } })));

    const report = await requeueStaleJobs(ctx, ctx.queues, 0);
    expect(report.requeued).toBe(1);
    expect(await ctx.queues.ingest.getJobState(lost)).toBe('waiting');
    expect(await ctx.queues.ingest.getWaitingCount()).toBe(waiting.length + 1);
  });

  it('an ingest-batch job whose rows span two pages is run again once, and none of its rows gets a job of its own', async () => {
    await ctx.queues.ingest.obliterate({ force: true });
    await world.api.db.$executeRaw`DELETE FROM file_jobs`;
    const waiting = Array.from({ length: 498 }, () => randomUUID());
    const batch = Array.from({ length: 3 }, () => randomUUID());
    const queueJobId = randomUUID();
    await world.api.db.$executeRaw`
      INSERT INTO file_jobs (id, kind, state, principal, file_name, content_type, size, file_id, created_at, updated_at)
      SELECT w.id, 'ingest', 'queued', 'alice', 'w.bin', 'application/octet-stream', 1, gen_random_uuid(),
        now() - interval '2 hours', now() - interval '2 hours' + w.n * interval '1 millisecond'
      FROM unnest(${waiting}::uuid[]) WITH ORDINALITY AS w(id, n)`;
    // The batch job's rows come last: two on the first page of the sweep, one on the second.
    await world.api.db.$executeRaw`
      INSERT INTO file_jobs (id, kind, state, principal, file_name, content_type, size, file_id, queue_job_id, created_at, updated_at)
      SELECT b.id, 'ingest', 'queued', 'alice', 'b.bin', 'application/octet-stream', 1, gen_random_uuid(), ${queueJobId}::uuid,
        now() - interval '1 hour', now() - interval '1 hour' + b.n * interval '1 millisecond'
      FROM unnest(${batch}::uuid[]) WITH ORDINALITY AS b(id, n)`;
    await enqueue(ctx.queues, world.config, 'ingest-file', waiting.map((id) => ({ id, payload: { ingestJobId: id } })));
    // The batch job's attempts ran out during an outage.
    await enqueue(ctx.queues, world.config, 'ingest-batch', [{ id: queueJobId, payload: { queueJobId } }]);
    const taker = new Worker(QUEUE_NAMES.ingest, null, { connection: ctx.connection, prefix: world.config.queuePrefix, autorun: false });
    try {
      let next = await taker.getNextJob('t');
      while (next && next.id !== queueJobId) {
        await next.moveToDelayed(Date.now() + 3_600_000, 't');
        next = await taker.getNextJob('t');
      }
      await next!.moveToFailed(new UnrecoverableError(failedReason(OUTAGE_FAILURE)), 't', false);
    } finally {
      await taker.close();
    }
    expect(await ctx.queues.ingest.getJobState(queueJobId)).toBe('failed');
    const report = await requeueStaleJobs(ctx, ctx.queues, 0);
    expect(report).toMatchObject({ rerun: 2, failed: 0 });
    expect(await ctx.queues.ingest.getJobState(queueJobId)).toBe('waiting');
    for (const id of batch) expect(await ctx.queues.ingest.getJob(id)).toBeUndefined();
    const rows = await world.api.db.fileJob.findMany({ where: { id: { in: batch } } });
    expect(rows.map((r) => r.state)).toEqual(['queued', 'queued', 'queued']);
  });
});
