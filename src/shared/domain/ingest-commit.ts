// The ingest rules (SPEC §1): hash, verify, WAL pending, blob, attr.json, then metadata + WAL committed in one
// transaction. Every step is idempotent, so a job that runs twice (BullMQ is at-least-once) yields one file.
import type { Config } from '../config.js';
import type { Db } from '../records/database.js';
import { claimFileJob, clearStagedPath, findFileJob, getFileJob, type FileJob } from '../records/file-jobs.js';
import { commitIngest, prepareIngestCommit, type CommitResult, type PreparedCommit } from '../records/file-commits.js';
import { fileRowExists } from '../records/files.js';
import { failJobWithWal, type WalOperation } from '../records/wal.js';
import { ingestEvent } from './audit-events.js';
import { AppError } from '../errors.js';
import type { HashPool } from '../hashing/hash-pool.js';
import type { Logger } from '../logger.js';
import { attrRelativePath, toAttrRecord, type AttrStore } from '../storage/attr-files.js';
import type { BlobStore, PutOptions, PutResult } from '../storage/blob-store.js';
import type { StagedCopy, StagingStore } from '../storage/staging-store.js';
import { runBlobGc, type GcDeps } from './blob-gc.js';
import { type FileMetadata } from '../../contract/files.js';
import { isFinalState, type FINAL_JOB_STATES } from '../../contract/jobs.js';
import { assertModeAllows, type ModeReader } from './modes.js';
import { PROGRESS_MIN_BYTES } from './ingest-queue-jobs.js';
import { digestOfStaged } from './staged-digest.js';

export interface IngestDeps {
  db: Db;
  config: Pick<Config, 'elementId'> & GcDeps['config'];
  blobStore: BlobStore;
  staging: StagingStore;
  attrStore: AttrStore;
  hashPool: HashPool;
  modes: Pick<ModeReader, 'current'>;
  logger: Logger;
  /**
   * Called at each durable step, and awaited: fault injection for crash tests (CRASH_AT, test environment only)
   * and a pause point for race tests.
   */
  crashPoint?: (step: CrashStep) => void | Promise<void>;
}

export const CRASH_STEPS = ['after-hash', 'after-wal', 'after-blob', 'after-attr', 'before-commit'] as const;
export type CrashStep = (typeof CRASH_STEPS)[number];

export interface IngestOutcome {
  state: (typeof FINAL_JOB_STATES)[number];
  fileId?: string;
  sha256?: string;
  size?: number;
  /** true when this run created the blob (false: the bytes were already stored). */
  blobCreated?: boolean;
  /** false when an earlier run had already finished the job. */
  ranNow: boolean;
  /** Seconds spent hashing in this run, and the bytes hashed (0 when the API's recorded digest stood for them). */
  hashSeconds?: number;
  hashedBytes?: number;
}

export type ProgressReporter = (progress: number) => Promise<void>;

export const WAL_OPERATION: WalOperation = 'file_create';

/** The job's error when its (client-chosen) file id belongs to another file. */
export function fileIdTaken(fileId: string): AppError {
  return new AppError('conflict', `file id ${fileId} already exists`);
}

/** A transient state, not a fault: the job's bytes are being garbage-collected; its retry stores them anew. */
export class BlobInGcError extends Error {
  constructor(readonly sha256: string) {
    super(`blob ${sha256} is being garbage-collected; the job retries once that is done`);
    this.name = 'BlobInGcError';
  }
}

function outcomeOf(job: FileJob): IngestOutcome {
  return {
    state: job.state as IngestOutcome['state'],
    fileId: job.state === 'failed' ? undefined : job.fileId,
    sha256: job.sha256 ?? undefined,
    size: Number(job.size),
    ranNow: false,
  };
}

export async function latestOutcome(db: Db, id: string): Promise<IngestOutcome> {
  return outcomeOf(await getFileJob(db, id));
}

/** Claims the job; when it is final already (or missing), settles what an earlier run left and says so. */
async function claimOrSettle(deps: IngestDeps, fileJobId: string): Promise<FileJob | IngestOutcome> {
  const job = await claimFileJob(deps.db, fileJobId);
  return job ?? settleUnclaimed(deps, fileJobId);
}

/** A job the claim did not take (final already, or missing): settles what an earlier run left and says so. */
export async function settleUnclaimed(deps: IngestDeps, fileJobId: string): Promise<IngestOutcome> {
  const latest = await findFileJob(deps.db, fileJobId);
  if (!latest) throw new AppError('not_found', `ingest job ${fileJobId} does not exist`);
  // A run that died between the commit and removing its staged file left it behind: this run removes it.
  if (latest.stagedPath && deps.staging.owns(latest.stagedPath)) await deps.staging.remove([latest.stagedPath]);
  return outcomeOf(latest);
}

import { fileMetadataOf, type Digest } from './ingest-metadata.js';

export { fileMetadataOf, type Digest };
/** The digest of the staged bytes and the file that holds them, or null when they are already in the blob store. */
export type StagedDigest = Digest & { source: string | null; hashed?: boolean };

/**
 * The staged bytes' digest: the one the API recorded, or hashed in the pool (by path: the staged file, or this host's
 * copy of a staged object; staged-digest.ts). A staged upload can be gone only if an earlier run of this job got
 * past the commit, or crashed after moving it; both are settled from the database (an outcome, or the digest of
 * the bytes already in the blob store).
 */
export async function hashStaged(deps: IngestDeps, job: FileJob, copy: StagedCopy | null): Promise<StagedDigest | IngestOutcome> {
  try {
    if (copy) return { ...(await digestOfStaged(deps.hashPool, job, copy.path)), source: copy.path };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // A scratch copy that vanished says nothing of the staged object: this run stops, the next fetches again.
    if (copy!.path !== job.stagedPath) throw new AppError('unavailable', "this worker's copy of the staged upload vanished; the job runs again");
  }
  const latest = await getFileJob(deps.db, job.id);
  if (isFinalState(latest.state)) return outcomeOf(latest);
  const stored = latest.sha256 ? await deps.blobStore.stat(latest.sha256) : null;
  if (!latest.sha256 || !stored || stored.size !== Number(latest.size)) {
    throw new AppError('staged_file_missing', 'the staged upload is gone and its bytes are not in the blob store');
  }
  return { sha256: latest.sha256, size: stored.size, source: null };
}

/** What the client declared must match what arrived; a mismatch is final (no retry) and nothing becomes visible. */
export function assertDeclaredDigest(job: FileJob, digest: Digest): void {
  if (digest.size !== Number(job.size)) {
    throw new AppError('checksum_mismatch', `staged size ${digest.size} differs from the received size ${job.size}`);
  }
  if (job.declaredSha256 && job.declaredSha256 !== digest.sha256) {
    throw new AppError('checksum_mismatch', `declared sha256 ${job.declaredSha256} does not match the received bytes (${digest.sha256})`, {
      expected: job.declaredSha256,
      actual: digest.sha256,
    });
  }
}

/**
 * Job `committing` and its WAL entry pending before the blob store changes (one entry per job: a rerun continues
 * the same entry). A client-chosen file id already taken fails before anything is written under it.
 */
export async function prepareCommit(
  deps: IngestDeps,
  job: FileJob,
  digest: Digest,
  walPayload: Record<string, unknown>,
): Promise<Extract<PreparedCommit, { kind: 'final' | 'ready' }>> {
  let prepared = await prepareIngestCommit(deps.db, job, digest.sha256, WAL_OPERATION, walPayload);
  if (prepared.kind === 'blob-in-gc') {
    // GC has decided to remove these bytes: help it finish (every GC step is idempotent), then store them anew
    // from the staged copy. A GC run that died half-way would otherwise hold this job until recovery.
    await runBlobGc(deps, digest.sha256);
    prepared = await prepareIngestCommit(deps.db, job, digest.sha256, WAL_OPERATION, walPayload);
  }
  if (prepared.kind === 'file-id-taken') throw fileIdTaken(job.fileId);
  if (prepared.kind === 'blob-in-gc') throw new BlobInGcError(digest.sha256);
  return prepared;
}

/** The job's staged upload (null once an earlier run moved it), refused when it is not one of the staging's own. */
export function assertOwnStagedUpload(deps: Pick<IngestDeps, 'staging'>, job: FileJob): string | null {
  const staged = job.stagedPath;
  if (staged && !deps.staging.owns(staged)) {
    throw new AppError('validation_failed', 'staged path is outside the staging area');
  }
  return staged;
}

/** Where the commit puts the file (attr.json, blob key) and the WAL payload that lets recovery find it all. */
export function commitPlanOf(deps: Pick<IngestDeps, 'blobStore'>, job: FileJob, digest: Digest) {
  const attrPath = attrRelativePath(job.fileId, job.createdAt);
  const storageKey = deps.blobStore.keyFor(digest.sha256);
  const walPayload = { fileId: job.fileId, sha256: digest.sha256, size: digest.size, attrPath, storageKey, stagedPath: job.stagedPath };
  return { attrPath, storageKey, walPayload };
}

/**
 * Step 4: the verified staged bytes into the blob store, from the very file that was hashed. A local staged file
 * is fsynced already (the API did), so a store that links it need not sync it again.
 */
export async function putStaged(deps: Pick<IngestDeps, 'blobStore' | 'staging'>, sha256: string, source: string, existing: PutOptions['existing']): Promise<PutResult> {
  return deps.blobStore.put(sha256, source, { existing, sourceDurable: deps.staging.backend === 'local' });
}

/**
 * No staged bytes are left (an earlier run stored them and crashed before its commit): the stored bytes stand in
 * for them only when nothing says they are bad. Bytes the records want replaced (a corrupt blob) are refused.
 */
export function refuseUnvouched(existing: PutOptions['existing']): null {
  if (existing === 'replace') throw new AppError('staged_file_missing', 'the staged upload is gone and the stored bytes under its digest are not vouched for');
  return null;
}

/** This host's copy of the job's staged bytes (null when there are none), released by the caller on every path. */
export async function copyStaged(deps: Pick<IngestDeps, 'staging'>, staged: string | null): Promise<StagedCopy | null> {
  return staged ? deps.staging.localCopy(staged) : null;
}

/** A commit that wrote nothing for a reason that is this job's error. */
export function assertCommitted(
  committed: CommitResult,
  meta: FileMetadata,
): asserts committed is Extract<CommitResult, { kind: 'committed' | 'lost' }> {
  if (committed.kind === 'file-id-taken') throw fileIdTaken(meta.id);
  // Cannot happen while the pending entry pins the blob; kept so a GC that ignored the pin still cannot win.
  if (committed.kind === 'blob-in-gc') throw new BlobInGcError(meta.sha256);
}

/**
 * Runs an ingest job to a final state: hash, verify, WAL pending, blob, attr.json, then metadata + WAL committed
 * in one statement. Throws AppError (permanent or transient) or infrastructure errors.
 */
export async function runIngestJob(deps: IngestDeps, fileJobId: string, report: ProgressReporter): Promise<IngestOutcome> {
  const job = await claimOrSettle(deps, fileJobId);
  if ('ranNow' in job) return job;
  const staged = assertOwnStagedUpload(deps, job);
  const copy = await copyStaged(deps, staged);
  try {
    return await ingestClaimed(deps, job, staged, copy, report);
  } finally {
    // A copy that cannot be removed is the scratch sweep's later; it never changes the job's outcome.
    await copy?.release().catch((err: unknown) => deps.logger.warn({ err, jobId: job.id }, 'could not remove a scratch copy of a staged upload'));
  }
}

/** runIngestJob's steps once the job is claimed and its bytes are on this host. */
async function ingestClaimed(deps: IngestDeps, job: FileJob, staged: string | null, copy: StagedCopy | null, report: ProgressReporter): Promise<IngestOutcome> {
  const { db, attrStore } = deps;
  const progress = Number(job.size) >= PROGRESS_MIN_BYTES ? report : async () => {};
  await progress(10);

  // 1. Hash, 2. verify.
  const hashStart = performance.now();
  const digest = await hashStaged(deps, job, copy);
  if ('ranNow' in digest) return digest;
  // Time in the hash pool only: a digest the API recorded took none (hash_seconds_total pairs with hashed_bytes_total).
  const hashSeconds = digest.hashed ? (performance.now() - hashStart) / 1_000 : 0;
  await deps.crashPoint?.('after-hash');
  assertDeclaredDigest(job, digest);
  // An upload staged before a switch to ro/ar is not committed (SPEC §4).
  assertModeAllows(await deps.modes.current(), 'upload');

  // 3. Job committing, WAL entry pending.
  const { attrPath, storageKey, walPayload } = commitPlanOf(deps, job, digest);
  const prepared = await prepareCommit(deps, job, digest, walPayload);
  if (prepared.kind === 'final') return latestOutcome(db, job.id);
  await progress(50);
  await deps.crashPoint?.('after-wal');

  // 4. The blob (content-addressed; the pending WAL entry keeps GC off it until the commit) and 5. the attr.json.
  const put = digest.source ? await putStaged(deps, digest.sha256, digest.source, prepared.existingBlob) : refuseUnvouched(prepared.existingBlob);
  await deps.crashPoint?.('after-blob');
  const meta = fileMetadataOf(job, digest, deps.config.elementId);
  await attrStore.write(attrPath, toAttrRecord(meta, storageKey));
  await deps.crashPoint?.('after-attr');
  await progress(80);
  await deps.crashPoint?.('before-commit');

  // 6. Metadata, blob reference and WAL committed in one statement (no I/O inside it).
  const committed = await commitIngest(db, job.id, prepared.wal.id, meta, attrPath, storageKey, put?.repaired ?? false, ingestEvent(job, meta));
  assertCommitted(committed, meta);
  await deps.staging.remove(staged ? [staged] : []);
  if (committed.kind === 'lost') return latestOutcome(db, job.id);
  return { state: committed.state, fileId: meta.id, sha256: digest.sha256, size: digest.size, blobCreated: put?.created ?? false, ranNow: true, hashSeconds, hashedBytes: digest.hashed ? digest.size : 0 };
}

/**
 * Ends an ingest job as failed: job row, WAL entry, attr.json and staged file. The attr.json is removed inside
 * the transaction that fails the job (only when no file row was committed for it): until that transaction ends
 * the job still claims its file id, so a new upload with the same client-chosen id cannot have written one yet.
 * A blob written by this job stays for recovery/GC, which own unreferenced blobs. False when the job was final
 * already (another run of it committed it, say): nothing changed.
 */
export async function failIngest(deps: Pick<IngestDeps, 'db' | 'attrStore' | 'staging' | 'logger'>, fileJobId: string, code: string, message: string): Promise<boolean> {
  const { db } = deps;
  const failed = await failJobWithWal(db, fileJobId, WAL_OPERATION, code, message, async (tx, job, walWasPending) => {
    if (!walWasPending || (await fileRowExists(tx, job.fileId))) return;
    // A disk that refuses the unlink must not keep the job from becoming final. The leftover attr.json is logged:
    // until it is removed by hand, rebuild-index would restore it as a file while its blob is still stored.
    await deps.attrStore.remove(attrRelativePath(job.fileId, job.createdAt)).catch((err: unknown) => {
      deps.logger.error({ err, jobId: job.id }, 'could not remove the attr.json of a failed ingest');
    });
  });
  if (!failed) return false;
  const { job } = failed;
  if (job.stagedPath) {
    await deps.staging.remove([job.stagedPath]);
    await clearStagedPath(db, job.id);
  }
  return true;
}
