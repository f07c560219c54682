// The download path's cache of file rows (with their blob's corrupt mark): one database read per file per second
// at most, whatever the request rate; dropped at once when a change is announced (file-changes.ts).
import { performance } from 'node:perf_hooks';
import type { FileMetadata } from '../../contract/files.js';
import type { Db } from '../records/database.js';
import { findLiveFileWithIntegrity, toFileMetadata } from '../records/files.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { FileChange } from './file-changes.js';

/** A live file as a download sees it, and when the database said so. */
export interface ServableFile {
  metadata: FileMetadata;
  corrupt: { reason: string | null } | null;
  /** performance.now() when the row was read (the read started): the blob's bytes are known good since then. */
  checkedAt: number;
}

export interface ServableFileCacheOptions {
  /**
   * How long a row read answers downloads. The bound on how late a change is seen when its announcement is lost
   * (a corrupt mark: within a second), so at most 1 s.
   */
  ttlMs?: number;
  /** Rows kept at most (the oldest goes first). */
  maxEntries?: number;
}

/**
 * What is cached is the row of a servable file as read, for ttlMs: the name, type and dates in the headers, the
 * sha256 (the ETag, immutable), and that its blob was not marked corrupt (files with a corrupt blob are not cached). A deleted or patched file and a blob marked corrupt, restored or removed
 * are announced, and the announcement drops the entries (and the blob's kept-open bytes) at once. A read that
 * overlaps an announcement is not cached, so it cannot put back what the announcement dropped.
 */
export class ServableFileCache {
  /** Public so a test can lengthen it: then only an announcement, not expiry, explains a change seen. */
  ttlMs: number;
  /** Test hook: awaited after a row is read and before it is cached, to change the file at that exact step. */
  beforeFill?: (fileId: string) => Promise<void>;
  private readonly maxEntries: number;
  private readonly entries = new Map<string, ServableFile>();
  private readonly loading = new Map<string, Promise<ServableFile | undefined>>();
  /** Bumped by every invalidation: a read that started under an older value is served but not cached. */
  private generation = 0;

  constructor(
    private readonly db: Db,
    private readonly blobStore: Pick<BlobStore, 'forget'>,
    options: ServableFileCacheOptions = {},
  ) {
    this.ttlMs = Math.min(options.ttlMs ?? 1_000, 1_000);
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  /** The live file with this (lowercase UUID) id, or undefined when there is none. */
  async get(fileId: string): Promise<ServableFile | undefined> {
    const hit = this.entries.get(fileId);
    if (hit && performance.now() - hit.checkedAt < this.ttlMs) return hit;
    // Concurrent misses of one file share one read.
    let pending = this.loading.get(fileId);
    if (!pending) {
      pending = this.load(fileId);
      this.loading.set(fileId, pending);
      const settled = pending;
      const clear = () => {
        if (this.loading.get(fileId) === settled) this.loading.delete(fileId);
      };
      settled.then(clear, clear);
    }
    return pending;
  }

  /** The cached entry, fresh or not (for tests). */
  peek(fileId: string): ServableFile | undefined {
    return this.entries.get(fileId);
  }

  /** Drops what the change makes stale: the file's entry, or every entry of the blob and its kept-open bytes. */
  invalidate(change: FileChange): void {
    this.generation++;
    // Reads under way may predate the change: later requests must not join them.
    this.loading.clear();
    if ('fileId' in change) {
      this.entries.delete(change.fileId.toLowerCase());
      return;
    }
    for (const [id, entry] of this.entries) {
      if (entry.metadata.sha256 === change.sha256) this.entries.delete(id);
    }
    this.blobStore.forget?.(change.sha256);
  }

  private async load(fileId: string): Promise<ServableFile | undefined> {
    const generation = this.generation;
    const checkedAt = performance.now();
    const row = await findLiveFileWithIntegrity(this.db, fileId);
    await this.beforeFill?.(fileId);
    if (!row) return undefined;
    const file: ServableFile = {
      metadata: toFileMetadata(row),
      corrupt: row.corruptAt ? { reason: row.corruptReason } : null,
      checkedAt,
    };
    if (file.corrupt) {
      // Not cached: a repair that clears the mark (an ingest of the same bytes) is seen by the next request. And
      // whatever is kept open of the bad bytes goes, so restored bytes are read from a fresh open.
      this.blobStore.forget?.(file.metadata.sha256);
      return file;
    }
    if (generation !== this.generation) return file;
    this.entries.delete(fileId);
    this.entries.set(fileId, file);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return file;
  }
}
