// The worker's hash step (SPEC §1, steps 1-2): the sha256 and size of a job's staged bytes. The API hashes an upload
// while it stages it and records the digest with the job (file_jobs.staged_sha256): a local staged file is then not
// read a second time, only its size is checked. Everything else is hashed here, in the pool: a worker's scratch copy
// of a staged object (it crossed the network since the API hashed it), and a job without a recorded digest (from
// before it was recorded, or a resumable upload whose bytes came in more than one request).
import fs from 'node:fs/promises';
import type { FileJob } from '../records/file-jobs.js';
import type { HashPool, HashResult } from '../hashing/hash-pool.js';

/**
 * Whether the job's digest is the API's, taken from the very file at path: the staged file itself, which the API
 * wrote, hashed and fsynced before the job row (and the 202) existed. Why this is as safe as hashing it again: the
 * README's durability section.
 */
export function hasRecordedDigest(job: Pick<FileJob, 'stagedSha256' | 'stagedPath'>, path: string): job is typeof job & { stagedSha256: string } {
  return job.stagedSha256 !== null && job.stagedPath === path;
}

/** sha256 and size of the staged bytes at path (the job's staged file, or this host's copy of it); hashed: read here. */
export async function digestOfStaged(hashPool: HashPool, job: FileJob, path: string): Promise<HashResult & { hashed: boolean }> {
  // The size is the file's, read now: a staged file that lost bytes since it was hashed fails the size check.
  if (hasRecordedDigest(job, path)) return { sha256: job.stagedSha256, size: (await fs.stat(path)).size, hashed: false };
  return { ...(await hashPool.hashFile(path, Number(job.size))), hashed: true };
}
