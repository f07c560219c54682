// Starts this process's BullMQ workers from the processor table, plus WAL recovery and the requeue, GC and staging sweeps.
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { gcSweepIntervalMs, sweepOrphanBlobs } from '../shared/domain/blob-gc.js';
import { sweepUnrecordedBlobs } from '../shared/domain/blob-orphans.js';
import { janitorIntervalMs, sweepStaging } from '../shared/domain/staging-janitor.js';
import { sweepStoreTemp } from '../shared/storage/store-temp.js';
import { liveWriters } from '../shared/storage/writers.js';
import { recoverWal } from '../shared/domain/wal-recovery.js';
import { JOB_QUEUE, QUEUE_NAMES, type JobName } from '../shared/queues.js';
import type { WorkerContext } from './context.js';
import { deleteFileProcessor, updateMetadataProcessor } from './file-jobs.js';
import { gcBlobProcessor } from './gc-blob.js';
import { ingestProcessor, newIngestBatcher } from './ingest.js';
import { ingestBatchProcessor } from './ingest-batch-job.js';
import { openJobsOfQueueJob } from '../shared/domain/ingest-queue-jobs.js';
import { MAX_STALLED_COUNT, noProcessorReason, parseFailedReason } from './job-errors.js';
import { failureOfFailedJob, recordJobFailure, requeueStaleJobs } from './requeue.js';
import { scheduleScrub, scrubProcessor } from './scrub.js';
import { lifecycleProcessor, scheduleLifecycle } from './lifecycle.js';
import { scheduleUploadExpiry, uploadExpiryProcessor } from './resumable-expiry.js';
import { loadAuditSigningKey } from '../shared/domain/audit-signing.js';
import { auditCheckpointProcessor, compactWalProcessor, scheduleAuditMaintenance } from './audit-maintenance.js';

const REQUEUE_INTERVAL_MS = 30_000;
/** The unrecorded-blob sweep lists every blob: every six hours is enough for leftovers of failed ingests. */
const UNRECORDED_SWEEP_INTERVAL_MS = 6 * 3_600_000;
/** Job names whose payload names a job row that must reach a final state. */
const ROW_KIND = { 'ingest-file': 'ingest', 'update-metadata': 'update', 'delete-file': 'delete' } as const;

export interface RunningWorkers {
  workers: Worker[];
  /**
   * Stops taking jobs and waits for active ones up to timeoutMs; past it, closes without waiting: the jobs
   * still running stall back to the queue (BullMQ stall detection) and run again elsewhere, idempotently.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** One handler per job name, checked by the compiler: a name without a handler does not build. */
function processorsOf(ctx: WorkerContext) {
  // One batcher for both ingest processors: files of several BullMQ jobs commit together.
  const batcher = newIngestBatcher(ctx);
  return {
    'ingest-file': ingestProcessor(ctx, batcher),
    'ingest-batch': ingestBatchProcessor(ctx, batcher),
    'update-metadata': updateMetadataProcessor(ctx),
    'delete-file': deleteFileProcessor(ctx),
    'gc-blob': gcBlobProcessor(ctx),
    'scrub-blobs': scrubProcessor(ctx),
    'cleanup-expired': lifecycleProcessor(ctx),
    'expire-uploads': uploadExpiryProcessor(ctx),
    'audit-checkpoint': auditCheckpointProcessor(ctx),
    'compact-wal': compactWalProcessor(ctx),
  } satisfies Record<JobName, (job: Job) => Promise<unknown>>;
}

export async function startWorkers(ctx: WorkerContext): Promise<RunningWorkers> {
  const processors = processorsOf(ctx);

  const byQueue = new Map<string, JobName[]>();
  for (const name of Object.keys(processors) as JobName[]) {
    byQueue.set(JOB_QUEUE[name], [...(byQueue.get(JOB_QUEUE[name]) ?? []), name]);
  }
  for (const queue of Object.values(QUEUE_NAMES)) {
    if (!byQueue.has(queue)) throw new Error(`queue '${queue}' has no processor`);
  }

  const workers = [...byQueue.keys()].map(
    (queue) =>
      new Worker(
        queue,
        async (job: Job) => {
          const processor = processors[job.name as JobName];
          // Old job names can sit in Redis after a deploy: fail them visibly instead of looping.
          if (!processor) throw new UnrecoverableError(noProcessorReason(job.name, queue));
          return processor(job);
        },
        {
          connection: ctx.connection,
          prefix: ctx.config.queuePrefix,
          concurrency: ctx.config.workerConcurrency,
          // Hashing runs in threads, so the event loop renews locks in time; two stalls are tolerated
          // (a restart during a deploy) before BullMQ gives up on a job.
          maxStalledCount: MAX_STALLED_COUNT,
          lockDuration: ctx.config.jobLockMs,
          stalledInterval: ctx.config.jobLockMs,
        },
      ),
  );
  for (const w of workers) {
    w.on('error', (err) => ctx.logger.error({ err }, 'worker error'));
    w.on('failed', (job, err) => {
      const final = !job || err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      ctx.logger[final ? 'error' : 'warn']({ queue: w.name, job: job?.name, bullJobId: job?.id, attempt: job?.attemptsMade, err: err.message }, final ? 'job failed' : 'job attempt failed');
      if (final && job) void recordBullFailure(ctx, job, err);
    });
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  await scheduleScrub(ctx).catch((err: unknown) => ctx.logger.warn({ err }, 'scheduling the scrub failed'));
  await scheduleLifecycle(ctx).catch((err: unknown) => ctx.logger.warn({ err }, 'scheduling the lifecycle job failed'));
  await scheduleUploadExpiry(ctx).catch((err: unknown) => ctx.logger.warn({ err }, 'scheduling the upload expiry failed'));
  // A configured audit signing key that cannot be read stops the worker here rather than at the first checkpoint.
  await loadAuditSigningKey(ctx.config);
  await scheduleAuditMaintenance(ctx).catch((err: unknown) => ctx.logger.warn({ err }, 'scheduling audit checkpoints and WAL compaction failed'));

  const timers = startSweeps(ctx);

  return {
    workers,
    async close(timeoutMs = 25_000) {
      for (const t of timers) clearInterval(t);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const outcome = await Promise.race([Promise.all(workers.map((w) => w.close())).then(() => 'drained' as const), timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        ctx.logger.warn({ timeoutMs }, 'shutdown timeout: releasing active jobs to stall detection');
        await Promise.all(workers.map((w) => w.close(true)));
      }
    },
  };
}

/**
 * WAL recovery, the requeue sweep, the GC sweep, the staging janitor and the unrecorded-blob sweep: each runs once
 * now and then on its interval; failures are logged and the next run tries again. Returns the (unref'd) timers.
 */
function startSweeps(ctx: WorkerContext): NodeJS.Timeout[] {
  const requeue = async () => {
    const report = await requeueStaleJobs(ctx, ctx.queues).catch((err: unknown) => {
      ctx.logger.warn({ err }, 'requeue sweep failed');
      return { requeued: 0, rerun: 0, failed: 0 };
    });
    if (report.requeued + report.rerun + report.failed > 0) ctx.logger.info(report, 'requeue sweep settled unfinished jobs');
  };
  const collect = async () => {
    const orphans = await sweepOrphanBlobs(ctx).catch((err: unknown) => {
      ctx.logger.warn({ err }, 'GC sweep failed');
      return 0;
    });
    if (orphans > 0) ctx.logger.info({ blobs: orphans }, 'GC sweep queued unreferenced blobs');
  };
  const recovery = async () => {
    await recoverWal(ctx).catch((err: unknown) => ctx.logger.warn({ err }, 'WAL recovery failed'));
  };
  const janitor = async () => {
    const liveOwners = (ids: string[]) => liveWriters(ctx.connection, ctx.config.queuePrefix, ids);
    await sweepStaging({ ...ctx, liveOwners }).catch((err: unknown) => ctx.logger.warn({ err }, 'staging janitor failed'));
    // Temp files of blob and attr.json writes that a dead process left (or that are an hour old).
    await sweepStoreTemp(ctx.config.storagePath, liveOwners).catch((err: unknown) => ctx.logger.warn({ err }, 'store temp sweep failed'));
  };
  // Lists the whole blob store: at start (after a crash is when leftovers appear) and then rarely.
  const unrecorded = async () => {
    const report = await sweepUnrecordedBlobs(ctx).catch((err: unknown) => {
      ctx.logger.warn({ err }, 'unrecorded-blob sweep failed');
      return null;
    });
    if (report && (report.adopted > 0 || report.temporariesRemoved > 0)) ctx.logger.info(report, 'unrecorded-blob sweep');
  };
  void recovery();
  void requeue();
  void collect();
  void janitor();
  void unrecorded();
  const timers = [
    setInterval(() => void requeue(), REQUEUE_INTERVAL_MS),
    setInterval(() => void collect(), gcSweepIntervalMs(ctx.config)),
    setInterval(() => void janitor(), janitorIntervalMs(ctx.config)),
    setInterval(() => void unrecorded(), UNRECORDED_SWEEP_INTERVAL_MS),
    setInterval(() => void recovery(), Math.min(300_000, ctx.config.walLeaseSeconds * 1_000)),
  ];
  for (const t of timers) t.unref();
  return timers;
}

/**
 * A job BullMQ failed without its processor deciding (it stalled more than maxStalledCount times: BullMQ fails
 * it when a worker next takes it, without running it) leaves its row open: record the failure now. Failures
 * settleJobError wrote are recorded already, or left to the requeue sweep (an outage, a database that was down).
 */
async function recordBullFailure(ctx: WorkerContext, job: Job, err: Error): Promise<void> {
  const kind = job.name === 'ingest-batch' ? 'ingest' : ROW_KIND[job.name as keyof typeof ROW_KIND];
  if (!kind || parseFailedReason(err.message)) return;
  try {
    // A batch job that stalled out ends each file it still carries, as a stalled-out job of one file would.
    const ids = job.name === 'ingest-batch' ? await openJobsOfQueueJob(ctx.db, (job.data as { queueJobId: string }).queueJobId) : [(job.data as { ingestJobId: string }).ingestJobId];
    for (const id of ids) await recordJobFailure(ctx, kind, id, failureOfFailedJob(err.message));
  } catch (recordErr) {
    ctx.logger.error({ err: recordErr, bullJobId: job.id }, 'could not record a stalled-out job as failed; the requeue sweep records it later');
  }
}
