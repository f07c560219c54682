// Processor of 'scrub-blobs' jobs, and the BullMQ job scheduler that queues one every SCRUB_INTERVAL_HOURS.
import type { Job } from 'bullmq';
import { scrubBlobs } from '../shared/domain/blob-scrub.js';
import { JOB_QUEUE, jobOptions, type JobPayload, type JobResult } from '../shared/queues.js';
import type { WorkerContext } from './context.js';

/** The job scheduler's id: every worker process upserts the same one, so there is one schedule per element. */
export const SCRUB_SCHEDULER_ID = 'scrub-blobs';

export function scrubProcessor(ctx: WorkerContext) {
  return async (job: Job<JobPayload<'scrub-blobs'>>): Promise<JobResult<'scrub-blobs'>> => {
    const started = performance.now();
    const budgetMs = job.data.budgetMs ?? ctx.config.scrubBudgetSeconds * 1_000;
    const observe = (state: string) => {
      ctx.metrics.jobsFinished.inc({ queue: 'maintenance', state });
      ctx.metrics.jobDuration.observe({ queue: 'maintenance', state }, (performance.now() - started) / 1_000);
    };
    try {
      const report = await scrubBlobs(ctx, { budgetMs });
      observe('completed');
      const found = report.corrupt + report.missing > 0;
      ctx.logger[found ? 'warn' : 'info'](
        { bullJobId: job.id, reason: job.data.reason, budgetMs, seconds: Math.round(performance.now() - started) / 1_000, ...report },
        found ? 'scrub run finished: corrupt blobs found' : 'scrub run finished',
      );
      return report;
    } catch (err) {
      // Rethrown: Bull Board shows the run as failed; the checkpoint stays where the run stopped.
      observe('failed');
      throw err;
    }
  };
}

/**
 * Creates or updates the scrub's job scheduler (removes it when SCRUB_INTERVAL_HOURS is 0). Called at every
 * worker start: BullMQ keeps the existing schedule's next time when the interval is unchanged, so restarts do
 * not postpone it; a new schedule runs first one interval from now (a fresh element has nothing to check).
 */
export async function scheduleScrub(ctx: Pick<WorkerContext, 'config' | 'queues' | 'logger'>): Promise<void> {
  const queue = ctx.queues[JOB_QUEUE['scrub-blobs']];
  if (ctx.config.scrubIntervalHours === 0) {
    if (await queue.removeJobScheduler(SCRUB_SCHEDULER_ID)) ctx.logger.info('scrub schedule removed (SCRUB_INTERVAL_HOURS=0)');
    return;
  }
  const every = Math.round(ctx.config.scrubIntervalHours * 3_600_000);
  const data: JobPayload<'scrub-blobs'> = { reason: 'schedule' };
  await queue.upsertJobScheduler(
    SCRUB_SCHEDULER_ID,
    { every, startDate: Date.now() + every },
    { name: 'scrub-blobs', data, opts: jobOptions('scrub-blobs', ctx.config) },
  );
}
