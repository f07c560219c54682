// Requeue sweep: unfinished ingest jobs in PostgreSQL that Redis lost (or never got) are enqueued again.
import type { WorkerContext } from './context.js';
import { enqueue, type Queues } from '../shared/queues.js';

const STALE_AFTER_MS = 60_000;
const BATCH = 500;

/**
 * Re-adds jobs that are not final and untouched for a minute. A job id still present in Redis (waiting,
 * active, delayed) makes the add a no-op, so this never runs a job twice by itself.
 */
export async function requeueStaleJobs(ctx: WorkerContext, queues: Queues): Promise<number> {
  const stale = await ctx.db.ingestJob.findMany({
    where: { kind: 'ingest', state: { in: ['queued', 'hashing', 'committing'] }, updatedAt: { lt: new Date(Date.now() - STALE_AFTER_MS) } },
    select: { id: true },
    orderBy: { updatedAt: 'asc' },
    take: BATCH,
  });
  await enqueue(queues, ctx.config, 'ingest-file', stale.map((j) => ({ id: j.id, payload: { ingestJobId: j.id } })));
  return stale.length;
}
