// Processor of 'gc-blob' jobs: removes an unreferenced blob after its grace period.
import type { Job } from 'bullmq';
import { runBlobGc } from '../shared/domain/blob-gc.js';
import type { JobPayload, JobResult } from '../shared/queues.js';
import type { WorkerContext } from './context.js';

export function gcBlobProcessor(ctx: WorkerContext) {
  return async (job: Job<JobPayload<'gc-blob'>>): Promise<JobResult<'gc-blob'>> => {
    const result = await runBlobGc(ctx, job.data.sha256);
    if (!result.removed) ctx.logger.info({ sha256: job.data.sha256 }, 'blob GC skipped: referenced again, already gone or still in its grace period');
    ctx.metrics.jobsFinished.inc({ queue: 'maintenance', state: result.removed ? 'removed' : 'skipped' });
    return result;
  };
}
