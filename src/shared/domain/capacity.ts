// Capacity of the element (SPEC §5): what is stored, what is on its way in, and whether one more byte may be staged.
import fs from 'node:fs/promises';
import type { CapacityReport } from '../../contract/element.js';
import type { Config } from '../config.js';
import type { Db } from '../records/database.js';
import { AppError } from '../errors.js';
import { readStoredAndPendingBytes } from '../records/storage-usage.js';

export type { CapacityReport };
export type CapacityStatus = CapacityReport['status'];

type CapacityConfig = Pick<Config, 'storageMaxBytes' | 'storagePath' | 'stagingPath' | 'capacityThresholds' | 'blobBackend'>;
type Threshold = { percent: number; bytes: number };

function thresholdBytes(totalBytes: number, t: Threshold): number {
  return Math.max((totalBytes * t.percent) / 100, t.bytes);
}

export function capacityStatus(totalBytes: number, freeBytes: number, thresholds: Config['capacityThresholds']): CapacityStatus {
  const below = (t: Threshold) => freeBytes < thresholdBytes(totalBytes, t);
  if (below(thresholds.full)) return 'full';
  if (below(thresholds.critical)) return 'critical';
  if (below(thresholds.warning)) return 'warning';
  return 'ok';
}

/** One reading of the database and the staging filesystem, and where this process's counters stood when it began. */
interface Snapshot {
  takenAt: number;
  /** Uploads handed over to jobs up to this sequence number are in pendingBytes (or already in usedBytes). */
  handoverSeq: number;
  /** This process's staged-byte counter when the reading began: what it wrote since is not in diskFree. */
  written: number;
  /** Committed blobs. */
  usedBytes: number;
  /** Staged for ingest jobs that have not finished (every API process's uploads). */
  pendingBytes: number;
  diskTotal: number;
  diskFree: number;
}

/**
 * One upload's claim on capacity while its bytes arrive. take() is synchronous, so it can run for every chunk;
 * afterwards exactly one of handOver() (its jobs are recorded) or release() (its staged files are removed).
 */
export interface StagingReservation {
  take(bytes: number): void;
  handOver(): void;
  release(): void;
}

/**
 * Decides whether bytes may be staged, against STORAGE_MAX_BYTES (blobs + unfinished jobs + uploads arriving) and
 * against free space on the staging filesystem (refused where the `full` status begins). The database sums and
 * statfs are read at most once per ttlMs, however many uploads ask; this process's own bytes since then are
 * counted here. Other API processes' uploads in flight are not seen until they are jobs: ENOSPC is the backstop.
 */
export class CapacityReader {
  private snapshot?: Snapshot;
  private refreshing?: Promise<Snapshot>;
  /** Bytes of this process's uploads that are neither recorded as jobs nor removed. */
  private receiving = 0;
  /** Bytes this process has written into staging, ever. */
  private written = 0;
  private handoverSeq = 0;
  /** Handed over but perhaps not yet in the snapshot's pendingBytes. */
  private handedOver: Array<{ seq: number; bytes: number }> = [];

  constructor(
    private readonly db: Db,
    private readonly config: CapacityConfig,
    private readonly ttlMs = 1_000,
  ) {}

  private refresh(): Promise<Snapshot> {
    if (this.refreshing) return this.refreshing;
    const started = { takenAt: Date.now(), handoverSeq: this.handoverSeq, written: this.written };
    const refreshing = (async () => {
      // The stored bytes are a running total (records/storage-usage.ts), the pending ones a sum over open jobs.
      const sums = await readStoredAndPendingBytes(this.db);
      const disk = await fs.statfs(this.config.stagingPath);
      const snapshot: Snapshot = {
        ...started,
        ...sums,
        diskTotal: disk.blocks * disk.bsize,
        diskFree: disk.bavail * disk.bsize,
      };
      this.snapshot = snapshot;
      this.handedOver = this.handedOver.filter((h) => h.seq > snapshot.handoverSeq);
      return snapshot;
    })();
    this.refreshing = refreshing;
    void refreshing.then(
      () => (this.refreshing = undefined),
      () => (this.refreshing = undefined),
    );
    return refreshing;
  }

  private async current(): Promise<Snapshot> {
    const s = this.snapshot;
    return s && Date.now() - s.takenAt < this.ttlMs ? s : this.refresh();
  }

  /** Why `incoming` more bytes may not be staged now, or undefined when they may. */
  private refusal(s: Snapshot, incoming: number): string | undefined {
    const { storageMaxBytes, capacityThresholds } = this.config;
    if (storageMaxBytes > 0) {
      const inFlight = this.receiving + this.handedOver.reduce((n, h) => n + h.bytes, 0);
      const left = Math.max(0, storageMaxBytes - s.usedBytes - s.pendingBytes - inFlight);
      if (incoming > left) return `the element has ${left} bytes left under STORAGE_MAX_BYTES; this upload needs ${incoming} more`;
    }
    const free = s.diskFree - (this.written - s.written);
    // With the blobs in a bucket the staging filesystem is scratch that each upload leaves at once: it must only
    // hold the upload, not keep the element's free-space floor.
    const floor = this.config.blobBackend === 'local' ? thresholdBytes(s.diskTotal, capacityThresholds.full) : 0;
    if (free - incoming < floor) {
      return `the staging filesystem has ${Math.max(0, free)} bytes free; ${incoming} more would pass the 'full' threshold (${Math.ceil(floor)} bytes free)`;
    }
    return undefined;
  }

  /** 507 insufficient_storage when incomingBytes more could not be staged (STORAGE_MAX_BYTES or a full disk). */
  async assertRoomFor(incomingBytes: number): Promise<void> {
    const reason = this.refusal(await this.current(), incomingBytes);
    if (reason) throw new AppError('insufficient_storage', reason);
  }

  /** Opens one upload's reservation; every byte it stages passes take() first. */
  async openReservation(): Promise<StagingReservation> {
    await this.current();
    let held = 0;
    let open = true;
    const close = () => {
      const was = open;
      open = false;
      this.receiving -= was ? held : 0;
      return was;
    };
    return {
      take: (bytes) => {
        const s = this.snapshot!;
        // A stale reading still answers this chunk; the next chunks see the fresh one.
        if (Date.now() - s.takenAt >= this.ttlMs) this.refresh().catch(() => undefined);
        const reason = this.refusal(s, bytes);
        if (reason) throw new AppError('insufficient_storage', reason);
        held += bytes;
        this.receiving += bytes;
        this.written += bytes;
      },
      handOver: () => {
        // Its bytes stay counted until a reading that began after its jobs were recorded includes them.
        if (close() && held > 0) this.handedOver.push({ seq: ++this.handoverSeq, bytes: held });
      },
      release: () => void close(),
    };
  }

  async report(): Promise<CapacityReport> {
    return (await this.reading()).report;
  }

  /** The report and when its stored-bytes figure was read (GET /api/v1/capacity's lastUpdate). */
  async reading(): Promise<{ report: CapacityReport; takenAt: Date }> {
    const snapshot = await this.current();
    return { report: await this.reportOf(snapshot.usedBytes), takenAt: new Date(snapshot.takenAt) };
  }

  private async reportOf(usedBytes: number): Promise<CapacityReport> {
    let totalBytes: number;
    let freeBytes: number;
    if (this.config.storageMaxBytes > 0) {
      totalBytes = this.config.storageMaxBytes;
      freeBytes = Math.max(0, totalBytes - usedBytes);
    } else if (this.config.blobBackend !== 'local') {
      // A bucket tells no size: without STORAGE_MAX_BYTES (set it to the bucket's quota) it counts as unbounded.
      totalBytes = Number.MAX_SAFE_INTEGER;
      freeBytes = totalBytes - usedBytes;
    } else {
      const disk = await fs.statfs(this.config.storagePath);
      totalBytes = disk.blocks * disk.bsize;
      freeBytes = disk.bavail * disk.bsize;
    }
    return { totalBytes, usedBytes, freeBytes, status: capacityStatus(totalBytes, freeBytes, this.config.capacityThresholds) };
  }
}
