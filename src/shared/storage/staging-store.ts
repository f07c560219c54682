// The staging interface (SPEC §8): where an accepted upload waits for its ingest job, readable by every worker host.
// Local staging is STAGING_PATH itself (one host, or a shared mount); S3 staging puts each upload in the bucket and
// STAGING_PATH is then only this host's scratch directory. Resumable uploads (SPEC §9) are to stage through it too.
// storage-backends.ts picks the implementation.

/** A staged upload as the janitor sees it. */
export interface StagedEntry {
  /** What a job row records (file_jobs.staged_path). */
  ref: string;
  modifiedMs: number;
}

export interface StagingStore {
  readonly backend: 'local' | 's3';
  /**
   * API side: makes files that the upload route wrote into STAGING_PATH (each fsynced) durable and readable by
   * every worker host, and returns what each job row records, in order. On failure nothing of them is left (the
   * local files included) and the error is thrown: the client sends again.
   */
  publish(localPaths: string[]): Promise<string[]>;
  /**
   * Worker side: a file on this host holding the staged bytes (the staged file itself, or a scratch copy of this
   * caller's own), or null when the staged upload is gone (the store said so: never for a failure to read it).
   * The caller hashes and stores exactly this file, then releases it on every path.
   */
  localCopy(ref: string): Promise<StagedCopy | null>;
  /** Removes staged uploads; errors are collected, never thrown, so each gets its chance. */
  remove(refs: Iterable<string>): Promise<Error[]>;
  /** True when ref names a staged upload of this store: a ref read from a job row is never trusted blindly. */
  owns(ref: string): boolean;
  /** Every staged upload, for the janitor. */
  list(): AsyncIterable<StagedEntry>;
  /** Removes the scratch copies that processes which died left on this host (live tells them apart); how many. */
  sweepScratch(live: (writerIds: string[]) => Promise<Set<string>>, confirmDeadAfterMs?: number): Promise<number>;
}

/** A staged upload's bytes on this host, for one run of its job. */
export interface StagedCopy {
  readonly path: string;
  /** Drops a scratch copy (the staged upload itself stays); nothing for a staged file that is its own copy. */
  release(): Promise<void>;
}

/** A staged upload's copy would not fit on this host's scratch disk: a fault of the host, not of the upload. */
export class ScratchFullError extends Error {
  constructor(
    readonly bytes: number,
    readonly free: number,
  ) {
    super(`the staged upload (${bytes} bytes) does not fit on this host's scratch disk (${free} bytes free)`);
    this.name = 'ScratchFullError';
  }
}
