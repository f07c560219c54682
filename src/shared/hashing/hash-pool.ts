// The piscina pool that hashes files off the event loop (for the workers, so BullMQ lock renewals never starve; for
// the CLI, so many files hash at once); small files are hashed on the calling thread, where the hash costs less than
// the hand-off to a pool thread. Its callers configure it: it imports nothing of the server, so the CLI can use it.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { HashResult, HashTask, StreamMessage } from './sha256-thread.js';

export type { HashResult };

/**
 * Below this size a file is read and hashed inline: about 0.1 ms of event-loop time at 64 KiB, where a pool
 * round trip costs more (thread wake-up, messages), which bench/'s 16 KiB scenario showed in the profile.
 */
export const INLINE_HASH_MAX_BYTES = 64 * 1024;

/**
 * hashStream posts a stream's bytes to its thread in messages of about this size, at most STREAM_WINDOW of them
 * unacknowledged: what one hashed stream holds in memory is bounded (about 1.25 MiB) whatever its length, and a
 * message costs little against the 256 KiB it carries.
 */
const STREAM_MESSAGE_BYTES = 256 * 1024;
const STREAM_WINDOW = 4;

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

  /**
   * sha256 and size of everything the stream yields, hashed in a pool thread: the bytes are posted to it over a
   * MessagePort and the stream is read no faster than the thread hashes (for-await pauses it while the window is
   * full). A stream error aborts the task and is thrown; the stream is consumed either way.
   */
  async hashStream(readable: Readable): Promise<HashResult> {
    const { port1, port2 } = new MessageChannel();
    const result = this.pool.run({ port: port2 }, { transferList: [port2] });
    let unacknowledged = 0;
    let failure: { err: unknown } | undefined;
    let wake: (() => void) | undefined;
    const wakeUp = () => {
      wake?.();
      wake = undefined;
    };
    port1.on('message', () => {
      unacknowledged -= 1;
      wakeUp();
    });
    // The thread failing (or the pool closing) must not leave the sender waiting for acknowledgements.
    result.catch((err: unknown) => {
      failure ??= { err };
      wakeUp();
    });
    const post = (message: StreamMessage, transfer: ArrayBuffer[] = []) => port1.postMessage(message, transfer);
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      while (unacknowledged >= STREAM_WINDOW && !failure) await new Promise<void>((resolve) => (wake = resolve));
      if (failure) throw failure.err;
      // A fresh buffer of exactly these bytes, moved (not copied) to the thread: a chunk may be a view into a
      // larger shared buffer that must not be detached.
      const bytes = new Uint8Array(pendingBytes);
      let offset = 0;
      for (const chunk of pending) {
        bytes.set(chunk, offset);
        offset += chunk.length;
      }
      post(bytes, [bytes.buffer]);
      unacknowledged += 1;
      pending = [];
      pendingBytes = 0;
    };
    try {
      for await (const chunk of readable) {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        pending.push(buffer);
        pendingBytes += buffer.length;
        if (pendingBytes >= STREAM_MESSAGE_BYTES) await flush();
      }
      if (pendingBytes > 0) await flush();
      post('end');
      return await result;
    } catch (err) {
      post('abort');
      await result.catch(() => undefined);
      throw err;
    } finally {
      port1.close();
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
