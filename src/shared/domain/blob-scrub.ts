// Integrity scrub: re-hash stored blobs in sha256 order within a time budget, mark corrupt ones, resume next run.
import { fixityFailureEvent } from './audit-events.js';
import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../redis.js';
import type { Config } from '../config.js';
import type { Db } from '../records/database.js';
import type { HashPool, HashResult } from '../hashing/hash-pool.js';
import type { Logger } from '../logger.js';
import type { WorkerMetrics } from '../metrics.js';
import type { BlobStore } from '../storage/blob-store.js';
import { findBlobsToScrub, markBlobCorrupt, markBlobsIntact, type BlobToScrub } from '../records/blobs.js';
import { findLiveFileIdsOfBlob } from '../records/files.js';
import { announceFileChange } from './file-changes.js';

/** Blob rows read per keyset query (and the checkpoint is written at least this often). */
const BATCH = 100;
/**
 * A run overruns its budget only by the blobs in flight; past this margin its lock expires, so a crashed run
 * blocks the next one briefly (a run still going by then merely duplicates some work).
 */
const LOCK_MARGIN_MS = 2 * 60_000;

export type CorruptReason = 'mismatch' | 'missing' | 'unreadable';

export interface ScrubDeps {
  db: Db;
  /** Holds the checkpoint and the run lock. */
  connection: RedisConnection;
  blobStore: BlobStore;
  hashPool: Pick<HashPool, 'hashFile' | 'hashStream'>;
  config: Pick<Config, 'queuePrefix' | 'hashThreads'>;
  logger: Logger;
  metrics: Pick<WorkerMetrics, 'scrubCorruptBlobs' | 'scrubCheckedBytes'>;
}

export interface ScrubReport {
  /** Blobs re-checked by this run. */
  checked: number;
  /** Of them, blobs whose bytes are present but no longer match (or cannot be read). */
  corrupt: number;
  /** Of them, blobs whose bytes are gone. */
  missing: number;
  /** The checkpoint the next run starts after, or null when this run finished a pass (the next one starts over). */
  resumeAfter: string | null;
}

type Verdict = { intact: true } | { intact: false; reason: CorruptReason; detail: string };

/** Redis key of the resume hint: the last sha256 checked. Losing it only restarts the pass. */
export const scrubCheckpointKey = (queuePrefix: string) => `${queuePrefix}:scrub:checkpoint`;
const scrubLockKey = (queuePrefix: string) => `${queuePrefix}:scrub:lock`;

// Deletes the lock only while it is still ours (it may have expired and been taken by another run).
const RELEASE_LOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

/**
 * Re-hashes blobs after the checkpoint, in sha256 order, until budgetMs is spent (at least one blob per run) or
 * the pass ends. Intact blobs get last_verified_at (and lose a corrupt mark an earlier run left: the bytes were
 * restored); corrupt or missing ones get corrupt_at and corrupt_reason, an error log line and a metric, and keep
 * their last_verified_at: the bytes went bad between the two times. One run at a time (a Redis lock); a second
 * one returns at once having checked nothing.
 */
export async function scrubBlobs(deps: ScrubDeps, options: { budgetMs: number }): Promise<ScrubReport> {
  const { connection, config, logger } = deps;
  const hashBlob = blobHasher(deps);
  const checkpointKey = scrubCheckpointKey(config.queuePrefix);
  const lockKey = scrubLockKey(config.queuePrefix);
  const token = randomUUID();
  if ((await connection.set(lockKey, token, 'PX', options.budgetMs + LOCK_MARGIN_MS, 'NX')) !== 'OK') {
    logger.info('scrub run skipped: another run is active');
    return { checked: 0, corrupt: 0, missing: 0, resumeAfter: await connection.get(checkpointKey) };
  }
  try {
    const deadline = Date.now() + options.budgetMs;
    const report: ScrubReport = { checked: 0, corrupt: 0, missing: 0, resumeAfter: null };
    let started = 0;
    const mayStart = () => started === 0 || Date.now() < deadline;
    let after = await connection.get(checkpointKey);
    let restarted = after === null;
    // Half the hash threads at most, so ingests running meanwhile still find free threads.
    const lanes = Math.max(1, Math.floor(config.hashThreads / 2));

    while (true) {
      // A blob being garbage-collected loses its bytes on purpose: findBlobsToScrub leaves it out.
      const rows = await findBlobsToScrub(deps.db, after, BATCH);
      if (rows.length === 0 && !restarted && report.checked === 0) {
        // The checkpoint was the last blob: this run starts the next pass rather than check nothing.
        after = null;
        restarted = true;
        continue;
      }

      const { verdicts, next, failure } = await checkBatch(deps, hashBlob, rows, lanes, mayStart, () => started++);

      // Blobs are started in order, so the checked ones are a prefix of the batch, up to a failure.
      let done = 0;
      while (done < next && verdicts[done]) done++;
      await recordVerdicts(deps, rows.slice(0, done), verdicts.slice(0, done), report);
      if (done > 0) after = rows[done - 1]!.sha256;

      if (failure) {
        if (after !== null) await connection.set(checkpointKey, after);
        const message = failure.err instanceof Error ? failure.err.message : String(failure.err);
        throw new Error(`scrub stopped at blob ${failure.sha256}: ${message}`, { cause: failure.err });
      }
      if (done < rows.length) {
        // Budget spent: the next run goes on from here.
        if (after !== null) await connection.set(checkpointKey, after);
        report.resumeAfter = after;
        return report;
      }
      if (rows.length < BATCH) {
        await connection.del(checkpointKey);
        return report;
      }
      await connection.set(checkpointKey, after!);
    }
  } finally {
    await connection.eval(RELEASE_LOCK, 1, lockKey, token).catch((err: unknown) => logger.warn({ err }, 'releasing the scrub lock'));
  }
}

/**
 * Checks rows in order on `lanes` lanes while mayStart() allows; stops starting new ones at the first failure
 * (an error that is not a verdict). next = how many were started.
 */
async function checkBatch(
  deps: ScrubDeps,
  hashBlob: HashBlob,
  rows: BlobToScrub[],
  lanes: number,
  mayStart: () => boolean,
  onStart: () => void,
): Promise<{ verdicts: Verdict[]; next: number; failure?: { sha256: string; err: unknown } }> {
  const verdicts: Verdict[] = [];
  let next = 0;
  let failure: { sha256: string; err: unknown } | undefined;
  const lane = async () => {
    while (next < rows.length && !failure && mayStart()) {
      const i = next++;
      onStart();
      try {
        verdicts[i] = await checkBlob(deps, hashBlob, rows[i]!);
      } catch (err) {
        failure ??= { sha256: rows[i]!.sha256, err };
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return { verdicts, next, failure };
}

async function checkBlob(deps: ScrubDeps, hashBlob: HashBlob, row: BlobToScrub): Promise<Verdict> {
  const expectedSize = Number(row.size);
  const stat = await deps.blobStore.stat(row.sha256);
  if (!stat) return { intact: false, reason: 'missing', detail: 'the blob file is gone' };
  // A truncated or grown file needs no hashing to be found out.
  if (stat.size !== expectedSize) return { intact: false, reason: 'mismatch', detail: `${stat.size} bytes stored, ${expectedSize} expected` };
  try {
    const got = await hashBlob(row.sha256, expectedSize);
    deps.metrics.scrubCheckedBytes.inc(got.size);
    if (got.sha256 === row.sha256 && got.size === expectedSize) return { intact: true };
    return { intact: false, reason: 'mismatch', detail: `the stored bytes hash to ${got.sha256} (${got.size} bytes)` };
  } catch (err) {
    if (!(await deps.blobStore.stat(row.sha256))) return { intact: false, reason: 'missing', detail: 'the blob file is gone' };
    // piscina hands a thread's error over by message only ("EIO: i/o error, read"). A media error is what a
    // scrub is for; anything else (permissions, a closing pool) stops the run instead of marking good bytes.
    const message = err instanceof Error ? err.message : String(err);
    if (/^EIO\b/.test(message)) return { intact: false, reason: 'unreadable', detail: message };
    throw err;
  }
}

async function recordVerdicts(deps: ScrubDeps, rows: BlobToScrub[], verdicts: Verdict[], report: ScrubReport): Promise<void> {
  const intact = rows.filter((_, i) => verdicts[i]!.intact);
  if (intact.length > 0) {
    await markBlobsIntact(deps.db, intact.map((r) => r.sha256));
  }
  for (const row of intact) {
    if (!row.corruptAt) continue;
    deps.logger.info({ sha256: row.sha256, corruptSince: row.corruptAt }, 'blob intact again: corrupt mark cleared');
    await announceFileChange(deps.connection, deps.config.queuePrefix, { sha256: row.sha256 }, deps.logger);
  }
  for (const [i, row] of rows.entries()) {
    const verdict = verdicts[i]!;
    if (verdict.intact) continue;
    // Not marked when a GC started meanwhile: it removes the bytes on purpose.
    const fileIds = await findLiveFileIdsOfBlob(deps.db, row.sha256, 20);
    const event = fixityFailureEvent(row.sha256, verdict.reason, verdict.detail, fileIds);
    if (!(await markBlobCorrupt(deps.db, row.sha256, verdict.reason, event))) continue;
    // Downloads cache the mark for up to a second; the announcement makes them answer 409 at once.
    await announceFileChange(deps.connection, deps.config.queuePrefix, { sha256: row.sha256 }, deps.logger);
    if (verdict.reason === 'missing') report.missing++;
    else report.corrupt++;
    deps.metrics.scrubCorruptBlobs.inc({ reason: verdict.reason });
    deps.logger.error(
      { sha256: row.sha256, reason: verdict.reason, detail: verdict.detail, fileIds, corruptSince: row.corruptAt ?? undefined },
      'blob corrupt: downloads of its files answer 409 until the bytes are restored',
    );
  }
  report.checked += rows.length;
}

type HashBlob = (sha256: string, expectedSize: number) => Promise<HashResult>;

/**
 * How a blob's bytes reach a hash thread: by path where the store keeps local files (the thread reads them), else
 * streamed from the store (S3) to the thread with bounded memory. Either way the service hashes them itself and
 * never takes the store's word (its ETag or checksums) for the content.
 */
function blobHasher(deps: Pick<ScrubDeps, 'blobStore' | 'hashPool'>): HashBlob {
  const { blobStore, hashPool } = deps;
  const localPath = blobStore.localPath?.bind(blobStore);
  if (localPath) return (sha256, expectedSize) => hashPool.hashFile(localPath(sha256), expectedSize);
  return async (sha256) => hashPool.hashStream(await blobStore.openRead(sha256));
}
