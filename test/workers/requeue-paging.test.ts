// The requeue sweep reaches every stale job row, not only the oldest page: a long queue of jobs legitimately
// waiting must not hide a row whose BullMQ job Redis lost behind it.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { enqueue } from '../../src/shared/queues.js';
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
});
