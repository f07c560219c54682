// Processors of 'update-metadata' and 'delete-file' jobs.
import type { Job } from 'bullmq';
import { failFileJob, runDelete, runMetadataUpdate, type FileJobOutcome, type WalOperation } from '../shared/domain/file-jobs.js';
import type { JobPayload, JobResult } from '../shared/queues.js';
import type { WorkerContext } from './context.js';
import { settleJobError } from './job-errors.js';

function fileJobProcessor(
  ctx: WorkerContext,
  kind: 'update' | 'delete',
  operation: WalOperation,
  run: (ctx: WorkerContext, id: string) => Promise<FileJobOutcome>,
) {
  return async (job: Job<JobPayload<'update-metadata'>>): Promise<JobResult<'update-metadata'>> => {
    const started = performance.now();
    const id = job.data.ingestJobId;
    const log = ctx.logger.child({ jobId: id, kind, attempt: job.attemptsMade + 1 });
    const observe = (state: string) => {
      ctx.metrics.jobsFinished.inc({ queue: 'files', state });
      ctx.metrics.jobDuration.observe({ queue: 'files', state }, (performance.now() - started) / 1_000);
    };
    try {
      const outcome = await run(ctx, id);
      if (outcome.ranNow) {
        observe(outcome.state);
        log.info({ fileId: outcome.fileId }, `${kind} finished`);
      }
      return { state: outcome.state, fileId: outcome.fileId };
    } catch (err) {
      return settleJobError(job, err, log, async (code, message) => {
        await failFileJob(ctx, id, operation, code, message);
        observe('failed');
      });
    }
  };
}

export const updateMetadataProcessor = (ctx: WorkerContext) => fileJobProcessor(ctx, 'update', 'file_update', runMetadataUpdate);
export const deleteFileProcessor = (ctx: WorkerContext) => fileJobProcessor(ctx, 'delete', 'file_delete', runDelete);
