// The CLI's settings of the one hash pool (src/shared/hashing): threads for an ingesting machine, one core left over
// for walking and uploading, and only one thread kept while idle.
import os from 'node:os';
import { HashPool } from '../shared/hashing/hash-pool.js';

export type { HashPool };

export const DEFAULT_CLI_HASH_THREADS = Math.max(1, Math.min(4, os.availableParallelism() - 1));

export function openCliHashPool(threads = DEFAULT_CLI_HASH_THREADS): HashPool {
  return new HashPool({ threads, minThreads: 1 });
}
