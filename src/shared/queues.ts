// THE job registry: queue names, job names, payload/result types and per-job options, plus a typed enqueue.
import { Queue, type JobsOptions } from 'bullmq';
import type { RedisConnection } from './redis.js';
import type { Config } from './config.js';
import type { FINAL_JOB_STATES } from '../contract/jobs.js';

export const QUEUE_NAMES = { ingest: 'ingest', files: 'files', maintenance: 'maintenance' } as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

type FileJobResult = { state: (typeof FINAL_JOB_STATES)[number]; fileId?: string };

/**
 * Job name -> payload and result. Names are wire format: never rename one without handling the old name.
 * `ingestJobId` names a file_jobs row of any kind: the table was ingest_jobs once, and jobs already queued in Redis
 * carry this key, so it stays.
 */
export interface JobRegistry {
  /**
   * Commit a staged upload (FileJob row id). size (bytes, optional: older payloads lack it) lets the worker run a
   * large file on its own, with progress, instead of in a batch of small ones.
   */
  'ingest-file': { payload: { ingestJobId: string; size?: number }; result: FileJobResult };
  /**
   * Commit the staged uploads of many small files as one unit (issue 12): the open FileJob rows whose
   * queue_job_id is queueJobId, which is also this BullMQ job's id. The rows are read when the job runs, so
   * uploads recorded in one INSERT share one job however their enqueues were grouped; each row keeps its own
   * state and error, and the result counts the files this run settled.
   */
  'ingest-batch': { payload: { queueJobId: string }; result: Record<(typeof FINAL_JOB_STATES)[number], number> };
  /** Apply a metadata patch to a file: attr.json, row and WAL together (FileJob row of kind 'update'). */
  'update-metadata': { payload: { ingestJobId: string }; result: FileJobResult };
  /** Finish a deletion: WAL, attr.json tombstone, blob reference released (FileJob row of kind 'delete'). */
  'delete-file': { payload: { ingestJobId: string }; result: FileJobResult };
  /** Remove a blob nobody references any more, once its grace period has passed. */
  'gc-blob': { payload: { sha256: string }; result: { removed: boolean } };
  /**
   * Re-hash stored blobs for up to budgetMs (SCRUB_BUDGET_SECONDS when absent), resuming after the last run's
   * checkpoint. corrupt: bytes that no longer match; missing: bytes gone; resumeAfter: null once a pass ended.
   */
  'scrub-blobs': {
    payload: { budgetMs?: number; reason: 'schedule' | 'manual' };
    result: { checked: number; corrupt: number; missing: number; resumeAfter: string | null };
  };
  /** Delete temporary files whose expiresAt has passed (edit mode only; domain/file-lifecycle.ts). */
  'cleanup-expired': {
    payload: { reason: 'schedule' | 'manual' };
    result: { mode: string; deleted: number; skipped: number; more: boolean };
  };
  /** Remove expired resumable uploads (UPLOAD_EXPIRY_HOURS): their bytes and rows. */
  'expire-uploads': { payload: Record<string, never>; result: { removed: number; busy: number } };
  /** Sign the audit chain head after verifying the events since the last checkpoint (issue 17). */
  'audit-checkpoint': { payload: { reason: 'schedule' | 'manual' }; result: { seq: string | null; skipped?: string } };
  /** Remove committed and rolled-back WAL entries older than WAL_RETENTION_DAYS (issue 17). */
  'compact-wal': { payload: { reason: 'schedule' | 'manual' }; result: { removed: number } };
}
export type JobName = keyof JobRegistry;

/** The payload naming a file_jobs row: an ingest job's carries its size (large files run alone), the others none. */
export function fileJobPayload(row: { id: string; kind: string; size: bigint | number }): JobPayload<'ingest-file'> {
  return { ingestJobId: row.id, ...(row.kind === 'ingest' ? { size: Number(row.size) } : {}) };
}
export type JobPayload<N extends JobName> = JobRegistry[N]['payload'];
export type JobResult<N extends JobName> = JobRegistry[N]['result'];

export const JOB_QUEUE: Record<JobName, QueueName> = {
  'ingest-file': 'ingest',
  'ingest-batch': 'ingest',
  'update-metadata': 'files',
  'delete-file': 'files',
  'gc-blob': 'maintenance',
  'scrub-blobs': 'maintenance',
  'cleanup-expired': 'maintenance',
  'expire-uploads': 'maintenance',
  'audit-checkpoint': 'maintenance',
  'compact-wal': 'maintenance',
};

// Finished jobs are trimmed by age and count so Redis memory stays bounded (about 1.4 KB per retained job);
// PostgreSQL keeps each job's record.
const RETENTION = {
  removeOnComplete: { age: 3_600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3_600, count: 50_000 },
} as const;

export type EnqueueConfig = Pick<Config, 'jobAttempts'>;
/** What the API needs to record and enqueue ingest jobs: also the most files one 'ingest-batch' job carries. */
export type IngestEnqueueConfig = EnqueueConfig & Pick<Config, 'ingestJobFilesMax'>;

/** Options decided once per job name; callers never pass queue options. */
export function jobOptions(name: JobName, config: EnqueueConfig): JobsOptions {
  switch (name) {
    case 'ingest-file':
    case 'ingest-batch':
    case 'update-metadata':
    case 'delete-file':
      return { attempts: config.jobAttempts, backoff: { type: 'exponential', delay: 1_000 }, ...RETENTION };
    case 'gc-blob':
      // Queued by the GC sweep only once the blob's grace period has passed (see domain/blob-gc.ts).
      return { attempts: config.jobAttempts, backoff: { type: 'exponential', delay: 5_000 }, ...RETENTION };
    case 'expire-uploads':
      // No retry: the next scheduled run does the same work.
      return { attempts: 1, ...RETENTION };
    case 'scrub-blobs':
    case 'audit-checkpoint':
    case 'compact-wal':
      // No retry: a failed run keeps its checkpoint and the next scheduled (or manual) run goes on from there.
      return { attempts: 1, ...RETENTION };
    case 'cleanup-expired':
      // No retry: the next scheduled run finds whatever this one left.
      return { attempts: 1, ...RETENTION };
  }
}

export type Queues = Readonly<Record<QueueName, Queue>> & { close(): Promise<void> };

export function createQueues(config: Pick<Config, 'queuePrefix'>, connection: RedisConnection, onError?: (err: Error) => void): Queues {
  const opts = { connection, prefix: config.queuePrefix };
  const queues = {
    ingest: new Queue(QUEUE_NAMES.ingest, opts),
    files: new Queue(QUEUE_NAMES.files, opts),
    maintenance: new Queue(QUEUE_NAMES.maintenance, opts),
  };
  // Without a listener BullMQ prints every Redis connection error to stderr; the owner's logger takes them.
  if (onError) for (const q of Object.values(queues)) q.on('error', onError);
  return {
    ...queues,
    async close() {
      await Promise.all(Object.values(queues).map((q) => q.close()));
    },
  };
}

export interface EnqueueItem<N extends JobName> {
  /** BullMQ job id: the database row id (or a content key), so a repeated enqueue of the same work is a no-op. */
  id: string;
  payload: JobPayload<N>;
}

/** Adds jobs of one name in one round trip (addBulk), with the registry's options. */
export async function enqueue<N extends JobName>(
  queues: Queues,
  config: EnqueueConfig,
  name: N,
  items: ReadonlyArray<EnqueueItem<N>>,
): Promise<void> {
  if (items.length === 0) return;
  const opts = jobOptions(name, config);
  await queues[JOB_QUEUE[name]].addBulk(items.map((item) => ({ name, data: item.payload, opts: { ...opts, jobId: item.id } })));
}
