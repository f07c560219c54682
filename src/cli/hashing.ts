// How ingest hashes: small files read once and hashed on the main thread, their bytes kept to be sent (no second
// read); larger ones hashed in the one hash pool (src/shared/hashing) and read again from disk while sent. Pool
// threads for an ingesting machine: one core left over for walking and uploading, one thread kept while idle.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import { HashPool, INLINE_HASH_MAX_BYTES } from '../shared/hashing/hash-pool.js';

export type { HashPool };

export const DEFAULT_CLI_HASH_THREADS = Math.max(1, Math.min(4, os.availableParallelism() - 1));

/** Files up to this size are read into memory, hashed there and sent from there (the pool's own inline bound). */
export const KEEP_BYTES_MAX = INLINE_HASH_MAX_BYTES;

export function openCliHashPool(threads = DEFAULT_CLI_HASH_THREADS): HashPool {
  return new HashPool({ threads, minThreads: 1 });
}

export interface FileDigest {
  sha256: string;
  /** The bytes hashed: what the upload declares and sends. */
  size: number;
  /** Set for a small file: the very bytes hashed, sent as they are. */
  bytes?: Buffer;
}

/** A file's digest: a small file (by its walked size) read whole and kept, a larger one hashed in the pool. */
export async function digestFile(pool: HashPool, path: string, walkedSize: number): Promise<FileDigest> {
  if (walkedSize > KEEP_BYTES_MAX) return pool.hashFile(path);
  const bytes = await fs.readFile(path);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, bytes };
}
