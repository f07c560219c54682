// Worker-side file jobs: apply a metadata patch, finish a deletion. attr.json and the row change together.
import { metadataUpdateEvent } from './audit-events.js';
import type { RedisConnection } from '../redis.js';
import type { Config, Mode } from '../config.js';
import type { Db, Prisma } from '../records/database.js';
import { latestModeForCommit } from '../records/element-state.js';
import { patchFileAtRevision, releaseBlobReference } from '../records/file-commits.js';
import { findFileRow, findLiveFileRow, keepFileDeleted, toFileMetadata, type FileRow } from '../records/files.js';
import { advanceFileJob, findFileJob, getFileJob, type FileJob } from '../records/file-jobs.js';
import { commitWalEntry, failJobWithWal, prepareWalEntry, type WalOperation } from '../records/wal.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { EnqueueConfig, Queues } from '../queues.js';
import { toAttrRecord, type AttrStore } from '../storage/attr-files.js';
import type { BlobStore } from '../storage/blob-store.js';
import { type FileMetadata } from '../../contract/files.js';
import type { MetadataPatch } from './file-requests.js';
import { isFinalState } from '../../contract/jobs.js';
import { assertModeAllows, type ModeReader } from './modes.js';
import { announceFileChange } from './file-changes.js';
import { applyRetentionChange, type RetentionChange } from './retention-rules.js';
import { laterRetentionChangeCommitted } from '../records/retention-jobs.js';

export type { WalOperation };

export interface FileJobDeps {
  db: Db;
  config: EnqueueConfig & Pick<Config, 'queuePrefix'>;
  blobStore: BlobStore;
  attrStore: AttrStore;
  /** Announces committed patches (file-changes.ts): downloads cache the row they serve headers from. */
  connection?: RedisConnection;
  queues: Queues;
  logger: Logger;
  modes: Pick<ModeReader, 'current'>;
  /** Test hook: awaited just before an update's commit transaction (to switch the mode at that exact step). */
  beforeUpdateCommit?: (jobId: string) => Promise<void>;
  /** Test hook: awaited between a delete's WAL prepare and its attr.json tombstone. */
  beforeDeleteTombstone?: (jobId: string) => Promise<void>;
}

export interface FileJobOutcome {
  state: 'committed' | 'failed';
  fileId: string;
  ranNow: boolean;
}

class RevisionMoved extends Error {}

/**
 * The persisted mode, read under a shared hold of the lock changeMode takes exclusively: a patch commits either
 * before a mode change or sees it, never in between.
 */
async function modeInTransaction(tx: Prisma.TransactionClient): Promise<Mode> {
  const mode = await latestModeForCommit(tx);
  if (!mode) throw new AppError('conflict', 'the element has no persisted mode yet');
  return mode;
}

const outcome = (job: FileJob, ranNow: boolean): FileJobOutcome => ({
  state: job.state === 'failed' ? 'failed' : 'committed',
  fileId: job.fileId,
  ranNow,
});

async function loadOpenJob(db: Db, id: string): Promise<FileJob | FileJobOutcome> {
  const job = await findFileJob(db, id);
  if (!job) throw new AppError('not_found', `job ${id} does not exist`);
  if (isFinalState(job.state) || !(await advanceFileJob(db, id, { state: 'committing', progress: 50, attempts: { increment: 1 } }))) {
    return outcome(await getFileJob(db, id), false);
  }
  return job;
}

async function writeAttrFromRow(deps: FileJobDeps, row: FileRow, extra: { deletedAt?: string } = {}): Promise<void> {
  const meta = toFileMetadata(row);
  await deps.attrStore.write(row.attrPath, { ...toAttrRecord(meta, deps.blobStore.keyFor(meta.sha256)), ...extra });
}

function applyPatch(meta: FileMetadata, patch: MetadataPatch, now: Date): FileMetadata {
  return {
    ...meta,
    ...(patch.description !== undefined ? { description: patch.description } : {}),
    ...(patch.version !== undefined ? { version: patch.version } : {}),
    ...(patch.tags !== undefined ? { tags: patch.tags } : {}),
    ...(patch.metadata !== undefined ? { metadata: patch.metadata } : {}),
    revision: meta.revision + 1,
    updatedAt: now.toISOString(),
  };
}

/**
 * Applies an 'update' job: WAL pending, attr.json rewritten atomically with the new revision, then the row and
 * WAL committed in one transaction guarded by the revision. If the revision moved meanwhile, attr.json is
 * restored from the row; with If-Match that is a 412, without it the patch is applied again on top.
 */
export async function runMetadataUpdate(deps: FileJobDeps, jobId: string): Promise<FileJobOutcome> {
  const { db } = deps;
  const loaded = await loadOpenJob(db, jobId);
  if (!('params' in loaded)) return loaded;
  const job = loaded;
  const params = job.params as unknown as { patch: MetadataPatch; expectedRevision: number | null; retention?: RetentionChange };
  // A legal hold may be set and released in every mode (modes.ts); everything else is a patch.
  const op = params.retention?.kind === 'legal-hold' ? 'hold' : 'patch';
  for (let round = 0; ; round++) {
    const row = await findLiveFileRow(db, job.fileId);
    if (!row) throw new AppError('not_found', `file ${job.fileId} no longer exists`);
    // A hold released (or a retention set) by a request older than one already applied must not undo it: the later
    // request was answered as applied. Any commit of that later job moved the revision, so this round re-checks it.
    if (params.retention && (await laterRetentionChangeCommitted(db, job, params.retention.kind))) {
      throw new AppError('conflict', `a later ${params.retention.kind} change of file ${job.fileId} was applied first; this older one is not applied`);
    }
    if (params.expectedRevision !== null && row.revision !== params.expectedRevision) {
      throw new AppError('precondition_failed', `the file moved to revision ${row.revision}; If-Match named ${params.expectedRevision}`);
    }
    // A patch queued in rw is not applied after a switch to ro/ar (SPEC §4); checked before attr.json changes.
    assertModeAllows(await deps.modes.current(), op);
    const now = new Date();
    const patched = applyPatch(toFileMetadata(row), params.patch, now);
    // Judged against the row this round read: a change that raced in moves the revision, and the next round judges again.
    const next = params.retention ? { ...patched, ...applyRetentionChange(patched, params.retention, now) } : patched;
    const wal = await prepareWalEntry(db, {
      operation: 'file_update',
      job,
      payload: {
        fileId: row.id,
        fromRevision: row.revision,
        patch: params.patch as Prisma.InputJsonObject,
        ...(params.retention ? { retention: params.retention } : {}),
      },
    });
    await deps.attrStore.write(row.attrPath, toAttrRecord(next, deps.blobStore.keyFor(next.sha256)));
    await deps.beforeUpdateCommit?.(job.id);
    try {
      const audit = [metadataUpdateEvent(job, row, next, Object.keys(params.patch), params.retention)];
      const done = await commitWalEntry(db, wal.id, { jobId: job.id, audit }, async (tx) => {
        // The cached mode can be up to a second old: the commit re-reads it, serialised with mode changes.
        assertModeAllows(await modeInTransaction(tx), op);
        if (!(await patchFileAtRevision(tx, row, next))) throw new RevisionMoved();
      });
      if (done) await announceFileChange(deps.connection, deps.config.queuePrefix, { fileId: row.id }, deps.logger);
      return outcome(done ? { ...job, state: 'committed' } : await getFileJob(db, job.id), done !== null);
    } catch (err) {
      if (!(err instanceof RevisionMoved)) throw err;
      // Another patch won the race: put attr.json back in step with the row before deciding.
      const current = await findFileRow(db, row.id);
      if (current) await writeAttrFromRow(deps, current, current.deletedAt ? { deletedAt: current.deletedAt.toISOString() } : {});
      if (params.expectedRevision !== null || round >= 3) {
        throw new AppError('precondition_failed', 'the file changed while the patch was applied');
      }
    }
  }
}

/**
 * Finishes a 'delete' job (the API already hid the file): WAL pending, attr.json tombstoned, then the blob's
 * reference count released with the WAL committed.
 */
export async function runDelete(deps: FileJobDeps, jobId: string): Promise<FileJobOutcome> {
  const { db } = deps;
  const loaded = await loadOpenJob(db, jobId);
  if (!('params' in loaded)) return loaded;
  const job = loaded;
  const row = await findFileRow(db, job.fileId);
  if (!row?.deletedAt) throw new AppError('conflict', `file ${job.fileId} is not marked deleted`);
  const details = job.params as Prisma.InputJsonObject;
  const wal = await prepareWalEntry(db, { operation: 'file_delete', job, payload: { ...details, fileId: row.id, sha256: row.sha256, attrPath: row.attrPath } });
  await deps.beforeDeleteTombstone?.(job.id);
  const deletedAt = row.deletedAt;
  await writeAttrFromRow(deps, row, { deletedAt: deletedAt.toISOString() });
  // Not while a full rebuild recounts references: it counts this file's reference as held until this commit.
  const released = await commitWalEntry(db, wal.id, { jobId: job.id, holdMaintenanceShared: true }, async (tx) => {
    await keepFileDeleted(tx, row.id, deletedAt);
    return releaseBlobReference(tx, row.sha256);
  });
  // Another run settled the entry first (or the blob has no row): report the job as it stands.
  if (!released?.value) return outcome(await getFileJob(db, job.id), false);
  // A blob left without references is removed by the GC sweep once its grace period has passed.
  return { state: 'committed', fileId: job.fileId, ranNow: true };
}

/**
 * Ends an update or delete job as failed. An update's attr.json is put back in step with the row before the job
 * turns final, so whoever sees the failure finds the two agreeing.
 */
export async function failFileJob(deps: FileJobDeps, jobId: string, operation: WalOperation, code: string, message: string): Promise<void> {
  await failJobWithWal(deps.db, jobId, operation, code, message, async (tx, job, walWasPending) => {
    if (!walWasPending || operation !== 'file_update') return;
    const row = await findFileRow(tx, job.fileId);
    if (!row) return;
    // A disk that refuses the write must not keep the job from becoming final: attr.json and row then differ
    // until the next update of the file or a rebuild, which is logged; the job's outcome is not held hostage.
    await writeAttrFromRow(deps, row, row.deletedAt ? { deletedAt: row.deletedAt.toISOString() } : {}).catch((err: unknown) => {
      deps.logger.error({ err, jobId: job.id, fileId: row.id }, 'could not put attr.json back in step with the row of a failed update');
    });
  });
}
