// Group commit: concurrent callers share one flush (one statement, one round trip) instead of one each.

export interface GroupCommitOptions<I> {
  /** A flush takes items up to this total size (at least one item, however large). */
  maxSize: number;
  /** An item's share of maxSize (default 1). */
  sizeOf?: (item: I) => number;
  /** Flushes that may run at once (default 1); items wait only while this many run. */
  maxInFlight?: number;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (reason: unknown) => void;
}

/**
 * Classic group commit: while a slot is free, an item is flushed at once (after the current microtask, so callers
 * of the same tick share it); while maxInFlight flushes (default one) run, everything that arrives waits and goes
 * into the next flush, up to maxSize. flush answers one settled result per item, in order; a flush that throws
 * fails each of its items with that error.
 */
export class GroupCommit<I, O> {
  private readonly waiting: Array<Waiting<I, O>> = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly flush: (items: I[]) => Promise<Array<PromiseSettledResult<O>>>,
    private readonly options: GroupCommitOptions<I>,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.scheduled || this.inFlight >= (this.options.maxInFlight ?? 1)) return;
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.pump();
      });
    });
  }

  /** Items waiting for a flush (not those in the running one). */
  get backlog(): number {
    return this.waiting.length;
  }

  /** Starts flushes while a slot is free and items wait. */
  private pump(): void {
    while (this.waiting.length > 0 && this.inFlight < (this.options.maxInFlight ?? 1)) {
      this.inFlight += 1;
      this.run(this.take());
    }
  }

  private run(group: Array<Waiting<I, O>>): void {
    let outcome: Promise<Array<PromiseSettledResult<O>>>;
    try {
      outcome = this.flush(group.map((w) => w.item));
    } catch (err) {
      outcome = Promise.reject(err);
    }
    outcome
      .then(
        (results) => {
          group.forEach((w, i) => {
            const r = results[i];
            if (!r) w.reject(new Error(`group commit: the flush answered ${results.length} results for ${group.length} items`));
            else if (r.status === 'fulfilled') w.resolve(r.value);
            else w.reject(r.reason);
          });
        },
        (err: unknown) => {
          for (const w of group) w.reject(err);
        },
      )
      .finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
  }

  private take(): Array<Waiting<I, O>> {
    const { maxSize, sizeOf = () => 1 } = this.options;
    let size = sizeOf(this.waiting[0]!.item);
    let n = 1;
    while (n < this.waiting.length) {
      const s = sizeOf(this.waiting[n]!.item);
      if (size + s > maxSize) break;
      size += s;
      n++;
    }
    return this.waiting.splice(0, n);
  }
}
