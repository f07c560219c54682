// What the element tells the other ArtStore modules about itself (SPEC §10): GET / and GET /api/v1/capacity.
import type { z } from 'zod';
import type { Config } from '../config.js';
import { APP_VERSION } from '../version.js';
import type { clusterCapacitySchema, serviceRootSchema } from '../../contract/cluster.js';
import type { CapacityReader, CapacityStatus } from './capacity.js';
import type { ModeReader } from './modes.js';

export type ServiceRoot = z.output<typeof serviceRootSchema>;
export type ClusterCapacity = z.output<typeof clusterCapacitySchema>;
export type CapacityHealth = ClusterCapacity['health'];

export interface ClusterStatusDeps {
  config: Pick<Config, 'elementId' | 'blobBackend' | 'storageLocation' | 'storagePriority'>;
  modes: Pick<ModeReader, 'current'>;
  capacity: Pick<CapacityReader, 'reading'>;
}

/**
 * The Ingester's view of the capacity status of SPEC §5: an element with room is healthy, one past its warning or
 * critical threshold degraded (writable, but pick another when you can), a full one unhealthy (refuses uploads).
 */
export function capacityHealth(status: CapacityStatus): CapacityHealth {
  if (status === 'full') return 'unhealthy';
  return status === 'ok' ? 'healthy' : 'degraded';
}

export async function readServiceRoot(deps: Pick<ClusterStatusDeps, 'config' | 'modes'>): Promise<ServiceRoot> {
  return {
    service: 'ArtStore Storage Element',
    version: APP_VERSION,
    mode: await deps.modes.current(),
    storageType: deps.config.blobBackend,
    status: 'ok',
  };
}

/**
 * The capacity answer. Cheap by construction: the mode and the stored bytes come from readers that go to
 * PostgreSQL at most once a second per process (the stored bytes being a running total, not a sum over blobs),
 * and free space is one statfs.
 */
export async function readClusterCapacity(deps: ClusterStatusDeps): Promise<ClusterCapacity> {
  const [mode, { report, takenAt }] = await Promise.all([deps.modes.current(), deps.capacity.reading()]);
  const percentUsed = report.totalBytes > 0 ? Math.round((report.usedBytes / report.totalBytes) * 10_000) / 100 : 0;
  return {
    storageId: deps.config.elementId,
    mode,
    capacity: { total: report.totalBytes, used: report.usedBytes, available: report.freeBytes, percentUsed },
    health: capacityHealth(report.status),
    lastUpdate: takenAt.toISOString(),
    backend: deps.config.blobBackend,
    location: deps.config.storageLocation,
    priority: deps.config.storagePriority,
  };
}
