// WAL recovery: pending entries older than the lease are rolled forward (their job runs again, idempotently)
// or back (what they wrote to the blob store is removed), so blob store, attr.json and database agree.
import type { Config } from '../config.js';
import { fileRowExists, findFileRow, toFileMetadata } from '../records/files.js';
import { findFileJob, reopenFileJob, type FileJob } from '../records/file-jobs.js';
import { selectStalePendingWalEntries, settlePendingWalEntry, type WalEntry } from '../records/wal.js';
import type { Db } from '../records/database.js';
import type { Logger } from '../logger.js';
import { enqueue, fileJobPayload, type EnqueueConfig, type JobName, type Queues } from '../queues.js';
import { toAttrRecord, type AttrStore } from '../storage/attr-files.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { StagingStore } from '../storage/staging-store.js';
import { runBlobGc } from './blob-gc.js';
import { adoptUnrecordedBlobs } from './blob-orphans.js';
import { isFinalState } from '../../contract/jobs.js';

export interface RecoveryDeps {
  db: Db;
  config: Pick<Config, 'walLeaseSeconds' | 'gcGraceSeconds'> & EnqueueConfig;
  blobStore: BlobStore;
  attrStore: AttrStore;
  staging: StagingStore;
  queues: Queues;
  logger: Logger;
}

export interface RecoveryReport {
  rolledForward: number;
  rolledBack: number;
}

const JOB_OF_OPERATION: Record<string, JobName> = {
  file_create: 'ingest-file',
  file_update: 'update-metadata',
  file_delete: 'delete-file',
};

type Payload = { fileId?: string; sha256?: string; attrPath?: string; stagedPath?: string | null };

/**
 * Undoes a file_create that will never commit: its attr.json, its staged file, and the pin on its blob. Bytes
 * it stored that no row describes are adopted as an unreferenced blob, which GC removes after the grace period
 * unless another ingest takes them first: deleting them here could race an ingest that found them present.
 */
async function rollBackCreate(deps: RecoveryDeps, entry: WalEntry, job: FileJob | null): Promise<void> {
  const p = entry.payload as Payload;
  if (!(await settlePendingWalEntry(deps.db, entry, 'rolled_back', 'recovery: the ingest ended without a commit'))) return;
  if (p.fileId && p.attrPath && job && !(await fileRowExists(deps.db, p.fileId))) {
    // The job's file id is no longer claimed: a newer upload with the same client-chosen id may have written
    // the attr.json at the same path since. Only this job's own record goes.
    const record = await deps.attrStore.read(p.attrPath).catch(() => null);
    if (record && record.createdAt === job.createdAt.toISOString()) await deps.attrStore.remove(p.attrPath);
  }
  if (p.sha256) await adoptUnrecordedBlobs(deps, [p.sha256]);
  if (job?.stagedPath) await deps.staging.remove([job.stagedPath]);
}

/** Settles one stale entry: rolled forward (its job or GC run continues) or back. */
async function recoverEntry(deps: RecoveryDeps, entry: WalEntry): Promise<'forward' | 'back'> {
  const { db } = deps;
  const job = entry.jobId ? await findFileJob(db, entry.jobId) : null;
  const jobName = JOB_OF_OPERATION[entry.operation];
  if (entry.operation === 'blob_gc') {
    // GC marked the blob before touching its bytes: finishing the run is always safe.
    const sha256 = (entry.payload as Payload).sha256;
    if (sha256) await runBlobGc(deps, sha256);
    await settlePendingWalEntry(db, entry, 'rolled_back', 'recovery: superseded by a completed GC run');
    return 'forward';
  }
  if (jobName && job && (!isFinalState(job.state) || entry.operation === 'file_delete')) {
    // The job can still finish: run it again (every step is idempotent). A deletion is always finished,
    // since readers already see the file as gone.
    if (isFinalState(job.state)) await reopenFileJob(db, job.id);
    await enqueue(deps.queues, deps.config, jobName as 'ingest-file', [{ id: `${job.id}-recovery-${entry.id}`, payload: fileJobPayload(job) }]);
    return 'forward';
  }
  if (entry.operation === 'file_create') {
    await rollBackCreate(deps, entry, job);
  } else if (entry.operation === 'file_update') {
    // The row was never changed: make attr.json say what the row says.
    const fileId = (entry.payload as Payload).fileId ?? entry.fileId;
    const row = fileId ? await findFileRow(db, fileId) : null;
    if (row) {
      await deps.attrStore.write(row.attrPath, {
        ...toAttrRecord(toFileMetadata(row), deps.blobStore.keyFor(row.sha256)),
        ...(row.deletedAt ? { deletedAt: row.deletedAt.toISOString() } : {}),
      });
    }
    await settlePendingWalEntry(db, entry, 'rolled_back', 'recovery: the update ended without a commit; attr.json restored from the row');
  } else {
    await settlePendingWalEntry(db, entry, 'rolled_back', `recovery: nothing to continue for ${entry.operation}`);
  }
  return 'back';
}

export async function recoverWal(deps: RecoveryDeps, leaseSeconds = deps.config.walLeaseSeconds): Promise<RecoveryReport> {
  const { logger } = deps;
  const report: RecoveryReport = { rolledForward: 0, rolledBack: 0 };
  const stale = await selectStalePendingWalEntries(deps.db, new Date(Date.now() - leaseSeconds * 1_000), 500);
  for (const entry of stale) {
    try {
      if ((await recoverEntry(deps, entry)) === 'forward') report.rolledForward++;
      else report.rolledBack++;
    } catch (err) {
      logger.error({ err, walId: String(entry.id), operation: entry.operation }, 'WAL recovery of an entry failed; retried next time');
    }
  }
  if (stale.length > 0) logger.info({ ...report, pending: stale.length }, 'WAL recovery settled stale entries');
  return report;
}
