// Coalesces the ingest-file jobs this worker runs at the same time into batches (runIngestBatch), by group commit:
// idle, a job starts at once as a batch of one; busy, the jobs that arrive while maxInFlight batches run wait and
// go together in the next one, up to maxBatch. Each job still has its own BullMQ job, lock and result.
import type { BatchItemResult } from '../shared/domain/ingest-batch.js';
import type { IngestOutcome } from '../shared/domain/ingest-commit.js';
import { GroupCommit } from '../shared/group-commit.js';

export interface BatcherOptions {
  /** Most files in one batch. */
  maxBatch: number;
  /** Batches running at once (one hashes and writes files while another talks to PostgreSQL). */
  maxInFlight: number;
}

export class IngestBatcher {
  private readonly group: GroupCommit<string, IngestOutcome>;

  constructor(run: (ids: string[]) => Promise<Map<string, BatchItemResult>>, options: BatcherOptions) {
    this.group = new GroupCommit((ids) => runOnce(run, ids), { maxSize: options.maxBatch, maxInFlight: options.maxInFlight });
  }

  /** The job's outcome once its batch ran; rejects with the job's own error. */
  submit(id: string): Promise<IngestOutcome> {
    return this.group.submit(id);
  }
}

/** Runs each id once however often it was submitted, and answers every submission. */
async function runOnce(run: (ids: string[]) => Promise<Map<string, BatchItemResult>>, ids: string[]): Promise<Array<PromiseSettledResult<IngestOutcome>>> {
  const results = await run([...new Set(ids)]);
  const answered = new Set<string>();
  return ids.map((id): PromiseSettledResult<IngestOutcome> => {
    const result = results.get(id);
    // Two BullMQ jobs of one ingest job (a WAL recovery run beside the stalled original): the work ran once, so
    // only the first is told it ran now (metrics count it once), as a second run of the job alone would be.
    const first = !answered.has(id);
    answered.add(id);
    if (!result) return { status: 'rejected', reason: new Error(`ingest batch returned no result for job ${id}`) };
    if (!result.ok) return { status: 'rejected', reason: result.error };
    return { status: 'fulfilled', value: first ? result.outcome : { ...result.outcome, ranNow: false } };
  });
}
