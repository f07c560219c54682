// Index maintenance over HTTP (SPEC §10): one run at a time under the maintenance lock, recorded as a job with
// its result; the caller gets the result when the run ends within its wait, else the job to poll.
import { randomUUID } from 'node:crypto';
import type { Db, Prisma } from '../records/database.js';
import { MaintenanceBusyError, withMaintenanceLock } from '../records/maintenance-lock.js';
import { closeOrphanedMaintenanceJobs, failMaintenanceJob, finishMaintenanceJob, startMaintenanceJob } from '../records/maintenance-jobs.js';

export { closeOrphanedMaintenanceJobs };
import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Principal } from './principal.js';
import { RebuildRefusedError } from './index-rebuild.js';

/**
 * One kind of maintenance run. `run` is the whole body: a rebuild, the consistency report, the cleanup of expired
 * files, or whatever is plugged in next; its answer is the job's result.
 */
export interface MaintenanceTask {
  /** Stored in the job's params, e.g. `index_rebuild`. */
  operation: string;
  /** The job's name in job lists, e.g. `index rebuild (full)`. */
  label: string;
  params?: Prisma.InputJsonObject;
  /** Whether commits that change reference counts must wait while it runs (a rebuild: yes; a report: no). */
  blockCommits: boolean;
  run: () => Promise<Record<string, unknown>>;
}

export interface MaintenanceDeps {
  db: Db;
  logger: Logger;
  /** Test hook: awaited once the run holds the lock and its job is recorded, before the task runs. */
  beforeMaintenanceRun?: (jobId: string) => Promise<void>;
}

export type MaintenanceOutcome =
  | { state: 'committed'; jobId: string; result: Record<string, unknown> }
  /** Still running when the wait ended: GET /api/v1/jobs/{jobId} carries the result once it has one. */
  | { state: 'committing'; jobId: string };

/** The job error (and, when the run ended within the request, the answer) a failed run gives. */
function failureOf(err: unknown): AppError {
  if (isAppError(err)) return err;
  if (err instanceof RebuildRefusedError) return new AppError('conflict', err.message);
  return new AppError('internal', 'the maintenance run failed; see the API log');
}

/**
 * Starts the task unless another maintenance run holds the lock (503 unavailable: the CLI's rebuild-index and
 * every API process share it), then waits up to waitMs for its end. A run that fails within the wait answers
 * its error; one that ends later records its result or error in its job either way.
 */
export async function runMaintenance(deps: MaintenanceDeps, principal: Principal, task: MaintenanceTask, waitMs: number): Promise<MaintenanceOutcome> {
  const jobId = randomUUID();
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const done = withMaintenanceLock(
    deps.db,
    async () => {
      await startMaintenanceJob(deps.db, {
        id: jobId,
        principal: principal.sub,
        principalName: principal.name ?? null,
        label: task.label,
        params: { operation: task.operation, ...task.params },
      });
      markStarted();
      try {
        await deps.beforeMaintenanceRun?.(jobId);
        const result = await task.run();
        await finishMaintenanceJob(deps.db, jobId, result as Prisma.InputJsonObject);
        return result;
      } catch (err) {
        const failure = failureOf(err);
        deps.logger.error({ err, jobId, operation: task.operation }, 'maintenance run failed');
        await failMaintenanceJob(deps.db, jobId, failure.code, failure.message).catch((e: unknown) => {
          deps.logger.error({ err: e, jobId }, 'could not record the failure of a maintenance run; the next run closes its job');
        });
        // A refused rebuild answers 409; anything else as it is (an outage is a 503 at the HTTP edge).
        throw err instanceof RebuildRefusedError ? failure : err;
      }
    },
    { blockCommits: task.blockCommits },
  );
  // Once the request has answered 202, an error is in the job and the log: it must not go unhandled.
  done.catch(() => undefined);
  try {
    await Promise.race([started, done]);
  } catch (err) {
    if (err instanceof MaintenanceBusyError) {
      throw new AppError('unavailable', 'another index maintenance run (rebuild, consistency report or cleanup) is going; retry when it has ended');
    }
    throw err;
  }
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), waitMs)));
  try {
    const ended = await Promise.race([done, waited]);
    return ended === 'timeout' ? { state: 'committing', jobId } : { state: 'committed', jobId, result: ended };
  } finally {
    clearTimeout(timer);
  }
}
