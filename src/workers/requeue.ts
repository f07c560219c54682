// Requeue sweep: brings every unfinished job row to a final state. Rows whose BullMQ job Redis lost (or never got)
// are enqueued again; rows whose BullMQ job ended without the row ending are rerun or recorded as failed. A row's
// BullMQ job is its own (id = row id) or the 'ingest-batch' job that carries it (queue_job_id): the latter is
// looked up once for all its rows, and added again as one job, never as one job per row.
import type { Job } from 'bullmq';
import { failFileJob } from '../shared/domain/file-jobs.js';
import { failIngest } from '../shared/domain/ingest-commit.js';
import { listStaleOpenJobs, type StaleJob } from '../shared/domain/job-queries.js';
import { closeOrphanedMaintenanceJobs } from '../shared/domain/index-maintenance.js';
import { enqueueIngestJobs, queueJobIdOf } from '../shared/domain/ingest-queue-jobs.js';
import { enqueue, fileJobPayload, JOB_QUEUE, type JobName, type Queues } from '../shared/queues.js';
import type { WorkerContext } from './context.js';
import { INTERNAL_FAILURE, isNoProcessorReason, parseFailedReason, STALLED_FAILURE, STALLED_REASON, type JobFailure } from './job-errors.js';

const STALE_AFTER_MS = 60_000;
/** A job that failed for an outage runs again while it is younger than this; after that its failure is recorded. */
const RERUN_WINDOW_MS = 24 * 3_600_000;
const JOB_NAME_OF_KIND = { ingest: 'ingest-file', update: 'update-metadata', delete: 'delete-file' } as const;
type RowKind = keyof typeof JOB_NAME_OF_KIND;
const BATCH = 500;
const MAX_PAGES = 40;

/** Ends a job row as failed the way its own processor would (staged file, WAL entry, attr.json). */
export async function recordJobFailure(ctx: WorkerContext, kind: RowKind, id: string, failure: JobFailure): Promise<void> {
  if (kind === 'ingest') await failIngest(ctx, id, failure.code, failure.message);
  else await failFileJob(ctx, id, kind === 'update' ? 'file_update' : 'file_delete', failure.code, failure.message);
}

/** The failure a job row records for a BullMQ job that failed for good: ours as written, BullMQ's own as internal. */
export function failureOfFailedJob(reason: string | undefined): JobFailure {
  return parseFailedReason(reason) ?? (reason === STALLED_REASON ? STALLED_FAILURE : INTERNAL_FAILURE);
}

export interface SweepReport {
  /** Rows whose BullMQ job was missing (or had completed) and was added again. */
  requeued: number;
  /** Rows whose BullMQ job failed for an outage and was run again. */
  rerun: number;
  /** Rows whose BullMQ job failed for good and whose failure is now recorded. */
  failed: number;
}

/**
 * Looks at job rows that are not final and untouched for staleAfterMs. A BullMQ job still waiting, active or
 * delayed is left alone, so this never runs a job twice by itself. A missing one is added again under the row id.
 * A failed one ends the row: recorded as failed (the failure settleJobError could not record while the database
 * was down, or a stall-out), or, when it failed for an outage and is younger than a day, removed and added again
 * so the upload still commits. A completed one with an open row (its processor saw a state that has moved since)
 * is run again; every step is idempotent.
 */
export async function requeueStaleJobs(ctx: WorkerContext, queues: Queues, staleAfterMs = STALE_AFTER_MS): Promise<SweepReport> {
  const report: SweepReport = { requeued: 0, rerun: 0, failed: 0 };
  // Every stale row, page by page in (updated_at, id) order: rows legitimately waiting in a long queue must not
  // hide the ones behind them. A sweep looks at MAX_PAGES pages at most; rows past that wait for the next one.
  let after: { updatedAt: Date; id: string } | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const rows = await listStaleOpenJobs(ctx.db, staleAfterMs, after, BATCH);
    // A maintenance run (index rebuild, report, cleanup over HTTP) whose process stopped: no BullMQ job to look at,
    // but its lock went with the process's session, so an open job while nobody holds the lock is an orphan.
    if (rows.some((r) => r.kind === 'maintenance')) report.failed += await closeOrphanedMaintenanceJobs(ctx.db);
    await sweepPage(ctx, queues, rows, report);
    if (rows.length < BATCH) break;
    const last = rows[rows.length - 1]!;
    after = { updatedAt: last.updatedAt, id: last.id };
  }
  return report;
}

/**
 * The failure a carrier's rows record. An 'ingest-batch' job failed by a worker that predates batch jobs (APIs
 * upgraded before workers) says nothing about its files: they run again, within the rerun window, like an outage.
 */
function failureOfCarrier(carrier: Carrier, reason: string | undefined): JobFailure {
  if (carrier.name === 'ingest-batch' && isNoProcessorReason(reason)) {
    return { code: 'unavailable', message: 'a worker without ingest-batch jobs took the job; it runs again on a newer worker' };
  }
  return failureOfFailedJob(reason);
}

/** A BullMQ job and the stale rows it carries: one row, or every stale row of an 'ingest-batch' job. */
interface Carrier {
  kind: RowKind;
  name: JobName;
  bullId: string;
  rows: StaleJob[];
}

function carriersOf(stale: StaleJob[]): Carrier[] {
  const carriers = new Map<string, Carrier>();
  for (const row of stale) {
    if (!(row.kind in JOB_NAME_OF_KIND)) continue;
    const kind = row.kind as RowKind;
    const bullId = queueJobIdOf(row);
    const carrier = carriers.get(`${kind}:${bullId}`);
    if (carrier) carrier.rows.push(row);
    else carriers.set(`${kind}:${bullId}`, { kind, name: row.queueJobId ? 'ingest-batch' : JOB_NAME_OF_KIND[kind], bullId, rows: [row] });
  }
  return [...carriers.values()];
}

async function sweepPage(ctx: WorkerContext, queues: Queues, stale: StaleJob[], report: SweepReport): Promise<void> {
  const readd: Carrier[] = [];
  for (const carrier of carriersOf(stale)) {
    const queue = queues[JOB_QUEUE[carrier.name]];
    // One round trip for the common case (a job still waiting); the job itself only when it has ended.
    let state: string = await queue.getJobState(carrier.bullId);
    const job: Job | undefined = state === 'completed' || state === 'failed' ? await queue.getJob(carrier.bullId) : undefined;
    // Removed by retention between the two calls: as good as never enqueued.
    if ((state === 'completed' || state === 'failed') && !job) state = 'unknown';
    if (state === 'unknown') {
      readd.push(carrier);
      report.requeued += carrier.rows.length;
    } else if (state === 'completed' || state === 'failed') {
      const failure = state === 'failed' ? failureOfCarrier(carrier, job!.failedReason) : undefined;
      const rerun = carrier.rows.filter((row) => !failure || (failure.code === 'unavailable' && Date.now() - row.createdAt.getTime() < RERUN_WINDOW_MS));
      for (const row of carrier.rows.filter((r) => !rerun.includes(r))) {
        // One row that cannot be ended now (its attr.json unwritable, say) must not hold up the rows after it.
        await recordJobFailure(ctx, carrier.kind, row.id, failure!).then(
          () => report.failed++,
          (err: unknown) => ctx.logger.warn({ err, jobId: row.id }, 'requeue sweep could not record a failed job; next sweep retries'),
        );
      }
      if (rerun.length === 0) continue;
      // A finished BullMQ job keeps its id for days (retention): only its removal lets the same id run again.
      // remove() refuses a job another process has just taken again (locked); the next sweep looks again.
      const removed = await job!.remove().then(
        () => true,
        (err: unknown) => (ctx.logger.debug({ err, bullJobId: carrier.bullId }, 'requeue sweep could not remove a finished job'), false),
      );
      if (!removed) continue;
      readd.push({ ...carrier, rows: rerun });
      if (failure) report.rerun += rerun.length;
      else report.requeued += rerun.length;
    }
  }
  // An 'ingest-batch' job is added again under its own id: it reads its open rows when it runs.
  const rows = readd.flatMap((c) => c.rows);
  await enqueueIngestJobs(queues, ctx.config, rows.filter((r) => r.kind === 'ingest'));
  for (const kind of ['update', 'delete'] as const) {
    const name = JOB_NAME_OF_KIND[kind];
    await enqueue(queues, ctx.config, name, rows.filter((r) => r.kind === kind).map((row) => ({ id: row.id, payload: fileJobPayload(row) })));
  }
}
