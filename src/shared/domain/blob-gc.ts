// Garbage collection of blobs no file references: after the grace period, mark, remove the bytes, drop the row.
import { appendAuditEvents } from '../records/audit-events.js';
import { gcDeleteEvent } from './audit-events.js';
import type { RedisConnection } from '../redis.js';
import type { Config } from '../config.js';
import type { Db } from '../records/database.js';
import { deleteCollectedBlob, findGcDueBlobs, lockBlobForGc, markBlobGcStarted } from '../records/blobs.js';
import type { Logger } from '../logger.js';
import { enqueue, type EnqueueConfig, type Queues } from '../queues.js';
import type { BlobStore } from '../storage/blob-store.js';
import { isBlobPinnedByPendingIngest, markWalCommitted, prepareWalEntry } from '../records/wal.js';
import { inMaintenanceSharedTx } from '../records/maintenance-lock.js';
import { announceFileChange } from './file-changes.js';

export interface GcDeps {
  db: Db;
  config: Pick<Config, 'gcGraceSeconds'> & Partial<Pick<Config, 'queuePrefix'>> & EnqueueConfig;
  blobStore: BlobStore;
  logger: Logger;
  /**
   * With config.queuePrefix, announces the removal (file-changes.ts), so API processes close what they keep open
   * of the bytes (and do not keep the removed file's disk space until their idle sweep).
   */
  connection?: RedisConnection;
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
    const blob = await lockBlobForGc(tx, sha256);
    if (!blob || blob.refCount > 0 || !blob.orphanedAt) return null;
    if (!blob.gcStartedAt) {
      if (blob.orphanedAt.getTime() > Date.now() - graceMs) return null;
      if (await isBlobPinnedByPendingIngest(tx, sha256)) return null;
      await markBlobGcStarted(tx, sha256);
    }
    return prepareWalEntry(tx, { operation: 'blob_gc', actor: 'gc', payload: { sha256, storageKey: blob.storageKey } });
  });
  if (!wal) return { removed: false };
  await deps.blobStore.delete(sha256);
  if (deps.config.queuePrefix) await announceFileChange(deps.connection, deps.config.queuePrefix, { sha256 }, deps.logger);
  await inMaintenanceSharedTx(db, async (tx) => {
    // Rows of deleted files that pointed at these bytes go with them (their attr.json tombstones stay).
    const collected = await deleteCollectedBlob(tx, sha256);
    await markWalCommitted(tx, wal.id);
    // Audit trail (issue 17): the blob's removal, once (a second run finds no row to remove).
    if (collected.blobRemoved) await appendAuditEvents(tx, [gcDeleteEvent(sha256, collected.fileRows)]);
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
  const rows = await findGcDueBlobs(deps.db, new Date(Date.now() - graceMs), limit);
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
