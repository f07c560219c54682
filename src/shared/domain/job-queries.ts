// Reading job rows as a principal may see them (own jobs; operators and admins all), and waiting on them. Status
// polling reads views through job-status.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../records/database.js';
import { selectFileJobs, type FileJob } from '../records/file-jobs.js';
import { selectStaleOpenJobs, type StaleJob } from '../records/file-job-queue.js';
import { AppError } from '../errors.js';
import { isFinalState } from '../../contract/jobs.js';
import { can, type Principal } from './principal.js';
import { isUuid } from '../../contract/ids.js';

export type { FileJob, StaleJob };

function ownerFilter(principal: Principal): string | undefined {
  return can(principal, 'job:read-all') ? undefined : principal.sub;
}

/** One job; 404 when it does not exist or belongs to someone the principal may not see. */
export async function getJob(db: Db, principal: Principal, id: string): Promise<FileJob> {
  const [job] = isUuid(id) ? await selectFileJobs(db, [id.toLowerCase()], ownerFilter(principal)) : [];
  if (!job) throw new AppError('not_found', `no job ${id}`);
  return job;
}

/**
 * Polls the database until every job is final or timeoutMs passes (or signal aborts); returns the latest rows.
 * The database is the truth and is shared by every API process, so this works whichever worker runs the job.
 */
export async function waitForJobs(db: Db, ids: string[], timeoutMs: number, signal?: AbortSignal): Promise<FileJob[]> {
  const deadline = Date.now() + timeoutMs;
  let delay = 25;
  while (true) {
    const rows = await selectFileJobs(db, ids);
    const done = rows.every((r) => isFinalState(r.state));
    const remaining = deadline - Date.now();
    if (done || remaining <= 0 || signal?.aborted) {
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    }
    await sleep(Math.min(delay, remaining), undefined, { signal }).catch(() => undefined);
    delay = Math.min(delay * 2, 250);
  }
}

/**
 * One page of the jobs that are not final and untouched for staleAfterMs, in (updatedAt, id) order after `after`
 * (the requeue sweep pages through them all).
 */
export async function listStaleOpenJobs(
  db: Db,
  staleAfterMs: number,
  after: { updatedAt: Date; id: string } | undefined,
  limit: number,
): Promise<StaleJob[]> {
  return selectStaleOpenJobs(db, new Date(Date.now() - staleAfterMs), after, limit);
}
