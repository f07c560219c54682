// file_jobs as the BullMQ queue sees them: the rows an 'ingest-batch' job carries (queue_job_id), and the open
// rows the requeue sweep checks against Redis.
import { OPEN_JOB_STATES } from '../../contract/jobs.js';
import { FINAL_STATES_SQL, type FileJob } from './file-jobs.js';
import { poolOf, type Db } from './database.js';

/** The open ingest jobs an 'ingest-batch' BullMQ job carries, in upload order (of equal bytes the first commits). */
export async function selectOpenJobsOfQueueJob(db: Db, queueJobId: string): Promise<string[]> {
  const { rows } = await poolOf(db).query<{ id: string }>(
    `SELECT id FROM file_jobs WHERE queue_job_id = $1 AND state NOT IN (${FINAL_STATES_SQL}) ORDER BY created_at, batch_index, id`,
    [queueJobId],
  );
  return rows.map((r) => r.id);
}

/**
 * Detaches the open rows of an 'ingest-batch' job from it: from now on each is carried by a BullMQ job of its own
 * (id = row id), which the requeue sweep adds when it finds none. Returns what enqueueing those jobs needs.
 */
export async function detachOpenJobsOfQueueJob(db: Db, queueJobId: string): Promise<Array<Pick<FileJob, 'id' | 'kind' | 'size' | 'queueJobId'>>> {
  const { rows } = await poolOf(db).query<{ id: string; kind: string; size: string }>(
    `UPDATE file_jobs SET queue_job_id = NULL WHERE queue_job_id = $1 AND state NOT IN (${FINAL_STATES_SQL}) RETURNING id, kind, size`,
    [queueJobId],
  );
  return rows.map((r) => ({ id: r.id, kind: r.kind, size: BigInt(r.size), queueJobId: null }));
}

export type StaleJob = Pick<FileJob, 'id' | 'kind' | 'size' | 'createdAt' | 'updatedAt' | 'queueJobId'>;

/** One page of jobs not final and untouched since staleBefore, in (updated_at, id) order after `after`. */
export async function selectStaleOpenJobs(
  db: Db,
  staleBefore: Date,
  after: { updatedAt: Date; id: string } | undefined,
  limit: number,
): Promise<StaleJob[]> {
  return db.fileJob.findMany({
    where: {
      state: { in: [...OPEN_JOB_STATES] },
      updatedAt: { lt: staleBefore },
      ...(after ? { OR: [{ updatedAt: { gt: after.updatedAt } }, { updatedAt: after.updatedAt, id: { gt: after.id } }] } : {}),
    },
    select: { id: true, kind: true, size: true, createdAt: true, updatedAt: true, queueJobId: true },
    orderBy: [{ updatedAt: 'asc' }, { id: 'asc' }],
    take: limit,
  });
}
