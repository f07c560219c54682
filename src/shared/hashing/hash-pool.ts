// The piscina pool that hashes files off the event loop (for the workers, so BullMQ lock renewals never starve; for
// the CLI, so many files hash at once); small files are hashed on the calling thread, where the hash costs less than
// the hand-off to a pool thread. Its callers configure it: it imports nothing of the server, so the CLI can use it.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { HashResult, HashTask } from './sha256-thread.js';

export type { HashResult };

/**
 * Below this size a file is read and hashed inline: about 0.1 ms of event-loop time at 64 KiB, where a pool
 * round trip costs more (thread wake-up, messages), which bench/'s 16 KiB scenario showed in the profile.
 */
export const INLINE_HASH_MAX_BYTES = 64 * 1024;

export interface HashPoolOptions {
  /** Threads at most. */
  threads: number;
  /** Threads kept even when idle (default: all of them). */
  minThreads?: number;
  /** An idle thread above minThreads exits after this long (piscina's default when omitted). */
  idleTimeoutMs?: number;
}

/** The workers' setting (HASH_THREADS): every thread kept, an idle one above that let go after a minute. */
function optionsOf(threads: number): HashPoolOptions {
  return { threads, minThreads: threads, idleTimeoutMs: 60_000 };
}

export class HashPool {
  private readonly pool: Piscina<HashTask, HashResult>;
  /** Threads at most: callers size their own queues by it (e.g. twice as many files in flight). */
  readonly threads: number;

  /** A number is the workers' HASH_THREADS; the CLI passes its own options. */
  constructor(options: number | HashPoolOptions) {
    const { threads, minThreads = threads, idleTimeoutMs } = typeof options === 'number' ? optionsOf(options) : options;
    this.threads = threads;
    // Under tsx/vitest this module is .ts and so is the thread file; in the compiled build (dist/) both are .js,
    // side by side. tsx is resolved from this package, so a caller in any working directory finds it.
    const isTs = import.meta.url.endsWith('.ts');
    const filename = fileURLToPath(new URL(`./sha256-thread.${isTs ? 'ts' : 'js'}`, import.meta.url));
    this.pool = new Piscina<HashTask, HashResult>({
      filename,
      minThreads,
      maxThreads: threads,
      ...(idleTimeoutMs === undefined ? {} : { idleTimeout: idleTimeoutMs }),
      execArgv: isTs ? ['--import', import.meta.resolve('tsx')] : [],
    });
  }

  /**
   * sha256 and size of the file at path. sizeHint (what the file is expected to hold) lets a small file be hashed
   * inline; the result always describes the bytes actually read, so a wrong hint is caught by the caller's check.
   */
  async hashFile(path: string, sizeHint?: number): Promise<HashResult> {
    if (sizeHint !== undefined && sizeHint <= INLINE_HASH_MAX_BYTES) {
      const handle = await fs.open(path, 'r');
      try {
        // Read at most one byte more than the inline limit: a file that grew goes to the pool instead.
        const buffer = Buffer.allocUnsafe(INLINE_HASH_MAX_BYTES + 1);
        let size = 0;
        while (size < buffer.length) {
          const { bytesRead } = await handle.read(buffer, size, buffer.length - size, size);
          if (bytesRead === 0) break;
          size += bytesRead;
        }
        if (size <= INLINE_HASH_MAX_BYTES) return { sha256: createHash('sha256').update(buffer.subarray(0, size)).digest('hex'), size };
      } finally {
        await handle.close();
      }
    }
    return this.pool.run({ path });
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
