// The storage_usage table: bytes and count of the stored blobs, kept by triggers on blobs in the same transaction
// as every insert, delete and truncate there (migration 20261206105000_storage_usage), in 16 slots summed on read.
import { Prisma, type Db } from './database.js';
import { OPEN_JOB_STATES } from '../../contract/jobs.js';

export interface StorageUsage {
  /** Bytes of the blobs the blob store holds (a blob counts once, however many files reference it). */
  usedBytes: number;
  blobCount: number;
}

/** The running totals: a sum over 16 rows, whatever the number of blobs. */
export async function readStorageUsage(db: Db): Promise<StorageUsage> {
  const [row] = await db.$queryRaw<Array<{ used: bigint | null; blobs: bigint | null }>>`
    SELECT sum(used_bytes)::bigint AS used, sum(blob_count)::bigint AS blobs FROM storage_usage`;
  return { usedBytes: Number(row?.used ?? 0n), blobCount: Number(row?.blobs ?? 0n) };
}

/** Stored bytes (the running total) and bytes staged for ingest jobs and resumable uploads that have not finished. */
export async function readStoredAndPendingBytes(db: Db): Promise<{ usedBytes: number; pendingBytes: number }> {
  // One statement, one MVCC snapshot: a job that commits meanwhile is counted in exactly one of the sums (its
  // blob's trigger and its job's final state commit together).
  // Pending also counts the bytes already staged by unfinished resumable uploads (SPEC §9): parked partial uploads
  // would otherwise hold staging space that STORAGE_MAX_BYTES never sees. (Index on completed_at: few rows are open.)
  const [row] = await db.$queryRaw<Array<{ used: bigint | null; pending: bigint | null; resumable: bigint | null }>>`
    SELECT (SELECT sum(used_bytes) FROM storage_usage)::bigint AS used,
           (SELECT sum(size) FROM file_jobs WHERE kind = 'ingest' AND state IN (${Prisma.join([...OPEN_JOB_STATES])}))::bigint AS pending,
           (SELECT sum("offset") FROM resumable_uploads WHERE completed_at IS NULL)::bigint AS resumable`;
  return { usedBytes: Number(row?.used ?? 0n), pendingBytes: Number(row?.pending ?? 0n) + Number(row?.resumable ?? 0n) };
}

/**
 * Sets the totals from the blobs table itself (an index rebuild's last step). Only while holding the maintenance
 * lock exclusively (withMaintenanceLock): every statement that inserts or deletes blob rows holds it shared, so
 * none can commit between the sum and the update. (A LOCK TABLE here would wait for a commit that itself waits,
 * inside its statement, for the maintenance lock this caller's run holds: a wait PostgreSQL cannot see as a
 * deadlock.)
 */
export async function recomputeStorageUsage(db: Db): Promise<StorageUsage> {
  const [row] = await db.$queryRaw<Array<{ used: bigint | null; blobs: bigint }>>`
    WITH totals AS (SELECT COALESCE(sum(size), 0)::bigint AS used, count(*)::bigint AS blobs FROM blobs),
    updated AS (
      UPDATE storage_usage SET used_bytes = CASE WHEN slot = 0 THEN totals.used ELSE 0 END,
        blob_count = CASE WHEN slot = 0 THEN totals.blobs ELSE 0 END
      FROM totals RETURNING 1
    )
    SELECT used, blobs FROM totals WHERE (SELECT count(*) FROM updated) >= 0`;
  return { usedBytes: Number(row?.used ?? 0n), blobCount: Number(row?.blobs ?? 0n) };
}
