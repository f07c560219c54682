// One run of the index rebuild, batch by batch: its attr files judged, duplicates and files in flight set aside,
// the rest counted and written while the next batch is read.
import type { AttrStore } from '../storage/attr-store.js';
import { analyzeFilesAndBlobs, findRowVersions, writeRestoredBatch, type RestoredBlob } from '../records/index-rebuild.js';
import { findFileIdsWithPendingWal } from '../records/wal.js';
import { BlobSizes, judgeAttrFile, mapLimit, newer, SKIP_REASONS, type Candidate, type Skip, type SkipReason } from './index-rebuild-attrs.js';
import type { RebuildDeps, RebuildProgress, RebuildReport } from './index-rebuild.js';

export interface RunSettings {
  dryRun: boolean;
  /** Leave alone every row at least as new as its attr file (RebuildOptions.incremental). */
  incremental: boolean;
  batchSize: number;
  progressEvery: number;
  onProgress?: (progress: RebuildProgress) => void;
}

export class RebuildRun {
  readonly report: RebuildReport;
  private readonly blobSizes: BlobSizes;
  private readonly restoredBlobs = new Set<string>();
  private nextAnalyzeAt: number;
  // One batch is written while the next is read: a write failure surfaces at the next await of `writing`.
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: RebuildDeps,
    private readonly attrStore: AttrStore,
    private readonly settings: RunSettings,
  ) {
    this.blobSizes = new BlobSizes(deps.blobStore);
    this.nextAnalyzeAt = 2 * settings.batchSize;
    this.report = {
      dryRun: settings.dryRun,
      wiped: false,
      attrFiles: 0,
      filesRestored: 0,
      deletedFilesRestored: 0,
      filesSkipped: 0,
      skipped: Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>,
      blobsRestored: 0,
      filesUpToDate: 0,
      otherElementFiles: 0,
      durationMs: 0,
    };
  }

  /** Judges, counts and (unless a dry run) writes one batch of attr files. */
  async flush(paths: string[]): Promise<void> {
    const byId = await this.judgeBatch(paths);
    const inFlight = await findFileIdsWithPendingWal(this.deps.db, [...byId.keys()]);
    for (const id of inFlight) {
      const c = byId.get(id)!;
      byId.delete(id);
      this.skip({ skip: 'inFlight', attrPath: c.attrPath, fileId: id, detail: 'a job is committing this file; its commit or WAL recovery settles it' });
    }
    if (this.settings.incremental) await this.dropUpToDate(byId);
    const rows = [...byId.values()];
    for (const c of rows) {
      this.report.filesRestored += 1;
      if (c.record.deletedAt) this.report.deletedFilesRestored += 1;
      if (c.record.elementId !== this.deps.config.elementId) this.report.otherElementFiles += 1;
      this.restoredBlobs.add(c.record.sha256);
    }
    if (this.settings.dryRun || rows.length === 0) return;
    await this.writing;
    // Fresh statistics whenever the restored rows have doubled: after a wipe the planner would otherwise
    // take tables of a million rows for empty ones.
    if (this.report.filesRestored >= this.nextAnalyzeAt) {
      this.nextAnalyzeAt = this.report.filesRestored * 2;
      await analyzeFilesAndBlobs(this.deps.db);
    }
    this.writing = writeRestoredBatch(
      this.deps.db,
      rows.map((c) => ({ ...c.record, attrPath: c.attrPath })),
      this.blobsOf(rows),
    );
    this.writing.catch(() => undefined);
  }

  /** Incremental: the candidates whose row is already at their revision (or later) are left out. */
  private async dropUpToDate(byId: Map<string, Candidate>): Promise<void> {
    const versions = await findRowVersions(this.deps.db, [...byId.keys()]);
    for (const [id, c] of byId) {
      const row = versions.get(id);
      if (!row) continue;
      const attrIsNewer =
        c.record.revision > row.revision ||
        (c.record.revision === row.revision && Date.parse(c.record.updatedAt) > row.updatedAt.getTime()) ||
        (c.record.deletedAt !== undefined && row.deletedAt === null);
      if (attrIsNewer) continue;
      byId.delete(id);
      this.report.filesUpToDate += 1;
    }
  }

  /** Waits for the batch being written (and surfaces its failure). */
  async written(): Promise<void> {
    await this.writing;
  }

  finish(): RebuildReport {
    this.report.blobsRestored = this.restoredBlobs.size;
    return this.report;
  }

  /** The batch's restorable records by file id: of two with the same id, the newer one; the other is skipped. */
  private async judgeBatch(paths: string[]): Promise<Map<string, Candidate>> {
    const verdicts = await mapLimit(paths, 32, (p) => judgeAttrFile(this.attrStore, p, this.blobSizes));
    const byId = new Map<string, Candidate>();
    for (const v of verdicts) {
      this.report.attrFiles += 1;
      if ('skip' in v) this.skip(v);
      else {
        const earlier = byId.get(v.ok.record.id);
        if (earlier) {
          const [keep, drop] = newer(v.ok, earlier) ? [v.ok, earlier] : [earlier, v.ok];
          byId.set(keep.record.id, keep);
          this.skip({ skip: 'duplicateId', attrPath: drop.attrPath, fileId: drop.record.id, detail: `another attr file (${keep.attrPath}) records the same file id` });
        } else byId.set(v.ok.record.id, v.ok);
      }
      if (this.report.attrFiles % this.settings.progressEvery === 0) this.settings.onProgress?.(this.progress(byId.size));
    }
    return byId;
  }

  private skip(v: Skip): void {
    this.report.filesSkipped += 1;
    this.report.skipped[v.skip] += 1;
    this.deps.logger.warn({ attrPath: v.attrPath, fileId: v.fileId, reason: v.skip }, `attr file skipped: ${v.detail}`);
  }

  private progress(pendingInBatch: number): RebuildProgress {
    const { attrFiles, filesRestored, filesSkipped } = this.report;
    return { attrFiles, filesRestored: filesRestored + pendingInBatch, filesSkipped };
  }

  /**
   * The blobs the rows reference, sorted by sha256: each with its stored size, its earliest file's createdAt and
   * how many of the rows are live (a new blob starts with that as its ref_count).
   */
  private blobsOf(rows: Candidate[]): RestoredBlob[] {
    const blobs = new Map<string, RestoredBlob>();
    for (const { record } of rows) {
      const blob = blobs.get(record.sha256) ?? {
        sha256: record.sha256,
        size: this.blobSizes.known(record.sha256) ?? record.size,
        storageKey: this.deps.blobStore.keyFor(record.sha256),
        createdAt: record.createdAt,
        live: 0,
      };
      if (Date.parse(record.createdAt) < Date.parse(blob.createdAt)) blob.createdAt = record.createdAt;
      if (!record.deletedAt) blob.live += 1;
      blobs.set(record.sha256, blob);
    }
    // Sorted, so two writers that share blobs lock their rows in the same order.
    return [...blobs.values()].sort((a, b) => (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : 0));
  }
}
