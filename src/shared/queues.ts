// THE job registry: queue names, job names, payload/result types and per-job options, plus a typed enqueue.
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from './config.js';

export const QUEUE_NAMES = { ingest: 'ingest' } as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/** Job name -> payload and result. Names are wire format: never rename one without handling the old name. */
export interface JobRegistry {
  'ingest-file': { payload: { ingestJobId: string }; result: { state: 'committed' | 'duplicate' | 'failed'; fileId?: string } };
}
export type JobName = keyof JobRegistry;
export type JobPayload<N extends JobName> = JobRegistry[N]['payload'];
export type JobResult<N extends JobName> = JobRegistry[N]['result'];

export const JOB_QUEUE: Record<JobName, QueueName> = { 'ingest-file': 'ingest' };

/**
 * Options decided once per job name; callers never pass queue options. Finished jobs are trimmed by age and
 * count so Redis memory stays bounded (about 1.4 KB per retained job); PostgreSQL keeps the job's record.
 */
export function jobOptions(name: JobName, config: Pick<Config, 'jobAttempts'>): JobsOptions {
  switch (name) {
    case 'ingest-file':
      return {
        attempts: config.jobAttempts,
        backoff: { type: 'exponential', delay: 1_000 },
        removeOnComplete: { age: 3_600, count: 10_000 },
        removeOnFail: { age: 7 * 24 * 3_600, count: 50_000 },
      };
  }
}

export type Queues = Readonly<{ [K in QueueName]: Queue }> & { close(): Promise<void> };

export function createQueues(config: Pick<Config, 'queuePrefix'>, connection: Redis): Queues {
  const ingest = new Queue(QUEUE_NAMES.ingest, { connection, prefix: config.queuePrefix });
  return {
    ingest,
    async close() {
      await ingest.close();
    },
  };
}

export interface EnqueueItem<N extends JobName> {
  /** BullMQ job id: the database row id, so a repeated enqueue of the same work is a no-op. */
  id: string;
  payload: JobPayload<N>;
}

/** Adds jobs of one name in one round trip (addBulk), with the registry's options. */
export async function enqueue<N extends JobName>(
  queues: Queues,
  config: Pick<Config, 'jobAttempts'>,
  name: N,
  items: ReadonlyArray<EnqueueItem<N>>,
): Promise<void> {
  if (items.length === 0) return;
  const opts = jobOptions(name, config);
  await queues[JOB_QUEUE[name]].addBulk(items.map((item) => ({ name, data: item.payload, opts: { ...opts, jobId: item.id } })));
}
