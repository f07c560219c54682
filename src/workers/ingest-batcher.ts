// Coalesces the ingest-file jobs this worker runs at the same time into batches (runIngestBatch): group commit.
// Idle, a job starts at once as a batch of one; busy, the jobs that arrive while maxInFlight batches run wait and
// go together in the next one, up to maxBatch. Each job still has its own BullMQ job, lock and result.
import type { BatchItemResult } from '../shared/domain/ingest-batch.js';
import type { IngestOutcome } from '../shared/domain/ingest-commit.js';

interface Waiting {
  id: string;
  resolve: (outcome: IngestOutcome) => void;
  reject: (err: unknown) => void;
}

export interface BatcherOptions {
  /** Most files in one batch. */
  maxBatch: number;
  /** Batches running at once (one hashes and writes files while another talks to PostgreSQL). */
  maxInFlight: number;
}

export class IngestBatcher {
  private waiting: Waiting[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly run: (ids: string[]) => Promise<Map<string, BatchItemResult>>,
    private readonly options: BatcherOptions,
  ) {}

  /** The job's outcome once its batch ran; rejects with the job's own error. */
  submit(id: string): Promise<IngestOutcome> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ id, resolve, reject });
      // Jobs BullMQ hands over in the same tick join one batch.
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  /** Batches running or waiting to run (for tests and metrics). */
  get pending(): number {
    return this.waiting.length + this.inFlight;
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.options.maxBatch);
      this.inFlight += 1;
      void this.runBatch(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async runBatch(batch: Waiting[]): Promise<void> {
    let results: Map<string, BatchItemResult>;
    try {
      results = await this.run([...new Set(batch.map((w) => w.id))]);
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    const answered = new Set<string>();
    for (const w of batch) {
      const result = results.get(w.id);
      // Two BullMQ jobs of one ingest job (a WAL recovery run beside the stalled original): the work ran once,
      // so only the first is told it ran now (metrics count it once), as a second run of the job alone would be.
      const first = !answered.has(w.id);
      answered.add(w.id);
      if (!result) w.reject(new Error(`ingest batch returned no result for job ${w.id}`));
      else if (result.ok) w.resolve(first ? result.outcome : { ...result.outcome, ranNow: false });
      else w.reject(result.error);
    }
  }
}
