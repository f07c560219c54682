// Follows many ingest jobs to their final state with one batch-status request per 100 jobs per tick.
import { FINAL_JOB_STATES, type Client, type Job } from '../client/index.js';
import { sleep } from '../client/retry.js';

interface Waiter {
  resolve: (job: Job) => void;
  reject: (err: unknown) => void;
  /** Ticks in a row the API did not list this job (it should, once accepted). */
  missing: number;
}

const MISSING_LIMIT = 40;

export class JobTracker {
  private readonly waiting = new Map<string, Waiter>();
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly client: Client,
    private readonly intervalMs = 300,
  ) {}

  /** Resolves with the job once it is committed, duplicate or failed. */
  wait(job: Job): Promise<Job> {
    if (FINAL_JOB_STATES.has(job.state)) return Promise.resolve(job);
    const done = new Promise<Job>((resolve, reject) => this.waiting.set(job.id, { resolve, reject, missing: 0 }));
    this.running ??= this.loop();
    return done;
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.waiting.size > 0) {
      await sleep(this.intervalMs);
      const ids = [...this.waiting.keys()];
      let jobs: Job[];
      try {
        jobs = await this.client.jobs(ids);
      } catch (err) {
        // The client already retried what is worth retrying: every waiter learns of the failure.
        for (const id of ids) this.settle(id, undefined, err);
        continue;
      }
      const byId = new Map(jobs.map((j) => [j.id, j]));
      for (const id of ids) {
        const job = byId.get(id);
        const waiter = this.waiting.get(id);
        if (!waiter) continue;
        if (!job) {
          if (++waiter.missing >= MISSING_LIMIT) this.settle(id, undefined, new Error(`job ${id} is not listed by the element`));
        } else if (FINAL_JOB_STATES.has(job.state)) {
          this.settle(id, job);
        }
      }
    }
    this.running = undefined;
  }

  private settle(id: string, job?: Job, err?: unknown): void {
    const waiter = this.waiting.get(id);
    if (!waiter) return;
    this.waiting.delete(id);
    if (job) waiter.resolve(job);
    else waiter.reject(err);
  }

  async close(): Promise<void> {
    this.stopped = true;
    for (const id of [...this.waiting.keys()]) this.settle(id, undefined, new Error('stopped'));
    await this.running;
  }
}
