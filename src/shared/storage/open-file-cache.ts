// A bounded cache of read-only file handles (LRU), so a small positioned read costs one read, not open+read+close.
import fs from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

export interface OpenFileCacheOptions {
  /** Handles kept open at most; the least recently used one beyond it is closed (once no read holds it). */
  maxOpen: number;
  /**
   * A handle unused this long is closed by the sweep: a removed file's handle keeps its disk space (the inode) only
   * until then, even when nothing tells this process the file went.
   */
  idleMs: number;
}

interface Entry {
  handle: Promise<fs.FileHandle>;
  /** performance.now() when open() was called: the handle holds what the path named at or after this time. */
  openedAt: number;
  lastUsed: number;
  /** Reads holding the handle: it is closed only when this drops to 0 after it left the cache. */
  refs: number;
  evicted: boolean;
}

export class OpenFileCache {
  /** Insertion order is recency order: a hit moves its entry to the end. */
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: OpenFileCacheOptions) {
    this.sweeper = setInterval(() => this.sweep(), options.idleMs);
    this.sweeper.unref();
  }

  /**
   * Runs use() with a handle of the file at path. A cached handle is taken only when it was opened at or after
   * openedSince (a performance.now() time): a file replaced by rename before that time is then never read through
   * its old inode. Open errors (ENOENT...) are thrown as fs throws them, and nothing is cached for them.
   */
  async withHandle<T>(path: string, openedSince: number, use: (handle: fs.FileHandle) => Promise<T>): Promise<T> {
    const entry = this.acquire(path, openedSince);
    try {
      return await use(await entry.handle);
    } finally {
      this.release(entry);
    }
  }

  /** Closes the path's handle (after the reads holding it): the next read opens the path again. */
  forget(path: string): void {
    const entry = this.entries.get(path);
    if (entry) this.evict(path, entry);
  }

  /** How many handles are cached (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const handles = [...this.entries.values()].map((e) => e.handle);
    for (const [path, entry] of [...this.entries]) this.evict(path, entry);
    await Promise.allSettled(handles);
  }

  private acquire(path: string, openedSince: number): Entry {
    let entry = this.entries.get(path);
    if (entry && entry.openedAt >= openedSince) {
      this.entries.delete(path);
      this.entries.set(path, entry);
    } else {
      if (entry) this.evict(path, entry);
      entry = this.open(path);
    }
    entry.refs++;
    entry.lastUsed = performance.now();
    return entry;
  }

  private open(path: string): Entry {
    const entry: Entry = { handle: fs.open(path, 'r'), openedAt: performance.now(), lastUsed: 0, refs: 0, evicted: false };
    this.entries.set(path, entry);
    entry.handle.catch(() => {
      // A failed open is not cached: the next read tries again.
      if (this.entries.get(path) === entry) this.entries.delete(path);
      entry.evicted = true;
    });
    while (this.entries.size > this.options.maxOpen) {
      const [oldestPath, oldest] = this.entries.entries().next().value as [string, Entry];
      this.evict(oldestPath, oldest);
    }
    return entry;
  }

  private release(entry: Entry): void {
    entry.refs--;
    if (entry.evicted && entry.refs === 0) this.closeEntry(entry);
  }

  private evict(path: string, entry: Entry): void {
    if (this.entries.get(path) === entry) this.entries.delete(path);
    if (entry.evicted) return;
    entry.evicted = true;
    if (entry.refs === 0) this.closeEntry(entry);
  }

  private closeEntry(entry: Entry): void {
    // A handle whose open failed has nothing to close.
    entry.handle.then((h) => h.close()).catch(() => undefined);
  }

  private sweep(): void {
    const cutoff = performance.now() - this.options.idleMs;
    for (const [path, entry] of [...this.entries]) {
      if (entry.refs === 0 && entry.lastUsed < cutoff) this.evict(path, entry);
    }
  }
}
