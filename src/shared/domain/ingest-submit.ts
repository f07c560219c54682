// Turning staged uploads into ingest jobs: one database transaction (with Idempotency-Key replay), then enqueue.
// Concurrent uploads share the INSERT and the enqueue (group commit), so their cost is paid per group, not per file.
import { jobActorParams } from '../records/audit-actors.js';
import { randomUUID } from 'node:crypto';
import { isUniqueViolation, type Db } from '../records/database.js';
import {
  detachIdempotencyKey,
  FILE_ID_CLAIM,
  insertIngestJobs,
  isFileIdClaimed,
  selectJobsOfIdempotencyKey,
  selectStagedPathOwners,
  type FileJob,
  type IngestJobOwner,
  type NewIngestJob,
} from '../records/file-jobs.js';
import { AppError } from '../errors.js';
import { GroupCommit } from '../group-commit.js';
import type { Logger } from '../logger.js';
import type { IngestEnqueueConfig, Queues } from '../queues.js';
import { assignQueueJobs, enqueueIngestJobs } from './ingest-queue-jobs.js';
import { removeStagedFiles } from '../storage/staging.js';
import type { StagingStore } from '../storage/staging-store.js';
import { isOutageError } from '../outage.js';
import { isFinalState } from '../../contract/jobs.js';
import type { Principal } from './principal.js';
import { assertMayHold, type UploadRetention } from './retention-rules.js';

export const IDEMPOTENCY_WINDOW_MS = 24 * 3_600 * 1_000;

export interface StagedUpload {
  /** The upload's file in STAGING_PATH as the route wrote it (the staging publishes it before its job is recorded). */
  stagedPath: string;
  fileName: string;
  contentType: string;
  size: number;
  /** sha256 of the staged bytes, hashed as they were written (absent: the worker hashes the staged file). */
  sha256?: string;
}

export interface UploadFields {
  description?: string;
  version?: string;
  tags: string[];
  metadata: Record<string, unknown>;
  /** Expected sha256 of each file, in the order of the parts (one digest per file). */
  sha256?: string[];
  fileId?: string;
  /** Absent: permanent, no retain-until, no hold. */
  retention?: UploadRetention;
}

export interface SubmitDeps {
  db: Db;
  queues: Queues;
  config: IngestEnqueueConfig;
  staging: StagingStore;
  logger: Logger;
  /** Test hook: runs right after the jobs' INSERT committed (a connection lost before its answer is simulated here). */
  afterRecord?: () => Promise<void>;
}

export interface SubmitResult {
  jobs: FileJob[];
  /** true when an earlier request with the same Idempotency-Key already created these jobs. */
  replayed: boolean;
}

/**
 * Records one ingest job per staged file and enqueues them after the commit. The staged files belong to the
 * jobs from then on; on every path that creates no job (replay, conflict, error) they are removed here, except
 * when an outage leaves it unknown whether the jobs were recorded (then they are settled once the database answers).
 */
export async function submitUpload(
  deps: SubmitDeps,
  principal: Principal,
  staged: StagedUpload[],
  fields: UploadFields,
  idempotencyKey?: string,
): Promise<SubmitResult> {
  let result: SubmitResult;
  // The local files until the staging has published them, then what the job rows record.
  let refs = staged.map((s) => s.stagedPath);
  let published = false;
  try {
    if (staged.length === 0) throw new AppError('validation_failed', "no file: send one or more parts named 'file'");
    if (staged.length > 1 && fields.fileId) {
      throw new AppError('validation_failed', "'fileId' applies to a single file; send one file per request", { parameter: 'fileId' });
    }
    if (fields.retention?.legalHold) assertMayHold(principal);
    if (fields.sha256 && fields.sha256.length !== staged.length) {
      throw new AppError('validation_failed', `'sha256' lists ${fields.sha256.length} digests for ${staged.length} files; give one per file, in order`, {
        parameter: 'sha256',
      });
    }
    // Durable and readable by every worker host before a job row (and the 202) vouches for them; the staging
    // removes them itself when it cannot.
    refs = await deps.staging.publish(refs);
    published = true;
    const files = staged.map((s, i) => ({ ...s, stagedPath: refs[i]! }));
    result = await recordJobs(deps.db, deps.config.ingestJobFilesMax, principal, files, fields, idempotencyKey);
    await deps.afterRecord?.();
  } catch (err) {
    if (!published) {
      await removeStagedFiles(refs);
    } else if (isOutageError(err)) {
      // The connection dropped around the INSERT: it may have committed, and then these files are the jobs'
      // only copy (the client's retry will be answered by a replay). Keep them until the database can tell.
      settleAfterOutage(deps, refs);
    } else {
      await deps.staging.remove(refs);
    }
    throw err;
  }
  if (result.replayed) {
    await deps.staging.remove(refs);
    // The first request may have died between its INSERT and its enqueue: make sure its unfinished jobs run
    // (adding a job id BullMQ still holds is a no-op).
    await enqueueJobs(deps, result.jobs.filter((j) => !isFinalState(j.state)));
    return result;
  }
  await enqueueJobs(deps, result.jobs);
  return result;
}

/** Jobs per addBulk and rows per INSERT of a group: bounds a group's statement, not how many uploads wait. */
const MAX_GROUP_JOBS = 500;

type Enqueuer = GroupCommit<FileJob[], void>;
const enqueuers = new WeakMap<Queues, Enqueuer>();

/**
 * Enqueues the BullMQ jobs that carry these rows (an 'ingest-batch' per group of small files recorded together, an
 * 'ingest-file' per large file), sharing one addBulk with concurrent uploads.
 */
async function enqueueJobs(deps: SubmitDeps, jobs: FileJob[]): Promise<void> {
  if (jobs.length === 0) return;
  let enqueuer = enqueuers.get(deps.queues);
  if (!enqueuer) {
    const { queues, config, logger } = deps;
    const flush = async (groups: FileJob[][]): Promise<Array<PromiseSettledResult<void>>> => {
      const all = groups.flat();
      try {
        await enqueueIngestJobs(queues, config, all);
      } catch (err) {
        // The jobs are durable in PostgreSQL; the worker's requeue sweep enqueues them once Redis answers again.
        logger.warn({ err, jobIds: all.map((j) => j.id) }, 'enqueue failed; jobs stay queued for the requeue sweep');
      }
      return groups.map(() => ({ status: 'fulfilled', value: undefined }));
    };
    enqueuers.set(deps.queues, (enqueuer = new GroupCommit(flush, { maxSize: MAX_GROUP_JOBS, sizeOf: (jobs) => jobs.length })));
  }
  await enqueuer.submit(jobs);
}

export type PendingUpload = { owner: IngestJobOwner; jobs: NewIngestJob[] };
type Recorder = GroupCommit<PendingUpload, FileJob[]>;
const recorders = new WeakMap<Db, Recorder>();

/** Records one upload's jobs, in one INSERT with the uploads that arrive while the previous INSERT runs. */
function recordInGroup(db: Db, maxFilesPerQueueJob: number, upload: PendingUpload): Promise<FileJob[]> {
  let recorder = recorders.get(db);
  const record = (uploads: PendingUpload[]) => recordUploadGroup(db, uploads, maxFilesPerQueueJob);
  if (!recorder) recorders.set(db, (recorder = new GroupCommit(record, { maxSize: MAX_GROUP_JOBS, sizeOf: (u) => u.jobs.length })));
  return recorder.submit(upload);
}

/**
 * One INSERT (one transaction) for the group; its small files share 'ingest-batch' jobs of up to maxFilesPerQueueJob. When it fails for any reason but an outage nothing was recorded,
 * and each upload is tried on its own, so that one upload's fault stays its own. After an outage it is unknown
 * whether the group committed: every upload in it learns so, as a lone upload would (and settles its files).
 */
export async function recordUploadGroup(db: Db, uploads: PendingUpload[], maxFilesPerQueueJob: number): Promise<Array<PromiseSettledResult<FileJob[]>>> {
  try {
    return (await insertIngestJobs(db, assignQueueJobs(uploads, maxFilesPerQueueJob))).map((value) => ({ status: 'fulfilled', value }));
  } catch (err) {
    if (uploads.length === 1 || isOutageError(err)) throw err;
    return Promise.allSettled(uploads.map(async (u) => (await insertIngestJobs(db, assignQueueJobs([u], maxFilesPerQueueJob)))[0]!));
  }
}

const SETTLE_RETRY_MS = 5_000;
const SETTLE_FOR_MS = 15 * 60_000;

/**
 * Staged files of uploads interrupted by an outage around their INSERT, settled once the database answers: those
 * no job row names are removed, the others belong to their (recorded) jobs. One loop per database client however
 * many uploads failed; after SETTLE_FOR_MS without an answer the rest is left to the staging janitor's age limit.
 */
class OutageSettler {
  private readonly paths = new Set<string>();
  private running?: Promise<void>;

  constructor(private readonly deps: SubmitDeps) {}

  add(stagedPaths: string[]): void {
    for (const p of stagedPaths) this.paths.add(p);
    this.running ??= this.loop().finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    const deadline = Date.now() + SETTLE_FOR_MS;
    while (this.paths.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_RETRY_MS).unref());
      const batch = [...this.paths];
      try {
        const owned = new Set((await selectStagedPathOwners(this.deps.db, batch)).map((o) => o.stagedPath));
        await this.deps.staging.remove(batch.filter((p) => !owned.has(p)));
        for (const p of batch) this.paths.delete(p);
        this.deps.logger.info({ owned: owned.size, removed: batch.length - owned.size }, 'staged files of uploads interrupted by an outage settled');
      } catch (err) {
        if (isOutageError(err)) continue;
        this.deps.logger.warn({ err }, 'settling staged files after an outage failed; the staging janitor will');
        break;
      }
    }
    this.paths.clear();
  }
}

const settlers = new WeakMap<Db, OutageSettler>();

function settleAfterOutage(deps: SubmitDeps, stagedPaths: string[]): void {
  let settler = settlers.get(deps.db);
  if (!settler) settlers.set(deps.db, (settler = new OutageSettler(deps)));
  settler.add(stagedPaths);
}

/**
 * Plain SQL, no interactive transaction: each statement is atomic on its own and the unique (principal, key,
 * index) constraint settles racing replays, so an upload costs one INSERT ... RETURNING (plus a lookup with a key),
 * shared with concurrent uploads when it has neither key nor file id.
 */
async function recordJobs(
  db: Db,
  maxFilesPerQueueJob: number,
  principal: Principal,
  staged: StagedUpload[],
  fields: UploadFields,
  idempotencyKey?: string,
): Promise<SubmitResult> {
  try {
    if (idempotencyKey) {
      const earlier = await selectJobsOfIdempotencyKey(db, principal.sub, idempotencyKey);
      if (earlier.length > 0 && earlier[0]!.createdAt.getTime() > Date.now() - IDEMPOTENCY_WINDOW_MS) {
        return { jobs: earlier, replayed: true };
      }
      // Past the window the key is free again: detach it from the old jobs.
      if (earlier.length > 0) await detachIdempotencyKey(db, principal.sub, idempotencyKey);
    }
    if (fields.fileId && (await isFileIdClaimed(db, fields.fileId))) {
      throw new AppError('conflict', `file id ${fields.fileId} already exists`, { parameter: 'fileId' });
    }
    const params = {
      description: fields.description ?? null, version: fields.version ?? null, tags: fields.tags, metadata: fields.metadata,
      // Audit trail (issue 17): the requester's role, token type and origin, for the ingest's events.
      actor: { ...jobActorParams(principal) },
      ...(fields.retention ? { retention: fields.retention } : {}),
    };
    const owner = { principal: principal.sub, principalName: principal.name ?? null, idempotencyKey: idempotencyKey ?? null, params };
    const upload: PendingUpload = {
      owner,
      jobs: staged.map((s, index) => ({
        batchIndex: index,
        fileName: s.fileName,
        contentType: s.contentType,
        size: s.size,
        stagedPath: s.stagedPath,
        fileId: fields.fileId ?? randomUUID(),
        declaredSha256: fields.sha256?.[index] ?? null,
        stagedSha256: s.sha256 ?? null,
      })),
    };
    // A key or a client-chosen file id may meet a unique violation of its own: such uploads keep their own statement.
    const jobs =
      idempotencyKey || fields.fileId
        ? (await insertIngestJobs(db, assignQueueJobs([upload], maxFilesPerQueueJob)))[0]!
        : await recordInGroup(db, maxFilesPerQueueJob, upload);
    return { jobs, replayed: false };
  } catch (err) {
    // Two requests raced with the same key: the loser answers with the winner's jobs.
    if (idempotencyKey && isUniqueViolation(err)) {
      const jobs = await selectJobsOfIdempotencyKey(db, principal.sub, idempotencyKey);
      if (jobs.length > 0) return { jobs, replayed: true };
    }
    // Another upload claimed the same client-chosen file id between the check above and this insert.
    if (fields.fileId && isUniqueViolation(err, FILE_ID_CLAIM)) {
      throw new AppError('conflict', `file id ${fields.fileId} already exists`, { parameter: 'fileId' });
    }
    throw err;
  }
}
