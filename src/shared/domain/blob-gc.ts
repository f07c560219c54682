// Garbage collection of blobs no file references: after the grace period, mark, remove the bytes, drop the row.
import type { Config } from '../config.js';
import type { Db, Prisma } from '../records/database.js';
import type { Logger } from '../logger.js';
import { enqueue, type EnqueueConfig, type Queues } from '../queues.js';
import type { BlobStore } from '../storage/blob-store.js';
import { markWalCommitted, prepareWalEntry } from '../records/wal.js';
import { inMaintenanceSharedTx } from '../records/maintenance-lock.js';

export interface GcDeps {
  db: Db;
  config: Pick<Config, 'gcGraceSeconds'> & EnqueueConfig;
  blobStore: BlobStore;
  logger: Logger;
}

/** An ingest between its prepare and its commit (pending file_create WAL entry) names these bytes. */
async function isPinned(tx: Prisma.TransactionClient, sha256: string): Promise<boolean> {
  const [row] = await tx.$queryRaw<Array<{ pinned: boolean }>>`
    SELECT EXISTS (
      SELECT 1 FROM wal_entries WHERE status = 'pending' AND operation = 'file_create' AND payload->>'sha256' = ${sha256}
    ) AS pinned`;
  return row?.pinned ?? false;
}

/**
 * Removes the blob when it is still unreferenced, its grace period has passed and no ingest has pinned it. Three
 * steps, each safe to repeat: (1) in a transaction, mark it (gc_started_at) with a WAL entry: from then on an
 * ingest of the same bytes waits instead of reviving it; (2) remove the bytes; (3) drop the row (and the rows of
 * the deleted files that referenced it) and commit the WAL entry.
 *
 * The pin: an ingest writes its pending file_create WAL entry (naming the sha256) while holding the blob row
 * FOR SHARE, before it looks at the store. Step 1 holds the row FOR UPDATE and then, in a later statement (a
 * fresh snapshot), looks for such entries. So an ingest that found the bytes present has pinned them first, or
 * finds the mark and waits; GC never unlinks bytes a commit is about to reference.
 */
export async function runBlobGc(deps: GcDeps, sha256: string): Promise<{ removed: boolean }> {
  const { db } = deps;
  const graceMs = deps.config.gcGraceSeconds * 1_000;
  const wal = await inMaintenanceSharedTx(db, async (tx) => {
    const [blob] = await tx.$queryRaw<Array<{ ref_count: number; orphaned_at: Date | null; gc_started_at: Date | null; storage_key: string }>>`
      SELECT ref_count, orphaned_at, gc_started_at, storage_key FROM blobs WHERE sha256 = ${sha256} FOR UPDATE`;
    if (!blob || blob.ref_count > 0 || !blob.orphaned_at) return null;
    if (!blob.gc_started_at) {
      if (blob.orphaned_at.getTime() > Date.now() - graceMs) return null;
      if (await isPinned(tx, sha256)) return null;
      await tx.$executeRaw`UPDATE blobs SET gc_started_at = now() WHERE sha256 = ${sha256}`;
    }
    return prepareWalEntry(tx, { operation: 'blob_gc', actor: 'gc', payload: { sha256, storageKey: blob.storage_key } });
  });
  if (!wal) return { removed: false };
  await deps.blobStore.delete(sha256);
  await inMaintenanceSharedTx(db, async (tx) => {
    // Rows of deleted files that pointed at these bytes go with them (their attr.json tombstones stay).
    await tx.$executeRaw`DELETE FROM files WHERE sha256 = ${sha256} AND deleted_at IS NOT NULL`;
    await tx.$executeRaw`DELETE FROM blobs WHERE sha256 = ${sha256} AND ref_count = 0 AND gc_started_at IS NOT NULL`;
    await markWalCommitted(tx, wal.id);
  });
  deps.logger.info({ sha256 }, 'blob garbage-collected');
  return { removed: true };
}

/**
 * Queues GC for unreferenced blobs past their grace period (and GC runs that stopped half-way). The worker
 * runs it every gcSweepIntervalMs; a repeated job id for the same orphaning is a no-op while it is queued.
 */
export async function sweepOrphanBlobs(deps: GcDeps & { queues: Queues }, limit = 500): Promise<number> {
  const graceMs = deps.config.gcGraceSeconds * 1_000;
  const rows = await deps.db.blob.findMany({
    where: {
      refCount: 0,
      OR: [{ gcStartedAt: { not: null } }, { orphanedAt: { lt: new Date(Date.now() - graceMs) } }],
    },
    select: { sha256: true, orphanedAt: true },
    take: limit,
  });
  const items = rows.flatMap((r) => (r.orphanedAt ? [{ id: gcJobId(r.sha256, r.orphanedAt), payload: { sha256: r.sha256 } }] : []));
  await enqueue(deps.queues, deps.config, 'gc-blob', items);
  return items.length;
}

/** One GC job per orphaning of a blob (a revived and again orphaned blob gets a new one). */
export function gcJobId(sha256: string, orphanedAt: Date): string {
  return `gc-${sha256}-${orphanedAt.getTime()}`;
}

/** How often the sweep runs: often enough that a blob goes soon after its grace, at most once a minute. */
export function gcSweepIntervalMs(config: Pick<Config, 'gcGraceSeconds'>): number {
  return Math.min(60_000, Math.max(1_000, (config.gcGraceSeconds * 1_000) / 2));
}
