// Counting requests in flight: work that must settle before the process exits, and per-principal caps (429).
import type { Response } from 'express';
import { AppError } from '../shared/errors.js';
import { RETRY_AFTER_SECONDS } from './http/problem.js';

/** Counts work that must settle before the process exits (uploads whose staged files may still need removing). */
export class Inflight {
  private count = 0;
  private waiters: Array<() => void> = [];

  /** Marks one unit of work as started; call the returned function exactly once when it has settled. */
  enter(): () => void {
    this.count++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.count--;
      if (this.count === 0) for (const w of this.waiters.splice(0)) w();
    };
  }

  get size(): number {
    return this.count;
  }

  /** Resolves when nothing is in flight, or after timeoutMs. */
  async drained(timeoutMs: number): Promise<void> {
    if (this.count === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** Seconds a client refused for too many open requests is told to wait (Retry-After). */

/**
 * Per-principal caps on requests that hold resources while they last (uploads: a socket, a parser, staged files;
 * SSE streams and long polls: a socket and a subscription). Counted per API process.
 */
export class PrincipalSlots {
  private readonly held = new Map<string, number>();

  constructor(
    private readonly limit: number,
    /** What the slots hold, for the 429 message and its env variable: e.g. 'uploads (MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL)'. */
    private readonly what: string,
  ) {}

  /**
   * Takes a slot for principal, giving it back when res closes (finished, failed or cut). Over the limit: sets
   * Retry-After on res and throws 429 too_many_requests.
   */
  take(res: Response, principal: string): void {
    const n = this.held.get(principal) ?? 0;
    if (n >= this.limit) {
      res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      throw new AppError('too_many_requests', `at most ${this.limit} open ${this.what} per principal; retry later`);
    }
    this.held.set(principal, n + 1);
    res.once('close', () => {
      const left = (this.held.get(principal) ?? 1) - 1;
      if (left > 0) this.held.set(principal, left);
      else this.held.delete(principal);
    });
  }

  /** Slots principal holds now. */
  heldBy(principal: string): number {
    return this.held.get(principal) ?? 0;
  }
}
