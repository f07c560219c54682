// Processor of 'ingest-file' jobs: small files go through this worker's batcher (many jobs, one commit), large ones
// run alone with progress; metrics per file; errors go to settleJobError.
import type { Job } from 'bullmq';
import { runIngestBatch } from '../shared/domain/ingest-batch.js';
import { failIngest, PROGRESS_MIN_BYTES, runIngestJob, type IngestOutcome } from '../shared/domain/ingest-commit.js';
import type { JobPayload, JobResult } from '../shared/queues.js';
import type { WorkerContext } from './context.js';
import { IngestBatcher } from './ingest-batcher.js';
import { settleJobError } from './job-errors.js';

export function ingestProcessor(ctx: WorkerContext) {
  const { metrics } = ctx;
  const batcher = new IngestBatcher((ids) => runIngestBatch(ctx, ids), {
    maxBatch: ctx.config.ingestBatchMax,
    maxInFlight: ctx.config.ingestBatchesInFlight,
  });
  return async (job: Job<JobPayload<'ingest-file'>>): Promise<JobResult<'ingest-file'>> => {
    const started = performance.now();
    const id = job.data.ingestJobId;
    const log = ctx.logger.child({ jobId: id, attempt: job.attemptsMade + 1 });
    const observe = (state: string) => {
      metrics.jobsFinished.inc({ queue: 'ingest', state });
      metrics.jobDuration.observe({ queue: 'ingest', state }, (performance.now() - started) / 1_000);
    };
    try {
      const outcome: IngestOutcome =
        (job.data.size ?? 0) >= PROGRESS_MIN_BYTES ? await runIngestJob(ctx, id, (p) => job.updateProgress(p)) : await batcher.submit(id);
      if (outcome.ranNow) {
        observe(outcome.state);
        metrics.bytesCommitted.inc(outcome.size ?? 0);
        metrics.hashedBytes.inc(outcome.hashedBytes ?? outcome.size ?? 0);
        metrics.hashSeconds.inc(outcome.hashSeconds ?? 0);
        if (outcome.blobCreated) metrics.blobBytesWritten.inc(outcome.size ?? 0);
        if (outcome.state === 'duplicate' || !outcome.blobCreated) metrics.dedupHits.inc();
        log.debug({ state: outcome.state, fileId: outcome.fileId, size: outcome.size }, 'ingest finished');
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
