// Follows many ingest jobs to their final state with batch-status requests of 100 ids, oldest jobs first: the
// element finishes jobs about in the order it accepted them, so each tick asks about the oldest 100 waiting, and
// the next 100 only while the ones before showed progress. A tick's cost follows the jobs finished, not the
// jobs waiting (20,000 queued jobs are not 200 requests every tick). With few jobs waiting the first tick comes
// early (one large file's job is final tens of milliseconds after its upload answered, not a quarter second later).
import { FINAL_JOB_STATES, type Client, type Job } from '../client/index.js';
import { sleep } from '../client/retry.js';

interface Waiter {
  resolve: (job: Job) => void;
  reject: (err: unknown) => void;
  /** Ticks in a row the API did not list this job (it should, once accepted). */
  missing: number;
}

const MISSING_LIMIT = 40;
/** Ids per status request (the API's limit) and requests per tick at most. */
const WINDOW = 100;
const MAX_WINDOWS_PER_TICK = 10;
/** The first tick's delay; the interval stays between this and the tracker's intervalMs. */
const FIRST_TICK_MS = 10;

/**
 * The next tick's delay. Few jobs waiting (one window: a large file, a small batch): double while ticks settle
 * none, from FIRST_TICK_MS, so a job final soon after its upload is seen soon. Many waiting: the full interval, as
 * each tick then settles many anyway, in as few requests (of 100 jobs each) as it can: ticking faster through a
 * 20,000-file tree cost the CLI ~45% more CPU per file in the bench (more, smaller-yield status requests).
 */
export function nextIntervalMs(current: number, settled: number, waiting: number, bounds: { min: number; max: number }): number {
  if (waiting > WINDOW) return bounds.max;
  return settled === 0 ? Math.min(bounds.max, current * 2) : current;
}

export class JobTracker {
  private readonly waiting = new Map<string, Waiter>();
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly client: Client,
    /** The longest interval between two ticks. */
    private readonly intervalMs = 250,
  ) {}

  /** Resolves with the job once it is committed, duplicate or failed. */
  wait(job: Job): Promise<Job> {
    if (FINAL_JOB_STATES.has(job.state)) return Promise.resolve(job);
    const done = new Promise<Job>((resolve, reject) => this.waiting.set(job.id, { resolve, reject, missing: 0 }));
    this.running ??= this.loop();
    return done;
  }

  private async loop(): Promise<void> {
    const bounds = { min: Math.min(FIRST_TICK_MS, this.intervalMs), max: this.intervalMs };
    let delay = bounds.min;
    while (!this.stopped && this.waiting.size > 0) {
      await sleep(delay);
      // Map order is insertion order: the oldest jobs first.
      const ids = [...this.waiting.keys()];
      let first: number | undefined;
      for (let at = 0, windows = 0; at < ids.length && windows < MAX_WINDOWS_PER_TICK && !this.stopped; at += WINDOW, windows++) {
        const finished = await this.poll(ids.slice(at, at + WINDOW));
        first ??= finished;
        if (finished === 0) break;
      }
      delay = nextIntervalMs(delay, first ?? 0, this.waiting.size, bounds);
    }
    this.running = undefined;
  }

  /** Asks about these jobs once, settles the final ones; how many were settled. */
  private async poll(ids: string[]): Promise<number> {
    let jobs: Job[];
    try {
      jobs = await this.client.jobs(ids);
    } catch (err) {
      // The client already retried what is worth retrying: every waiter learns of the failure.
      for (const id of ids) this.settle(id, undefined, err);
      return 0;
    }
    const byId = new Map(jobs.map((j) => [j.id, j]));
    let finished = 0;
    for (const id of ids) {
      const job = byId.get(id);
      const waiter = this.waiting.get(id);
      if (!waiter) continue;
      if (!job) {
        if (++waiter.missing >= MISSING_LIMIT) this.settle(id, undefined, new Error(`job ${id} is not listed by the element`));
      } else if (FINAL_JOB_STATES.has(job.state)) {
        this.settle(id, job);
        finished++;
      }
    }
    return finished;
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
