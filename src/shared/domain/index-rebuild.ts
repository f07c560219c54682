// Rebuilds the File and Blob tables from the attr.json files alone (SPEC §7, `npm run rebuild-index`); reads the stores only.
import { indexRebuildEvent, indexWipeEvent } from './audit-events.js';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Db } from '../records/database.js';
import type { Logger } from '../logger.js';
import type { AttrStore } from '../storage/attr-store.js';
import type { BlobStore } from '../storage/blob-store.js';
import { openStorage } from '../storage/storage-backends.js';
import { recountAllBlobReferences } from '../records/blobs.js';
import { appendAuditEventsAlone } from '../records/audit-events.js';
import { truncateFilesAndBlobs } from '../records/index-rebuild.js';
import { recomputeStorageUsage, type StorageUsage } from '../records/storage-usage.js';
import { withMaintenanceLock } from '../records/maintenance-lock.js';
import type { SkipReason } from './index-rebuild-attrs.js';
import { RebuildRun } from './index-rebuild-run.js';

export interface RebuildDeps {
  db: Db;
  config: Pick<Config, 'storagePath' | 'stagingPath' | 'elementId' | 'blobBackend' | 's3'>;
  blobStore: BlobStore;
  /** The config's backend (openStorage) when omitted. */
  attrStore?: AttrStore;
  logger: Logger;
}

export interface RebuildOptions {
  /** Read and validate every attr file and count; write nothing to the database. */
  dryRun?: boolean;
  /** TRUNCATE files and blobs before the rebuild (the caller asks the operator first). */
  wipe?: boolean;
  /**
   * Only add rows for attr files that have none and rewrite rows older than their attr file (by revision, then
   * updatedAt); never remove or rewrite anything else, and recount only the blobs those rows reference.
   */
  incremental?: boolean;
  /** Rows per multi-row INSERT (one transaction per batch). */
  batchSize?: number;
  /** Called after every progressEvery attr files. */
  onProgress?: (progress: RebuildProgress) => void;
  progressEvery?: number;
}

export interface RebuildProgress {
  attrFiles: number;
  filesRestored: number;
  filesSkipped: number;
}

export interface RebuildReport extends RebuildProgress {
  dryRun: boolean;
  wiped: boolean;
  /** Of filesRestored, the tombstones restored as deleted File rows (their blob still exists). */
  deletedFilesRestored: number;
  skipped: Record<SkipReason, number>;
  /** Distinct blobs the restored files reference (one Blob row each). */
  blobsRestored: number;
  /** With incremental: valid attr files whose row was already as new (left alone). */
  filesUpToDate: number;
  /** Stored bytes and blobs as recomputed from the blob rows at the end (the running total of capacity). */
  storageUsage?: StorageUsage;
  /** Restored files whose attr.json names another element id (kept as recorded). */
  otherElementFiles: number;
  durationMs: number;
}

/** The rebuild cannot start: nothing was changed. */
export class RebuildRefusedError extends Error {
  override readonly name = 'RebuildRefusedError';
}

/**
 * Reads and validates every attr.json, then upserts File and Blob rows batch by batch and recomputes ref counts.
 * A run that writes holds the index-maintenance lock throughout: commits that change reference counts (ingest,
 * delete, GC) wait for it, so a commit can never be counted away by the recount and then collected. A second
 * run meanwhile is refused (MaintenanceBusyError).
 */
export async function rebuildIndex(deps: RebuildDeps, options: RebuildOptions = {}): Promise<RebuildReport> {
  if (options.dryRun) return rebuildFromAttrFiles(deps, options);
  return withMaintenanceLock(deps.db, () => rebuildFromAttrFiles(deps, options));
}

/** The rebuild itself, for a caller that already holds the maintenance lock (an HTTP maintenance run). */
export async function rebuildFromAttrFiles(deps: RebuildDeps, options: RebuildOptions): Promise<RebuildReport> {
  const started = performance.now();
  const { db, logger } = deps;
  const dryRun = options.dryRun ?? false;
  const wipe = options.wipe ?? false;
  const batchSize = Math.max(1, Math.min(options.batchSize ?? 500, 2_000));
  const attrStore = deps.attrStore ?? openStorage(deps.config).attrStore;
  if (dryRun && wipe) throw new RebuildRefusedError('--wipe and --dry-run exclude each other');
  if (options.incremental && wipe) throw new RebuildRefusedError('an incremental rebuild never removes rows: it cannot wipe');
  const hasFiles = deps.config.blobBackend === 'local' ? await checkStoragePath(deps.config.storagePath, wipe) : await checkRemoteAttrStore(attrStore, wipe);

  const incremental = options.incremental ?? false;
  const progressEvery = Math.max(1, options.progressEvery ?? 1_000);
  const run = new RebuildRun(deps, attrStore, { dryRun, incremental, batchSize, progressEvery, onProgress: options.onProgress });
  if (wipe) {
    await truncateFilesAndBlobs(db, indexWipeEvent());
    run.report.wiped = true;
    logger.warn('files and blobs tables truncated before the rebuild');
  }
  if (hasFiles) {
    let batch: string[] = [];
    for await (const attrPath of attrStore.list()) {
      batch.push(attrPath);
      if (batch.length >= batchSize) {
        await run.flush(batch);
        batch = [];
      }
    }
    await run.flush(batch);
  }
  await run.written();
  // An incremental run recounted the blobs of the rows it wrote, batch by batch; a full one recounts them all, and its
  // event commits with that recount. An incremental run's event is its own transaction.
  if (!dryRun && !incremental) await recountAllBlobReferences(db, indexRebuildEvent(run.report, 'full'));
  if (!dryRun && incremental) await appendAuditEventsAlone(db, [indexRebuildEvent(run.report, 'incremental')]);
  const storageUsage = dryRun ? undefined : await recomputeStorageUsage(db);

  const report = run.finish();
  if (storageUsage) report.storageUsage = storageUsage;
  report.durationMs = Math.round(performance.now() - started);
  if (report.otherElementFiles > 0) {
    logger.warn({ otherElementFiles: report.otherElementFiles, elementId: deps.config.elementId }, 'some attr files name another element id; restored as recorded');
  }
  return report;
}

/** Whether STORAGE_PATH has attr files to read; refuses a path that is no directory, and a wipe with nothing to read. */
async function checkStoragePath(storagePath: string, wipe: boolean): Promise<boolean> {
  const storageRoot = path.resolve(storagePath);
  const filesRoot = path.join(storageRoot, 'files');
  if (!(await isDirectory(storageRoot))) throw new RebuildRefusedError(`STORAGE_PATH ${storageRoot} is not a directory`);
  const hasFiles = await isDirectory(filesRoot);
  // Wiping the index of an element whose attr files are not where we look would leave it empty.
  if (wipe && !hasFiles) throw new RebuildRefusedError(`no attr files at ${filesRoot}; refusing to wipe the index`);
  return hasFiles;
}

/** A store without directories (S3): a wipe needs at least one record to read back, as on the local store. */
async function checkRemoteAttrStore(attrStore: AttrStore, wipe: boolean): Promise<boolean> {
  if (!wipe) return true;
  for await (const _ of attrStore.list()) return true;
  throw new RebuildRefusedError('no attr files in the attr store; refusing to wipe the index');
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await fs.stat(dir)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
