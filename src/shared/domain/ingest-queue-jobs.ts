// Which BullMQ job carries an ingest job (issue 12). Small files share an 'ingest-batch' job, one per group of
// uploads recorded in one INSERT (up to INGEST_JOB_FILES_MAX files): the rows name it (queue_job_id) and the
// worker reads them by it, so a job is claimed, run and completed once for all its files. Large files, which
// report progress, keep an 'ingest-file' job of their own under the row id, as do rows of older versions.
import { randomUUID } from 'node:crypto';
import type { Db } from '../records/database.js';
import { detachOpenJobsOfQueueJob, selectOpenJobsOfQueueJob } from '../records/file-job-queue.js';
import type { FileJob, NewIngestJob } from '../records/file-jobs.js';
import { enqueue, fileJobPayload, type EnqueueConfig, type Queues } from '../queues.js';

/** Files smaller than this report no intermediate progress: for them it is noise, and a Redis call each. */
export const PROGRESS_MIN_BYTES = 8 * 1024 * 1024;

/**
 * Gives the small files of uploads recorded together their 'ingest-batch' job ids: a new one every maxFiles files,
 * in upload order. Large files get none (a BullMQ job of their own).
 */
export function assignQueueJobs<U extends { jobs: NewIngestJob[] }>(uploads: readonly U[], maxFiles: number): U[] {
  let current = '';
  let files = 0;
  return uploads.map((upload) => ({
    ...upload,
    jobs: upload.jobs.map((job) => {
      if (job.size >= PROGRESS_MIN_BYTES) return { ...job, queueJobId: null };
      if (!current || files >= maxFiles) [current, files] = [randomUUID(), 0];
      files++;
      return { ...job, queueJobId: current };
    }),
  }));
}

/** The id of the BullMQ job that carries a job row. */
export function queueJobIdOf(row: Pick<FileJob, 'id' | 'queueJobId'>): string {
  return row.queueJobId ?? row.id;
}

/**
 * Adds the BullMQ jobs that carry these ingest rows: one 'ingest-batch' per queue job id among them, an
 * 'ingest-file' for each row without one. Adding an id BullMQ still holds is a no-op, so two uploads of one group
 * enqueue their shared job once.
 */
export async function enqueueIngestJobs(
  queues: Queues,
  config: EnqueueConfig,
  rows: ReadonlyArray<Pick<FileJob, 'id' | 'kind' | 'size' | 'queueJobId'>>,
): Promise<void> {
  const batches = [...new Set(rows.flatMap((r) => (r.queueJobId ? [r.queueJobId] : [])))];
  const own = rows.filter((r) => !r.queueJobId);
  await Promise.all([
    enqueue(queues, config, 'ingest-batch', batches.map((id) => ({ id, payload: { queueJobId: id } }))),
    enqueue(queues, config, 'ingest-file', own.map((r) => ({ id: r.id, payload: fileJobPayload(r) }))),
  ]);
}

/** The open ingest jobs an 'ingest-batch' job carries, in upload order; none when every one is final already. */
export function openJobsOfQueueJob(db: Db, queueJobId: string): Promise<string[]> {
  return selectOpenJobsOfQueueJob(db, queueJobId);
}

/**
 * Splits an 'ingest-batch' job: each of its open rows gets an 'ingest-file' job of its own, and the batch job
 * carries none any more. Returns how many. A crash between the two steps leaves rows without a BullMQ job, which
 * the requeue sweep adds under their ids.
 */
export async function splitQueueJob(db: Db, queues: Queues, config: EnqueueConfig, queueJobId: string): Promise<number> {
  const rows = await detachOpenJobsOfQueueJob(db, queueJobId);
  await enqueueIngestJobs(queues, config, rows);
  return rows.length;
}
