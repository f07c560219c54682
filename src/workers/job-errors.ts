// The one place that decides, for a failed job run, between a BullMQ retry, a final failure and a later rerun,
// and what a client may read of it: stable codes and our own messages, never driver text or paths.
import { UnrecoverableError, type Job } from 'bullmq';
import { ERROR_STATUS, isAppError, PERMANENT_JOB_ERRORS, type ErrorCode } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { isOutageError } from '../shared/outage.js';
import { isS3AccessRefused } from '../shared/storage/s3-errors.js';
import { ScratchFullError } from '../shared/storage/staging-store.js';

/** What a job row records of its failure and what GET /api/v1/jobs/{id} serves. */
export interface JobFailure {
  code: ErrorCode;
  message: string;
}

export const INTERNAL_FAILURE: JobFailure = {
  code: 'internal',
  message: 'internal error; the worker log has the details under this job id',
};
export const OUTAGE_FAILURE: JobFailure = {
  code: 'unavailable',
  message: 'PostgreSQL, Redis or the blob store could not be reached while the job ran',
};
/** Stalls (its worker died or hung on it) a BullMQ job survives: the next one fails it (STALLED_REASON). */
export const MAX_STALLED_COUNT = 2;
/** How a worker's runner fails a job whose name it has no processor for (runner.ts; older versions wrote the same). */
export function noProcessorReason(name: string, queue: string): string {
  return `no processor for job name '${name}' on queue '${queue}'`;
}
/** Whether a BullMQ failedReason is noProcessorReason's, of any job name and queue. */
export const isNoProcessorReason = (reason: string | undefined): boolean => /^no processor for job name '/.test(reason ?? '');
/** BullMQ's own reason when a job stalled more than maxStalledCount times (its worker died or hung on it). */
export const STALLED_REASON = 'job stalled more than allowable limit';
export const STALLED_FAILURE: JobFailure = {
  code: 'internal',
  message: 'the job stopped its worker (a crash or hang) too many times and was given up',
};

/**
 * A full disk on the worker's host (its scratch copies, a local blob store) or a blob store that refuses the element
 * (a missing bucket, refused credentials): faults of the host, not of the upload. Like an outage they never fail a
 * job, whose staged bytes would then go: the requeue sweep runs it again once an operator has mended it.
 */
export const HOST_FAULT_FAILURE: JobFailure = {
  code: 'unavailable',
  message: "a disk of the worker's host is full, or the blob store refused the element (bucket or credentials); the job runs again once that is mended",
};

function isHostFault(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || err instanceof ScratchFullError || isS3AccessRefused(err);
}

/** AppErrors carry messages written for clients; anything else is told by its class only (outage or internal). */
export function jobFailureOf(err: unknown): JobFailure {
  if (isAppError(err)) return { code: err.code, message: err.message };
  if (isOutageError(err)) return OUTAGE_FAILURE;
  return isHostFault(err) ? HOST_FAULT_FAILURE : INTERNAL_FAILURE;
}

/** The BullMQ failedReason of a job ended by settleJobError; parseFailedReason reads it back. */
export function failedReason(failure: JobFailure): string {
  return `${failure.code}: ${failure.message}`;
}

/** A failure settleJobError wrote into BullMQ, or undefined for a reason BullMQ itself gave (a stall, a lost lock). */
export function parseFailedReason(reason: string | undefined): JobFailure | undefined {
  const match = /^([a-z_]+): ([\s\S]*)$/.exec(reason ?? '');
  if (!match || !(match[1]! in ERROR_STATUS)) return undefined;
  return { code: match[1] as ErrorCode, message: match[2]! };
}

/**
 * What a failed run means for a job (or for one file of a batch job): `retry` it (BullMQ, with backoff), `rerun`
 * it later (attempts used up during an outage: the requeue sweep runs it again once the services are back), or
 * `record` the failure on its row now (a permanent error, or the last attempt of any other).
 */
export function jobErrorDecision(err: unknown, lastAttempt: boolean): 'retry' | 'rerun' | 'record' {
  const permanent = isAppError(err) && PERMANENT_JOB_ERRORS.has(err.code);
  if (!permanent && !lastAttempt) return 'retry';
  return jobFailureOf(err).code === 'unavailable' ? 'rerun' : 'record';
}

/** Whether this run of a BullMQ job is its last attempt. */
export function isLastAttempt(job: Job): boolean {
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

/**
 * Permanent errors and the last attempt of transient ones end the job: `fail` records it on the row, and BullMQ
 * gets an UnrecoverableError whose message is the safe failure (parseFailedReason), so Bull Board shows it as
 * failed and the requeue sweep can record it later when `fail` itself throws (the database is down). An outage
 * on the last attempt is not recorded: the requeue sweep runs the job again once the services are back.
 * Other errors are rethrown so BullMQ retries with backoff. Never swallowed; full errors stay in the log.
 */
export async function settleJobError(
  job: Job,
  err: unknown,
  log: Logger,
  fail: (code: string, message: string) => Promise<void>,
): Promise<never> {
  const failure = jobFailureOf(err);
  const decision = jobErrorDecision(err, isLastAttempt(job));
  if (decision === 'retry') {
    log.warn({ err }, 'job attempt failed; BullMQ retries it');
    throw err;
  }
  if (decision === 'rerun') {
    log.warn({ err }, 'job attempts used up during an outage; the requeue sweep runs it again');
    throw new UnrecoverableError(failedReason(failure));
  }
  log[failure.code === 'internal' ? 'error' : 'warn']({ err, code: failure.code }, 'job failed');
  try {
    await fail(failure.code, failure.message);
  } catch (recordErr) {
    log.error({ err: recordErr, code: failure.code }, 'could not record the final failure; the requeue sweep records it later');
  }
  throw new UnrecoverableError(failedReason(failure));
}
