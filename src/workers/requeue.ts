// Requeue sweep: unfinished ingest jobs in PostgreSQL that Redis lost (or never got) are enqueued again.
import type { WorkerContext } from './context.js';
import { enqueue, type Queues } from '../shared/queues.js';

const STALE_AFTER_MS = 60_000;
const JOB_NAME_OF_KIND = { ingest: 'ingest-file', update: 'update-metadata', delete: 'delete-file' } as const;
const BATCH = 500;

/**
 * Re-adds jobs that are not final and untouched for a minute. A job id still present in Redis (waiting,
 * active, delayed) makes the add a no-op, so this never runs a job twice by itself.
 */
export async function requeueStaleJobs(ctx: WorkerContext, queues: Queues): Promise<number> {
  const stale = await ctx.db.ingestJob.findMany({
    where: { state: { in: ['queued', 'hashing', 'committing'] }, updatedAt: { lt: new Date(Date.now() - STALE_AFTER_MS) } },
    select: { id: true, kind: true },
    orderBy: { updatedAt: 'asc' },
    take: BATCH,
  });
  for (const [kind, name] of Object.entries(JOB_NAME_OF_KIND)) {
    const ids = stale.filter((j) => j.kind === kind).map((j) => j.id);
    await enqueue(queues, ctx.config, name, ids.map((id) => ({ id, payload: { ingestJobId: id } })));
  }
  return stale.length;
}
