// Job status for pollers: jobs that can never change again served from a bounded in-process cache, the rest read
// from PostgreSQL in one prepared statement. Every answer is authorised per request against the row's principal.
import { isSettledForGood, selectFileJobStatuses } from '../records/file-jobs.js';
import type { Db } from '../records/database.js';
import { toJobView, type JobView } from './job-view.js';
import { can, type Principal } from './principal.js';
import { isUuid } from '../../contract/ids.js';

/**
 * Final ingest jobs kept per API process. One entry (the view and its JSON text) is about 1 KB, so this is a few
 * MB: the latest batches of a busy element, which is what pollers ask for.
 */
export const JOB_STATUS_CACHE_MAX = 20_000;

/** A job's answer: the view, its JSON text (built once for a cached job), and whose job it is. */
export interface JobStatus {
  readonly view: JobView;
  readonly json: string;
  readonly principal: string;
}

/**
 * Reads Job views. Only rows that isSettledForGood says never change again are cached (no invalidation is needed
 * across API processes); a job still running is always read from the database, so it is never answered stale.
 */
export class JobStatusReader {
  /**
   * Bounded first in, first out: a hit does not reorder (that would cost two map writes per id on every poll); a
   * job pushed out while still polled is read once more and kept again.
   */
  private readonly settled = new Map<string, JobStatus>();

  constructor(
    private readonly db: Db,
    private readonly maxEntries = JOB_STATUS_CACHE_MAX,
  ) {}

  /** The visible jobs among ids, in the order asked, each once; unknown, malformed or invisible ids are omitted. */
  async read(principal: Principal, ids: readonly string[]): Promise<JobStatus[]> {
    const owner = can(principal, 'job:read-all') ? undefined : principal.sub;
    const wanted = ids.length === 1 ? [ids[0]!.toLowerCase()] : [...new Set(ids.map((i) => i.toLowerCase()))];
    const found: Array<JobStatus | undefined> = new Array(wanted.length);
    let missing: string[] | undefined;
    for (let i = 0; i < wanted.length; i++) {
      const hit = this.settled.get(wanted[i]!);
      if (hit) found[i] = owner === undefined || hit.principal === owner ? hit : undefined;
      else if (isUuid(wanted[i]!)) (missing ??= []).push(wanted[i]!);
    }
    if (missing) {
      const read = new Map<string, JobStatus>();
      for (const row of await selectFileJobStatuses(this.db, missing, owner)) {
        const view = toJobView(row);
        const status = { view, json: JSON.stringify(view), principal: row.principal };
        if (isSettledForGood(row)) this.keep(row.id, status);
        read.set(row.id, status);
      }
      for (let i = 0; i < wanted.length; i++) found[i] ??= read.get(wanted[i]!);
    }
    return found.filter((s) => s !== undefined);
  }

  /** How many jobs are cached (for tests and diagnostics). */
  get size(): number {
    return this.settled.size;
  }

  private keep(id: string, status: JobStatus): void {
    if (this.settled.has(id)) return;
    if (this.settled.size >= this.maxEntries) this.settled.delete(this.settled.keys().next().value!);
    this.settled.set(id, status);
  }
}
