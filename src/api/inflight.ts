// Counts work that must settle before the process exits (uploads whose staged files may still need removing).
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
