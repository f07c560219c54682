// Capacity of the element (SPEC §5 info): used bytes from the blob table, total from STORAGE_MAX_BYTES or the disk.
import fs from 'node:fs/promises';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import { AppError } from '../errors.js';

export type CapacityStatus = 'ok' | 'warning' | 'critical' | 'full';

export interface CapacityReport {
  totalBytes: number;
  usedBytes: number;
  freeBytes: number;
  status: CapacityStatus;
}

type CapacityConfig = Pick<Config, 'storageMaxBytes' | 'storagePath' | 'capacityThresholds'>;

export function capacityStatus(totalBytes: number, freeBytes: number, thresholds: Config['capacityThresholds']): CapacityStatus {
  const below = (t: { percent: number; bytes: number }) => freeBytes < Math.max((totalBytes * t.percent) / 100, t.bytes);
  if (below(thresholds.full)) return 'full';
  if (below(thresholds.critical)) return 'critical';
  if (below(thresholds.warning)) return 'warning';
  return 'ok';
}

/** Sums stored blob sizes at most once per ttlMs: uploads ask on every request, the sum scans the blob table. */
export class CapacityReader {
  private cached?: { used: number; at: number };

  constructor(
    private readonly db: Db,
    private readonly config: CapacityConfig,
    private readonly ttlMs = 1_000,
  ) {}

  async usedBytes(): Promise<number> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.ttlMs) return this.cached.used;
    const [row] = await this.db.$queryRaw<Array<{ used: bigint | null }>>`SELECT sum(size)::bigint AS used FROM blobs`;
    const used = Number(row?.used ?? 0n);
    this.cached = { used, at: now };
    return used;
  }

  async report(): Promise<CapacityReport> {
    const usedBytes = await this.usedBytes();
    let totalBytes: number;
    let freeBytes: number;
    if (this.config.storageMaxBytes > 0) {
      totalBytes = this.config.storageMaxBytes;
      freeBytes = Math.max(0, totalBytes - usedBytes);
    } else {
      const disk = await fs.statfs(this.config.storagePath);
      totalBytes = disk.blocks * disk.bsize;
      freeBytes = disk.bavail * disk.bsize;
    }
    return { totalBytes, usedBytes, freeBytes, status: capacityStatus(totalBytes, freeBytes, this.config.capacityThresholds) };
  }

  /** Bytes still accepted under STORAGE_MAX_BYTES (Infinity when unlimited). */
  async remainingBytes(): Promise<number> {
    if (this.config.storageMaxBytes <= 0) return Number.POSITIVE_INFINITY;
    return Math.max(0, this.config.storageMaxBytes - (await this.usedBytes()));
  }

  /** 507 insufficient_storage when incoming bytes would pass STORAGE_MAX_BYTES. */
  async assertRoomFor(incomingBytes: number): Promise<void> {
    const remaining = await this.remainingBytes();
    if (incomingBytes > remaining) {
      throw new AppError('insufficient_storage', `the element has ${remaining} bytes left under STORAGE_MAX_BYTES; this upload needs ${incomingBytes}`);
    }
  }
}
