// Steps every file job shares: guarded state moves, its WAL entry, and ending it as failed.
import { randomUUID } from 'node:crypto';
import type { Db } from '../records/database.js';
import { Prisma } from '../records/database.js';
import type { FileJob, WalEntry } from '../db/generated/client.js';
import { FINAL_JOB_STATES } from '../../contract/jobs.js';

export type WalOperation = 'file_create' | 'file_update' | 'file_delete' | 'mode_change' | 'blob_gc';

/**
 * Moves a job between non-final states. Returns false when the job is already final: a concurrent run of the
 * same job finished first, and a late progress update must never overwrite its outcome.
 */
export async function advanceJob(db: Db, id: string, data: Prisma.FileJobUpdateManyMutationInput): Promise<boolean> {
  const { count } = await db.fileJob.updateMany({
    where: { id, state: { notIn: [...FINAL_JOB_STATES] } },
    data: { ...data, updatedAt: new Date() },
  });
  return count === 1;
}

/** The job's WAL entry for operation, created pending on first use (one entry per job and operation). */
export async function pendingWalEntry(
  db: Db,
  job: Pick<FileJob, 'id' | 'fileId' | 'principal'>,
  operation: WalOperation,
  payload: Prisma.InputJsonObject,
): Promise<WalEntry> {
  return db.walEntry.upsert({
    where: { jobId_operation: { jobId: job.id, operation } },
    create: { txId: randomUUID(), operation, status: 'pending', fileId: job.fileId, jobId: job.id, actor: job.principal, payload },
    update: {},
  });
}

/** Inside a commit transaction: locks the WAL row; true while it is still pending (this run may commit). */
export async function lockPendingWal(tx: Prisma.TransactionClient, walId: bigint): Promise<boolean> {
  const [row] = await tx.$queryRaw<Array<{ status: string }>>`SELECT status FROM wal_entries WHERE id = ${walId} FOR UPDATE`;
  return row?.status === 'pending';
}

/** Inside a commit transaction: the WAL entry committed, with its duration. */
export async function commitWal(tx: Prisma.TransactionClient, wal: Pick<WalEntry, 'id' | 'startedAt'>, now = new Date()): Promise<void> {
  await tx.walEntry.update({
    where: { id: wal.id },
    data: { status: 'committed', completedAt: now, durationMs: now.getTime() - wal.startedAt.getTime() },
  });
}

export interface FailedJob {
  job: FileJob;
  /** true when the job's WAL entry was pending (its side effects may need undoing). */
  walWasPending: boolean;
}

/**
 * Ends a job as failed with its WAL entry, unless a concurrent run committed it first (then null).
 * Locks in the commit's order (WAL row, then job row), so the two cannot deadlock.
 */
export async function markJobFailed(
  db: Db,
  jobId: string,
  operation: WalOperation,
  code: string,
  message: string,
  /** Runs inside the transaction, before the job becomes final (undo side effects while the job still owns them). */
  beforeFinal?: (tx: Prisma.TransactionClient, job: FileJob, walWasPending: boolean) => Promise<void>,
): Promise<FailedJob | null> {
  return db.$transaction(async (tx) => {
    const [wal] = await tx.$queryRaw<Array<{ id: bigint; status: string; started_at: Date }>>`
      SELECT id, status, started_at FROM wal_entries WHERE job_id = ${jobId}::uuid AND operation = ${operation} FOR UPDATE`;
    if (wal?.status === 'committed') return null;
    if (beforeFinal) {
      const [current] = await tx.$queryRaw<Array<{ id: string }>>`
        SELECT id FROM file_jobs WHERE id = ${jobId}::uuid AND state <> ALL(${[...FINAL_JOB_STATES]}::text[]) FOR UPDATE`;
      if (!current) return null;
      await beforeFinal(tx, await tx.fileJob.findUniqueOrThrow({ where: { id: jobId } }), wal?.status === 'pending');
    }
    const now = new Date();
    const { count } = await tx.fileJob.updateMany({
      where: { id: jobId, state: { notIn: [...FINAL_JOB_STATES] } },
      data: { state: 'failed', errorCode: code, errorMessage: message.slice(0, 2_000), finishedAt: now, updatedAt: now },
    });
    if (count === 0) return null;
    if (wal?.status === 'pending') {
      await tx.walEntry.update({
        where: { id: wal.id },
        data: { status: 'failed', error: `${code}: ${message}`.slice(0, 2_000), completedAt: now, durationMs: now.getTime() - wal.started_at.getTime() },
      });
    }
    const job = await tx.fileJob.findUniqueOrThrow({ where: { id: jobId } });
    return { job, walWasPending: wal?.status === 'pending' };
  });
}
