// Processor of 'ingest-batch' jobs (issue 12): the small files of a group of uploads, read from their rows by the
// job's id, run through this worker's batcher and settle one by one; the BullMQ job completes once. A file's own
// failure (a checksum, a taken file id) is recorded on its row and never fails the job or its neighbours; a
// failure that may pass (an outage, a crash point) retries the whole job, every step of which is idempotent.
import { UnrecoverableError, type Job } from 'bullmq';
import { failIngest } from '../shared/domain/ingest-commit.js';
import { openJobsOfQueueJob, splitQueueJob } from '../shared/domain/ingest-queue-jobs.js';
import type { Logger } from '../shared/logger.js';
import type { JobPayload, JobResult } from '../shared/queues.js';
import type { WorkerContext } from './context.js';
import type { IngestBatcher } from './ingest-batcher.js';
import { observeIngest, recordIngestOutcome } from './ingest.js';
import { failedReason, isLastAttempt, jobErrorDecision, jobFailureOf, MAX_STALLED_COUNT, OUTAGE_FAILURE } from './job-errors.js';

export function ingestBatchProcessor(ctx: WorkerContext, batcher: IngestBatcher) {
  return async (job: Job<JobPayload<'ingest-batch'>>): Promise<JobResult<'ingest-batch'>> => {
    const started = performance.now();
    const log = ctx.logger.child({ queueJobId: job.data.queueJobId, attempt: job.attemptsMade + 1 });
    let again: unknown;
    const counts = { committed: 0, duplicate: 0, failed: 0 };
    try {
      // Stalled as often as BullMQ allows (a file may kill its worker): the next stall would fail every file this
      // job carries. Each file gets a job of its own instead, so one that kills its worker stalls out alone.
      if ((job.stalledCounter ?? 0) >= MAX_STALLED_COUNT) {
        const files = await splitQueueJob(ctx.db, ctx.queues, ctx.config, job.data.queueJobId);
        log.warn({ files, stalled: job.stalledCounter }, 'ingest batch stalled too often; each of its open files runs in a job of its own');
        return counts;
      }
      // Only the rows still open: a rerun after a crash or a stall takes up what the last run left.
      const ids = await openJobsOfQueueJob(ctx.db, job.data.queueJobId);
      const settled = await Promise.allSettled(ids.map((id) => batcher.submit(id)));
      for (const [i, result] of settled.entries()) {
        const id = ids[i]!;
        if (result.status === 'fulfilled') {
          recordIngestOutcome(ctx, result.value, started, log, id);
          if (result.value.ranNow) counts[result.value.state as keyof typeof counts]++;
        } else {
          const settled = await settleFile(ctx, job, id, result.reason, started, log);
          if (settled === 'failed') counts.failed++;
          else if (settled === 'again') again ??= result.reason;
        }
      }
    } catch (err) {
      // The rows could not be read (the database): nothing settled, the whole job runs again.
      if (jobErrorDecision(err, isLastAttempt(job)) === 'record') throw new UnrecoverableError(failedReason(jobFailureOf(err)));
      again = err;
    }
    if (again === undefined) return counts;
    if (!isLastAttempt(job)) {
      log.warn({ err: again, settled: counts }, 'ingest batch attempt failed; BullMQ retries it (the files it settled stay settled)');
      throw again;
    }
    // Out of attempts with files still open: the requeue sweep runs the job again once the services are back
    // (a batch job's failure reason is never one file's own, so no row is ever failed for a neighbour).
    log.warn({ err: again, settled: counts }, 'ingest batch attempts used up; the requeue sweep runs it again');
    throw new UnrecoverableError(failedReason(OUTAGE_FAILURE));
  };
}

/**
 * One file of the batch that failed: `failed` once this run put its failure on its row (a permanent error, or the
 * last attempt's internal one), `settled` when the row was final already (another run of it, a WAL recovery job
 * say, committed it while this one ran: its error was only the staged file gone), `again` when the job as a
 * whole has to run again for it.
 */
async function settleFile(ctx: WorkerContext, job: Job, id: string, err: unknown, started: number, log: Logger): Promise<'failed' | 'settled' | 'again'> {
  if (jobErrorDecision(err, isLastAttempt(job)) !== 'record') return 'again';
  const failure = jobFailureOf(err);
  try {
    if (!(await failIngest(ctx, id, failure.code, failure.message))) return 'settled';
    log[failure.code === 'internal' ? 'error' : 'warn']({ err, code: failure.code, jobId: id }, 'job failed');
    observeIngest(ctx, started, 'failed');
    return 'failed';
  } catch (recordErr) {
    // The database is likely down: the job runs again, and this file fails again, then on its row.
    log.error({ err: recordErr, code: failure.code, jobId: id }, 'could not record the failure of a file of a batch; the batch runs again');
    return 'again';
  }
}
