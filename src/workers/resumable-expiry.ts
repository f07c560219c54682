// Processor of 'expire-uploads' jobs, and the BullMQ job scheduler that queues one every UPLOAD_EXPIRY_INTERVAL_SECONDS.
import type { Job } from 'bullmq';
import { expireUploads } from '../shared/domain/resumable-expiry.js';
import { JOB_QUEUE, jobOptions, type JobPayload, type JobResult } from '../shared/queues.js';
import type { WorkerContext } from './context.js';

/** One schedule per element: every worker process upserts the same scheduler id. */
export const UPLOAD_EXPIRY_SCHEDULER_ID = 'expire-uploads';

export function uploadExpiryProcessor(ctx: WorkerContext) {
  return async (_job: Job<JobPayload<'expire-uploads'>>): Promise<JobResult<'expire-uploads'>> => {
    const report = await expireUploads({ db: ctx.db, redis: ctx.connection, config: ctx.config, staging: ctx.staging, logger: ctx.logger });
    if (report.removed + report.busy > 0) ctx.logger.info(report, 'expired resumable uploads removed');
    return report;
  };
}

/**
 * Creates or updates the expiry's job scheduler at every worker start (an unchanged interval keeps its next time);
 * removes it when UPLOAD_EXPIRY_INTERVAL_SECONDS is 0.
 */
export async function scheduleUploadExpiry(ctx: Pick<WorkerContext, 'config' | 'queues' | 'logger'>): Promise<void> {
  const queue = ctx.queues[JOB_QUEUE['expire-uploads']];
  if (ctx.config.uploadExpiryIntervalSeconds === 0) {
    if (await queue.removeJobScheduler(UPLOAD_EXPIRY_SCHEDULER_ID)) ctx.logger.info('upload expiry schedule removed (UPLOAD_EXPIRY_INTERVAL_SECONDS=0)');
    return;
  }
  await queue.upsertJobScheduler(
    UPLOAD_EXPIRY_SCHEDULER_ID,
    { every: ctx.config.uploadExpiryIntervalSeconds * 1_000 },
    { name: 'expire-uploads', data: {}, opts: jobOptions('expire-uploads', ctx.config) },
  );
}
