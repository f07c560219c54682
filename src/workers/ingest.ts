// Processor of 'ingest-file' jobs: runs the ingest rules and records metrics; errors go to settleJobError.
import type { Job } from 'bullmq';
import { failIngest, runIngestJob } from '../shared/domain/ingest-commit.js';
import type { JobPayload, JobResult } from '../shared/queues.js';
import type { WorkerContext } from './context.js';
import { settleJobError } from './job-errors.js';

export function ingestProcessor(ctx: WorkerContext) {
  const { metrics } = ctx;
  return async (job: Job<JobPayload<'ingest-file'>>): Promise<JobResult<'ingest-file'>> => {
    const started = performance.now();
    const id = job.data.ingestJobId;
    const log = ctx.logger.child({ jobId: id, attempt: job.attemptsMade + 1 });
    const observe = (state: string) => {
      metrics.jobsFinished.inc({ queue: 'ingest', state });
      metrics.jobDuration.observe({ queue: 'ingest', state }, (performance.now() - started) / 1_000);
    };
    try {
      const outcome = await runIngestJob(ctx, id, (p) => job.updateProgress(p));
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
      return settleJobError(job, err, log, async (code, message) => {
        await failIngest(ctx, id, code, message);
        observe('failed');
      });
    }
  };
}
