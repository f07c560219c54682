// The piscina pool that hashes staged files off the event loop, so BullMQ lock renewals never starve.
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { HashResult, HashTask } from './sha256-thread.js';

export type { HashResult };

export class HashPool {
  private readonly pool: Piscina<HashTask, HashResult>;

  constructor(threads: number) {
    // Under tsx/vitest this module is .ts and so is the thread file; in the compiled build both are .js.
    const isTs = import.meta.url.endsWith('.ts');
    const filename = fileURLToPath(new URL(`./sha256-thread.${isTs ? 'ts' : 'js'}`, import.meta.url));
    this.pool = new Piscina<HashTask, HashResult>({
      filename,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      execArgv: isTs ? ['--import', 'tsx'] : [],
    });
  }

  /** sha256 and size of the file at path. */
  hashFile(path: string): Promise<HashResult> {
    return this.pool.run({ path });
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
