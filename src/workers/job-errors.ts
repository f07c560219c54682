// The one place that decides, for a failed job run, between a BullMQ retry and a final failure.
import { UnrecoverableError, type Job } from 'bullmq';
import { isAppError, PERMANENT_JOB_ERRORS } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/**
 * Permanent errors (and the last attempt of transient ones) end the job through `fail` and reach BullMQ as
 * UnrecoverableError (or the original error), so Bull Board shows them as failed; other errors are rethrown
 * so BullMQ retries with backoff. Never swallowed.
 */
export async function settleJobError(
  job: Job,
  err: unknown,
  log: Logger,
  fail: (code: string, message: string) => Promise<void>,
): Promise<never> {
  const code = isAppError(err) ? err.code : 'internal';
  const message = err instanceof Error ? err.message : String(err);
  const permanent = isAppError(err) && PERMANENT_JOB_ERRORS.has(err.code);
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  if (!permanent && !lastAttempt) {
    log.warn({ err }, 'job attempt failed; BullMQ retries it');
    throw err;
  }
  await fail(code, message);
  log.warn({ code, message }, 'job failed');
  throw permanent ? new UnrecoverableError(`${code}: ${message}`) : err;
}
