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
  storageKey: string;
}

export interface BlobStore {
  readonly backend: string;
  /** Stores the bytes of a staged file under its (already verified) sha256. Idempotent; never overwrites. */
  put(sha256: string, sourcePath: string): Promise<PutResult>;
  /** Opens the blob, or a byte range of it, as a stream. Throws AppError not_found when absent. */
  openRead(sha256: string, range?: ByteRange): Promise<Readable>;
  /** The bytes of a small inclusive range at once (no stream): for Range requests of a few KiB. */
  readRange(sha256: string, range: ByteRange): Promise<Buffer>;
  /** Size of the stored blob, or null when absent. */
  stat(sha256: string): Promise<{ size: number } | null>;
  /** Removes the blob; returns false when it was not there. */
  delete(sha256: string): Promise<boolean>;
  /** Every stored sha256, in no particular order. */
  list(): AsyncIterable<string>;
  /** The backend's key for a sha256 (recorded in the Blob row). */
  keyFor(sha256: string): string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function assertSha256(sha256: string): void {
  // Refuse anything that is not a hash: a blob key can then never escape the store root.
  if (!SHA256_HEX.test(sha256)) throw new Error(`not a lowercase sha256 hex digest: ${JSON.stringify(sha256)}`);
}
