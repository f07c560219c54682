// Processor of 'ingest-file' jobs: small files go through this worker's batcher (many jobs, one commit), large ones
// run alone with progress; metrics per file; errors go to settleJobError. The batcher is shared with the
// 'ingest-batch' processor (ingest-batch-job.ts), so files of several BullMQ jobs commit together.
import type { Job } from 'bullmq';
import { runIngestBatch } from '../shared/domain/ingest-batch.js';
import { failIngest, runIngestJob, type IngestOutcome } from '../shared/domain/ingest-commit.js';
import { PROGRESS_MIN_BYTES } from '../shared/domain/ingest-queue-jobs.js';
import type { Logger } from '../shared/logger.js';
import type { JobPayload, JobResult } from '../shared/queues.js';
import type { WorkerContext } from './context.js';
import { IngestBatcher } from './ingest-batcher.js';
import { settleJobError } from './job-errors.js';

/** This worker process's batcher: at most INGEST_BATCHES_IN_FLIGHT batches of INGEST_BATCH_MAX files at once. */
export function newIngestBatcher(ctx: WorkerContext): IngestBatcher {
  return new IngestBatcher((ids) => runIngestBatch(ctx, ids), {
    maxBatch: ctx.config.ingestBatchMax,
    maxInFlight: ctx.config.ingestBatchesInFlight,
  });
}

/** Counts one file's end in the metrics (jobs finished by state, duration since started, bytes). */
export function observeIngest(ctx: WorkerContext, started: number, state: string): void {
  ctx.metrics.jobsFinished.inc({ queue: 'ingest', state });
  ctx.metrics.jobDuration.observe({ queue: 'ingest', state }, (performance.now() - started) / 1_000);
}

/** The metrics of a file this run settled (an outcome an earlier run reached counts nothing). */
export function recordIngestOutcome(ctx: WorkerContext, outcome: IngestOutcome, started: number, log: Logger, jobId?: string): void {
  if (!outcome.ranNow) return;
  const { metrics } = ctx;
  observeIngest(ctx, started, outcome.state);
  metrics.bytesCommitted.inc(outcome.size ?? 0);
  metrics.hashedBytes.inc(outcome.hashedBytes ?? outcome.size ?? 0);
  metrics.hashSeconds.inc(outcome.hashSeconds ?? 0);
  if (outcome.blobCreated) metrics.blobBytesWritten.inc(outcome.size ?? 0);
  if (outcome.state === 'duplicate' || !outcome.blobCreated) metrics.dedupHits.inc();
  if (log.isLevelEnabled('debug')) log.debug({ jobId, state: outcome.state, fileId: outcome.fileId, size: outcome.size }, 'ingest finished');
}

export function ingestProcessor(ctx: WorkerContext, batcher = newIngestBatcher(ctx)) {
  return async (job: Job<JobPayload<'ingest-file'>>): Promise<JobResult<'ingest-file'>> => {
    const started = performance.now();
    const id = job.data.ingestJobId;
    const log = ctx.logger.child({ jobId: id, attempt: job.attemptsMade + 1 });
    try {
      const outcome: IngestOutcome =
        (job.data.size ?? 0) >= PROGRESS_MIN_BYTES ? await runIngestJob(ctx, id, (p) => job.updateProgress(p)) : await batcher.submit(id);
      recordIngestOutcome(ctx, outcome, started, log);
      return { state: outcome.state, ...(outcome.fileId ? { fileId: outcome.fileId } : {}) };
    } catch (err) {
      return settleJobError(job, err, log, async (code, message) => {
        // Final already (another run of the job committed it, and this one met its staged file gone): not a failure.
        if (await failIngest(ctx, id, code, message)) observeIngest(ctx, started, 'failed');
      });
    }
  };
}
