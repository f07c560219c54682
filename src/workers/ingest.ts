// Processor of 'ingest-file' jobs: runs the ingest rules, records metrics, decides retry vs final failure.
import { UnrecoverableError, type Job } from 'bullmq';
import { failIngest, runIngest } from '../shared/domain/ingest-commit.js';
import { isAppError, PERMANENT_JOB_ERRORS } from '../shared/errors.js';
import type { JobPayload, JobResult } from '../shared/queues.js';
import type { WorkerContext } from './context.js';

type IngestJob = Job<JobPayload<'ingest-file'>, JobResult<'ingest-file'>>;

export function ingestProcessor(ctx: WorkerContext) {
  const { metrics } = ctx;
  return async (job: IngestJob): Promise<JobResult<'ingest-file'>> => {
    const started = performance.now();
    const id = job.data.ingestJobId;
    const log = ctx.logger.child({ jobId: id, attempt: job.attemptsMade + 1 });
    const observe = (state: string) => {
      metrics.jobsFinished.inc({ queue: 'ingest', state });
      metrics.jobDuration.observe({ queue: 'ingest', state }, (performance.now() - started) / 1_000);
    };
    try {
      const outcome = await runIngest(ctx, id, (p) => job.updateProgress(p));
      if (outcome.ranNow) {
        observe(outcome.state);
        metrics.bytesCommitted.inc(outcome.size ?? 0);
        metrics.hashedBytes.inc(outcome.size ?? 0);
        metrics.hashSeconds.inc(outcome.hashSeconds ?? 0);
        if (outcome.blobCreated) metrics.blobBytesWritten.inc(outcome.size ?? 0);
        if (outcome.state === 'duplicate' || !outcome.blobCreated) metrics.dedupHits.inc();
        log.info({ state: outcome.state, fileId: outcome.fileId, size: outcome.size }, 'ingest finished');
      }
      return { state: outcome.state, ...(outcome.fileId ? { fileId: outcome.fileId } : {}) };
    } catch (err) {
      if (isAppError(err, 'not_found')) throw new UnrecoverableError(err.message);
      const code = isAppError(err) ? err.code : 'internal';
      const message = err instanceof Error ? err.message : String(err);
      const permanent = isAppError(err) && PERMANENT_JOB_ERRORS.has(err.code);
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (!permanent && !lastAttempt) {
        log.warn({ err }, 'ingest attempt failed; BullMQ retries it');
        throw err;
      }
      await failIngest(ctx, id, code, message);
      observe('failed');
      log.warn({ code, message }, 'ingest failed');
      throw permanent ? new UnrecoverableError(`${code}: ${message}`) : err;
    }
  };
}
