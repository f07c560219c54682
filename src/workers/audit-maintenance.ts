// Processors of 'audit-checkpoint' and 'compact-wal' jobs, and the BullMQ job schedulers that queue them.
import type { Job } from 'bullmq';
import { writeAuditCheckpoint } from '../shared/domain/audit-checkpoints.js';
import { compactWal } from '../shared/domain/wal-compaction.js';
import { JOB_QUEUE, jobOptions, type JobName, type JobPayload, type JobResult } from '../shared/queues.js';
import type { WorkerContext } from './context.js';

export function auditCheckpointProcessor(ctx: WorkerContext) {
  return async (job: Job<JobPayload<'audit-checkpoint'>>): Promise<JobResult<'audit-checkpoint'>> => {
    // A broken chain throws (AuditChainBrokenError): the job fails visibly and nothing is signed over it.
    const result = await writeAuditCheckpoint({ ...ctx, verifications: ctx.metrics.auditVerifications });
    if ('skipped' in result) return { seq: null, skipped: result.skipped };
    ctx.logger.info({ bullJobId: job.id, seq: result.seq, hash: result.hash }, 'audit checkpoint signed');
    return { seq: result.seq };
  };
}

export function compactWalProcessor(ctx: WorkerContext) {
  return async (job: Job<JobPayload<'compact-wal'>>): Promise<JobResult<'compact-wal'>> => {
    const removed = await compactWal(ctx);
    if (removed > 0) ctx.logger.info({ bullJobId: job.id, removed, retentionDays: ctx.config.walRetentionDays }, 'WAL compacted');
    return { removed };
  };
}

/**
 * Creates or updates both job schedulers (removes one whose interval is 0), as scheduleScrub does: every worker
 * upserts the same ids, so there is one schedule per element, and a restart keeps the next run's time.
 */
export async function scheduleAuditMaintenance(ctx: Pick<WorkerContext, 'config' | 'queues' | 'logger'>): Promise<void> {
  const schedules: Array<{ name: Extract<JobName, 'audit-checkpoint' | 'compact-wal'>; every: number }> = [
    { name: 'audit-checkpoint', every: Math.round(ctx.config.audit.checkpointIntervalMinutes * 60_000) },
    { name: 'compact-wal', every: ctx.config.walRetentionDays > 0 ? Math.round(ctx.config.walCompactionIntervalHours * 3_600_000) : 0 },
  ];
  for (const { name, every } of schedules) {
    const queue = ctx.queues[JOB_QUEUE[name]];
    if (every === 0) {
      await queue.removeJobScheduler(name);
      continue;
    }
    await queue.upsertJobScheduler(name, { every, startDate: Date.now() + every }, { name, data: { reason: 'schedule' }, opts: jobOptions(name, ctx.config) });
  }
}
