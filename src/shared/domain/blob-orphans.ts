// Bytes in the blob store that no blob row describes (an ingest that failed or was rolled back after its put):
// adopted as unreferenced rows, so capacity counts them and garbage collection removes them after the grace
// period through its one safe path (mark, pin check, unlink), never by a direct delete that could race an ingest.
import type { Db } from '../records/database.js';
import type { Logger } from '../logger.js';
import type { BlobStore } from '../storage/blob-store.js';
import { TEMP_MAX_AGE_MS } from '../storage/store-temp.js';
import { inMaintenanceSharedTx } from '../records/maintenance-lock.js';
import { findRecordedSha256s, insertUnreferencedBlobs } from '../records/blobs.js';

export interface OrphanDeps {
  db: Db;
  blobStore: BlobStore;
  logger: Logger;
}

export interface OrphanSweepReport {
  /** Blobs found in the store. */
  scanned: number;
  /** Of them, blobs that had no row and now have an unreferenced one. */
  adopted: number;
  /** Temp files of interrupted puts removed. */
  temporariesRemoved: number;
}

const CHUNK = 500;

/**
 * Gives each of these digests whose bytes are in the store but that has no row an unreferenced row (ref_count 0,
 * orphaned now). A row that exists is left alone; so is an ingest in flight: its commit finds the row and takes
 * a reference (orphaned_at cleared), and GC leaves pinned blobs alone. Returns how many rows were created.
 */
export async function adoptUnrecordedBlobs(deps: OrphanDeps, digests: string[]): Promise<number> {
  if (digests.length === 0) return 0;
  const recorded = await findRecordedSha256s(deps.db, digests);
  const candidates: Array<{ sha256: string; size: number }> = [];
  for (const sha256 of digests) {
    if (recorded.has(sha256)) continue;
    const stat = await deps.blobStore.stat(sha256);
    if (stat) candidates.push({ sha256, size: stat.size });
  }
  if (candidates.length === 0) return 0;
  // A full rebuild recounts every row: adoption waits for it like any other reference change.
  const rows = candidates.map((c) => ({ ...c, storageKey: deps.blobStore.keyFor(c.sha256) }));
  const adopted = await inMaintenanceSharedTx(deps.db, (tx) => insertUnreferencedBlobs(tx, rows));
  if (adopted > 0) deps.logger.info({ blobs: adopted }, 'unrecorded blobs adopted for garbage collection');
  return adopted;
}

/**
 * Walks the whole store: every unrecorded blob adopted, temp files the backend keeps beside its blobs (older
 * layouts, unfinished multipart uploads) removed. Run at start and then rarely (it lists everything).
 */
export async function sweepUnrecordedBlobs(deps: OrphanDeps, now = Date.now()): Promise<OrphanSweepReport> {
  const report: OrphanSweepReport = { scanned: 0, adopted: 0, temporariesRemoved: 0 };
  let chunk: string[] = [];
  for await (const sha256 of deps.blobStore.list()) {
    report.scanned += 1;
    chunk.push(sha256);
    if (chunk.length >= CHUNK) {
      report.adopted += await adoptUnrecordedBlobs(deps, chunk);
      chunk = [];
    }
  }
  report.adopted += await adoptUnrecordedBlobs(deps, chunk);
  const olderThan = new Date(now - TEMP_MAX_AGE_MS);
  report.temporariesRemoved = await deps.blobStore.sweepTemporaries(olderThan);
  return report;
}
