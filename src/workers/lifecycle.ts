// Processor of 'cleanup-expired' jobs, and the BullMQ job scheduler that queues one every LIFECYCLE_INTERVAL_SECONDS.
import type { Job } from 'bullmq';
import { cleanupExpiredFiles } from '../shared/domain/file-lifecycle.js';
import { JOB_QUEUE, jobOptions, type JobPayload, type JobResult } from '../shared/queues.js';
import type { WorkerContext } from './context.js';

/** The job scheduler's id: every worker process upserts the same one, so there is one schedule per element. */
export const LIFECYCLE_SCHEDULER_ID = 'cleanup-expired';

export function lifecycleProcessor(ctx: WorkerContext) {
  return async (job: Job<JobPayload<'cleanup-expired'>>): Promise<JobResult<'cleanup-expired'>> => {
    const started = performance.now();
    const observe = (state: string) => {
      ctx.metrics.jobsFinished.inc({ queue: 'maintenance', state });
      ctx.metrics.jobDuration.observe({ queue: 'maintenance', state }, (performance.now() - started) / 1_000);
    };
    try {
      const result = await cleanupExpiredFiles({ ...ctx, redis: ctx.connection });
      observe('completed');
      if (result.deleted + result.skipped > 0) ctx.logger.info({ bullJobId: job.id, reason: job.data.reason, ...result }, 'lifecycle run finished');
      return result;
    } catch (err) {
      // Rethrown: Bull Board shows the run as failed; the next run finds what this one left.
      observe('failed');
      throw err;
    }
  };
}

/**
 * Creates or updates the lifecycle's job scheduler (removes it when LIFECYCLE_INTERVAL_SECONDS is 0). Every mode
 * gets the schedule; a run outside `edit` removes nothing (cleanupExpiredFiles), so no mode change has to touch it.
 */
export async function scheduleLifecycle(ctx: Pick<WorkerContext, 'config' | 'queues' | 'logger'>): Promise<void> {
  const queue = ctx.queues[JOB_QUEUE['cleanup-expired']];
  if (ctx.config.lifecycleIntervalSeconds === 0) {
    if (await queue.removeJobScheduler(LIFECYCLE_SCHEDULER_ID)) ctx.logger.info('lifecycle schedule removed (LIFECYCLE_INTERVAL_SECONDS=0)');
    return;
  }
  const every = ctx.config.lifecycleIntervalSeconds * 1_000;
  const data: JobPayload<'cleanup-expired'> = { reason: 'schedule' };
  await queue.upsertJobScheduler(
    LIFECYCLE_SCHEDULER_ID,
    { every },
    { name: 'cleanup-expired', data, opts: jobOptions('cleanup-expired', ctx.config) },
  );
}
