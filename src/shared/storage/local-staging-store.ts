// Staging in STAGING_PATH on this host (BLOB_BACKEND=local): the staged file is what the worker hashes and links.
import fs from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../errors.js';
import { fsyncDir } from './durable-fs.js';
import { isInStaging, removeStagedFiles, STAGED_SUFFIX } from './staging.js';
import type { StagedCopy, StagedEntry, StagingStore } from './staging-store.js';

export class LocalStagingStore implements StagingStore {
  readonly backend = 'local' as const;

  constructor(private readonly stagingPath: string) {}

  async publish(localPaths: string[]): Promise<string[]> {
    try {
      // Each staged file was fsynced as it was written; their directory entries become durable here, before a job
      // row names them.
      await Promise.all([...new Set(localPaths.map((p) => path.dirname(p)))].map((dir) => fsyncDir(dir)));
      // Never acknowledge bytes that are gone (a staged file removed by mistake meanwhile): the client sends again.
      for (const p of localPaths) {
        if (!(await fs.stat(p).then(() => true, () => false))) {
          throw new AppError('unavailable', 'a staged file of this upload vanished before it was recorded; send the upload again');
        }
      }
    } catch (err) {
      await removeStagedFiles(localPaths);
      throw err;
    }
    return localPaths;
  }

  /** The staged file itself: whether it is still there shows when it is read (ENOENT). */
  async localCopy(ref: string): Promise<StagedCopy | null> {
    return { path: ref, release: async () => {} };
  }

  remove(refs: Iterable<string>): Promise<Error[]> {
    return removeStagedFiles(refs);
  }

  owns(ref: string): boolean {
    return isInStaging(this.stagingPath, ref) && ref.endsWith(STAGED_SUFFIX);
  }

  async *list(): AsyncGenerator<StagedEntry> {
    for (const name of await fs.readdir(this.stagingPath).catch(() => [] as string[])) {
      const ref = path.join(this.stagingPath, name);
      const stat = await fs.stat(ref).catch(() => null);
      if (stat?.isFile()) yield { ref, modifiedMs: stat.mtimeMs };
    }
  }

  /** Nothing is copied: the staged files are the only ones, and the janitor decides about them. */
  async sweepScratch(): Promise<number> {
    return 0;
  }
}
