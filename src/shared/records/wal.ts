// The WAL protocol (wal_entries), one for ingest, update, delete, GC and mode changes: prepare (a pending entry,
// one per job and operation), side effects outside the database, then commit with effects (the entry locked while
// pending, the change, the entry committed with its duration: one transaction or one statement), or fail (the
// entry and its job together); recovery settles entries left pending past their lease. The statement texts are
// written once here: the transaction flavour runs them through Prisma, the hot-path statements of file-commits.ts
// embed them as CTEs.
import { randomUUID } from 'node:crypto';
import type { WalEntry } from '../db/generated/client.js';
import { Prisma, type Db, type DbClient } from './database.js';
import { getFileJob, lockOpenFileJob, markFileJobCommitted, markFileJobFailed, type FileJob } from './file-jobs.js';
import { inMaintenanceSharedTx } from './maintenance-lock.js';
import { appendAuditEvents } from './audit-events.js';
import { jobFailureEvent } from './audit-job-events.js';
import type { AuditEventInput } from './audit-record.js';

export type { WalEntry };
export type WalOperation = 'file_create' | 'file_update' | 'file_delete' | 'mode_change' | 'blob_gc';
type Tx = Prisma.TransactionClient;

/** A pending entry as prepare returns it. */
export interface PendingWal {
  id: bigint;
  startedAt: Date;
  status: string;
}

/** The protocol's statements; the arguments are SQL expressions (parameters such as `$1::bigint`, CTE names). */
export const WAL_SQL = {
  /** Prepare: a pending entry for a job, unless the job has one for this operation already (then no row). */
  insertPending: (
    from: string,
    v: { txId: string; operation: string; fileId: string; jobId: string; actor: string; payload: string },
    alsoReturning = '',
  ) =>
    `INSERT INTO wal_entries (tx_id, operation, status, file_id, job_id, actor, payload)
      SELECT ${v.txId}, ${v.operation}, 'pending', ${v.fileId}, ${v.jobId}, ${v.actor}, ${v.payload} FROM ${from}
      ON CONFLICT (job_id, operation) DO NOTHING
      RETURNING id, started_at, status${alsoReturning ? `, ${alsoReturning}` : ''}`,
  /** The entry an earlier run of the job prepared. */
  entryOfJob: (jobId: string, operation: string) =>
    `SELECT id, started_at, status FROM wal_entries WHERE job_id = ${jobId} AND operation = ${operation}`,
  /** Commit, first step: the entry locked while it is pending (no row once another run settled it). */
  lockPending: (id: string, alsoFrom = '') =>
    `SELECT w.id, w.started_at FROM wal_entries w${alsoFrom ? `, ${alsoFrom}` : ''} WHERE w.id = ${id} AND w.status = 'pending' FOR UPDATE OF w`,
  /** Commit, last step: the entry `locked` (a CTE of id, started_at) committed with its duration, when `when`. */
  markCommitted: (locked: string, when = 'TRUE', returning = 'w.id') =>
    `UPDATE wal_entries w SET status = 'committed', completed_at = now(),
      duration_ms = (extract(epoch FROM now() - ${locked}.started_at) * 1000)::int
      FROM ${locked} WHERE w.id = ${locked}.id AND ${when}
      RETURNING ${returning}`,
};

interface EntryRow {
  id: bigint;
  started_at: Date;
  status: string;
}

const toPending = (row: EntryRow): PendingWal => ({ id: BigInt(row.id), startedAt: row.started_at, status: row.status });

/**
 * Prepare: the job's pending entry for operation, created on first use; a rerun of the job continues the entry its
 * earlier run left (whatever its status now). Without a job (GC), a new entry each time.
 */
export async function prepareWalEntry(
  client: DbClient,
  entry: { operation: WalOperation; payload: Record<string, unknown>; job?: Pick<FileJob, 'id' | 'fileId' | 'principal'>; actor?: string },
): Promise<PendingWal> {
  const { job, operation } = entry;
  const payload = JSON.stringify(entry.payload);
  if (!job) {
    const [row] = await client.$queryRaw<EntryRow[]>`
      INSERT INTO wal_entries (tx_id, operation, status, actor, payload)
      VALUES (${randomUUID()}::uuid, ${operation}, 'pending', ${entry.actor ?? null}, ${payload}::jsonb)
      RETURNING id, started_at, status`;
    return toPending(row!);
  }
  const insert = WAL_SQL.insertPending('(SELECT 1) AS one', {
    txId: '$1::uuid', operation: '$2::text', fileId: '$3::uuid', jobId: '$4::uuid', actor: '$5::text', payload: '$6::jsonb',
  });
  const [row] = await client.$queryRawUnsafe<EntryRow[]>(
    `WITH ins AS (${insert}) SELECT * FROM ins UNION ALL (${WAL_SQL.entryOfJob('$4::uuid', '$2::text')})`,
    randomUUID(), operation, job.fileId, job.id, entry.actor ?? job.principal, payload,
  );
  if (row) return toPending(row);
  // A concurrent run of the job inserted its entry after this statement's snapshot: a fresh statement sees it.
  const [earlier] = await client.$queryRawUnsafe<EntryRow[]>(WAL_SQL.entryOfJob('$1::uuid', '$2::text'), job.id, operation);
  return toPending(earlier!);
}

/** Inside a commit transaction: locks the entry; true while it is still pending (this run may commit). */
async function lockPendingWalEntry(tx: Tx, walId: bigint): Promise<boolean> {
  const rows = await tx.$queryRawUnsafe<unknown[]>(WAL_SQL.lockPending('$1::bigint'), walId);
  return rows.length === 1;
}

/** Inside a commit transaction: the entry committed, with its duration. */
export async function markWalCommitted(tx: Tx, walId: bigint): Promise<void> {
  await tx.$executeRawUnsafe(
    `WITH entry AS (SELECT id, started_at FROM wal_entries WHERE id = $1::bigint) ${WAL_SQL.markCommitted('entry')}`,
    walId,
  );
}

/**
 * Commit with effects, in one transaction: the entry locked while pending, effects (database changes only, no
 * I/O), the entry committed, and the job (if any) committed. Null when another run settled the entry first:
 * nothing was changed. With holdMaintenanceShared the transaction holds the maintenance lock shared (a commit
 * that changes a reference count must not run while a full rebuild recounts them).
 */
export async function commitWalEntry<T>(
  db: Db,
  walId: bigint,
  /** audit (issue 17): the events of this change, appended last in its transaction. */
  options: { jobId?: string; holdMaintenanceShared?: boolean; audit?: AuditEventInput[] },
  effects: (tx: Tx) => Promise<T>,
): Promise<{ value: T } | null> {
  const commit = async (tx: Tx) => {
    if (!(await lockPendingWalEntry(tx, walId))) return null;
    const value = await effects(tx);
    await markWalCommitted(tx, walId);
    if (options.jobId) await markFileJobCommitted(tx, options.jobId, new Date());
    if (options.audit) await appendAuditEvents(tx, options.audit);
    return { value };
  };
  return options.holdMaintenanceShared ? inMaintenanceSharedTx(db, commit) : db.$transaction(commit);
}

export interface FailedJob {
  job: FileJob;
  /** true when the job's WAL entry was pending (its side effects may need undoing). */
  walWasPending: boolean;
}

/**
 * Fail: ends a job as failed with its WAL entry, unless a concurrent run committed it first (then null).
 * Locks in the commit's order (WAL row, then job row), so the two cannot deadlock.
 */
export async function failJobWithWal(
  db: Db,
  jobId: string,
  operation: WalOperation,
  code: string,
  message: string,
  /** Runs inside the transaction, before the job becomes final (undo side effects while the job still owns them). */
  beforeFinal?: (tx: Tx, job: FileJob, walWasPending: boolean) => Promise<void>,
): Promise<FailedJob | null> {
  return db.$transaction(async (tx) => {
    const [wal] = await tx.$queryRaw<Array<{ id: bigint; status: string; started_at: Date }>>`
      SELECT id, status, started_at FROM wal_entries WHERE job_id = ${jobId}::uuid AND operation = ${operation} FOR UPDATE`;
    if (wal?.status === 'committed') return null;
    if (beforeFinal) {
      if (!(await lockOpenFileJob(tx, jobId))) return null;
      await beforeFinal(tx, await getFileJob(tx, jobId), wal?.status === 'pending');
    }
    const now = new Date();
    if (!(await markFileJobFailed(tx, jobId, code, message, now))) return null;
    if (wal?.status === 'pending') {
      await tx.walEntry.update({
        where: { id: wal.id },
        data: { status: 'failed', error: `${code}: ${message}`.slice(0, 2_000), completedAt: now, durationMs: now.getTime() - wal.started_at.getTime() },
      });
    }
    const failed = await getFileJob(tx, jobId);
    // Audit trail hook (issue 17): the failure and its error code, in the transaction that fails the job.
    await appendAuditEvents(tx, [jobFailureEvent(failed, operation, code, message)]);
    return { job: failed, walWasPending: wal?.status === 'pending' };
  });
}

/** A change recorded as committed at once (a mode change: its whole effect is the transaction it is part of). */
export async function recordCommittedWalEntry(
  tx: Tx,
  entry: { operation: WalOperation; actor: string; payload: Prisma.InputJsonObject; at: Date },
): Promise<void> {
  await tx.walEntry.create({
    data: {
      txId: randomUUID(), operation: entry.operation, status: 'committed', actor: entry.actor, payload: entry.payload,
      startedAt: entry.at, completedAt: entry.at, durationMs: 0,
    },
  });
}

/** Recovery: entries pending since before startedBefore, oldest first. */
export async function selectStalePendingWalEntries(db: Db, startedBefore: Date, limit: number): Promise<WalEntry[]> {
  return db.walEntry.findMany({ where: { status: 'pending', startedAt: { lt: startedBefore } }, orderBy: { id: 'asc' }, take: limit });
}

/** Recovery: settles a pending entry with a note; false when it was no longer pending. */
export async function settlePendingWalEntry(
  db: Db,
  entry: Pick<WalEntry, 'id' | 'startedAt'>,
  status: 'rolled_back' | 'committed',
  note: string,
): Promise<boolean> {
  const now = new Date();
  const { count } = await db.walEntry.updateMany({
    where: { id: entry.id, status: 'pending' },
    data: { status, error: note, completedAt: now, durationMs: now.getTime() - entry.startedAt.getTime() },
  });
  return count === 1;
}

/**
 * Pending WAL entries by operation. Settled entries (nearly all of the table) are not read: the condition on status
 * is served by wal_entries(status, started_at), so the cost follows the pending entries, not the table's size.
 */
export const PENDING_WAL_ENTRIES = Prisma.sql`SELECT operation, count(*)::int AS n FROM wal_entries WHERE status = 'pending' GROUP BY operation`;

export async function countPendingWalEntries(db: Db): Promise<Array<{ operation: string; n: number }>> {
  return db.$queryRaw<Array<{ operation: string; n: number }>>(PENDING_WAL_ENTRIES);
}

/**
 * Whether an ingest between its prepare and its commit (a pending file_create WAL entry) names these bytes: they
 * are pinned. GC runs it as its own statement after lockBlobForGc: a fresh snapshot, which sees every entry
 * written before the lock.
 */
export async function isBlobPinnedByPendingIngest(client: DbClient, sha256: string): Promise<boolean> {
  const [row] = await client.$queryRaw<Array<{ pinned: boolean }>>`
    SELECT EXISTS (
      SELECT 1 FROM wal_entries WHERE status = 'pending' AND operation = 'file_create' AND payload->>'sha256' = ${sha256}
    ) AS pinned`;
  return row?.pinned ?? false;
}

/** Of these file ids, those a job is committing right now and whose commit settles them (an ingest; an update or delete of a file that has its row). */
export async function findFileIdsWithPendingWal(db: Db, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  // An update or delete whose file has no row (a wipe removed it) is not left to its commit: that commit changes a
  // row that must exist, so without one the rebuild restores it from attr.json, or a live file would be lost.
  const rows = await db.$queryRaw<Array<{ file_id: string }>>`
    SELECT DISTINCT w.file_id::text FROM wal_entries w
    WHERE w.status = 'pending' AND w.file_id = ANY(${ids}::uuid[])
      AND (w.operation NOT IN ('file_update', 'file_delete') OR EXISTS (SELECT 1 FROM files f WHERE f.id = w.file_id))`;
  return rows.map((r) => r.file_id);
}
