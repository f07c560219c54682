// The blob store interface: content-addressed, immutable blobs keyed by sha256. Every backend implements this.
import type { Readable } from 'node:stream';

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface PutResult {
  /** false when a blob with this sha256 was already stored (dedup). */
  created: boolean;
  /** true when bytes already stored under this sha256 were replaced by the (verified) source. */
  repaired: boolean;
  storageKey: string;
}

export interface PutOptions {
  /**
   * What to do when the store already holds bytes under this sha256: 'reuse' them when their size matches (the
   * caller's records vouch for them), or 'replace' them with the source (no record vouches for them, or the scrub
   * found them corrupt). Bytes of the wrong size are always replaced. Either way the entry is durable on return.
   */
  existing?: 'reuse' | 'replace';
  /**
   * The source's bytes are durable already (a staged upload: the API fsyncs each staged file before its job row
   * exists), so a store that links the source into place need not sync it again.
   */
  sourceDurable?: boolean;
}

export interface BlobStore {
  readonly backend: string;
  /**
   * Stores the bytes of a staged file under its (already verified) sha256. Idempotent. Existing bytes are kept or
   * replaced as options.existing says, never by anything but the verified source.
   */
  put(sha256: string, sourcePath: string, options?: PutOptions): Promise<PutResult>;
  /** Opens the blob, or a byte range of it, as a stream. Throws AppError not_found when absent. */
  openRead(sha256: string, range?: ByteRange): Promise<Readable>;
  /**
   * The bytes of a small inclusive range at once (no stream): for Range requests of a few KiB. A backend may keep
   * the blob open between reads (LocalBlobStore does); it then reuses what it keeps only when that was opened at or
   * after options.openedSince (a performance.now() time: when the caller last checked in its records that these
   * bytes are servable), so bytes replaced under the name before that check are never read from the old copy.
   * Throws AppError not_found when absent.
   */
  readRange(sha256: string, range: ByteRange, options?: { openedSince?: number }): Promise<Buffer>;
  /**
   * Drops what the backend keeps open for this blob (it was marked corrupt, replaced or removed), after the reads
   * that hold it. Backends that keep nothing open leave it out.
   */
  forget?(sha256: string): void;
  /** Releases what the backend keeps open (at shutdown). */
  close?(): Promise<void>;
  /** Size of the stored blob, or null when absent. */
  stat(sha256: string): Promise<{ size: number } | null>;
  /** Removes the blob; returns false when it was not there. */
  delete(sha256: string): Promise<boolean>;
  /** Every stored sha256, in no particular order. */
  list(): AsyncIterable<string>;
  /** Removes what interrupted puts left behind (temp files) that is older than olderThan; returns how many. */
  sweepTemporaries(olderThan: Date): Promise<number>;
  /** The backend's key for a sha256 (recorded in the Blob row). */
  keyFor(sha256: string): string;
  /**
   * A capability of backends that keep each blob as a file on this machine: the blob's path (present or not), for
   * readers that take a path, such as the hash pool's threads. Backends without local files (S3) leave it out, and
   * what needs it (the integrity scrub) says so instead of guessing the backend's class.
   */
  localPath?(sha256: string): string;
  /**
   * A capability of backends reached over the network: throws unless the store answers now (S3: HeadBucket within
   * timeoutMs), for a readiness check. Local backends leave it out.
   */
  ready?(options?: { timeoutMs?: number }): Promise<void>;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function assertSha256(sha256: string): void {
  // Refuse anything that is not a hash: a blob key can then never escape the store root.
  if (!SHA256_HEX.test(sha256)) throw new Error(`not a lowercase sha256 hex digest: ${JSON.stringify(sha256)}`);
}
