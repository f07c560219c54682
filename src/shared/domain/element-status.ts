// What the element reports about itself: GET /api/v1/info (mode, capacity, files, queue depth) and readiness.
import type { Config, Mode } from '../config.js';
import { pingDatabase, type Db } from '../records/database.js';
import { countLiveFiles } from '../records/files.js';
import { QUEUE_NAMES, type Queues } from '../queues.js';
import { APP_VERSION } from '../version.js';
import type { CapacityReader, CapacityReport } from './capacity.js';
import type { ModeReader } from './modes.js';

export interface ElementInfo {
  elementId: string;
  mode: Mode;
  version: string;
  capacity: CapacityReport;
  location: string | null;
  priority: number;
  files: number;
  queue: { waiting: number; active: number; failed: number; delayed: number };
}

export interface ElementInfoDeps {
  db: Db;
  config: Pick<Config, 'elementId' | 'storageLocation' | 'storagePriority'>;
  modes: Pick<ModeReader, 'current'>;
  capacity: Pick<CapacityReader, 'report'>;
  queues: Queues;
}

/** The element's id, mode, version, capacity, live file count and queue depth (summed over every queue). */
export async function readElementInfo(deps: ElementInfoDeps): Promise<ElementInfo> {
  const [mode, capacity, files, counts] = await Promise.all([
    deps.modes.current(),
    deps.capacity.report(),
    countLiveFiles(deps.db),
    Promise.all(Object.values(QUEUE_NAMES).map((q) => deps.queues[q].getJobCounts('waiting', 'active', 'failed', 'delayed'))),
  ]);
  const sum = (state: string) => counts.reduce((n, c) => n + (c[state] ?? 0), 0);
  return {
    elementId: deps.config.elementId,
    mode,
    version: APP_VERSION,
    capacity,
    location: deps.config.storageLocation,
    priority: deps.config.storagePriority,
    files,
    queue: { waiting: sum('waiting'), active: sum('active'), failed: sum('failed'), delayed: sum('delayed') },
  };
}

/** Resolves when the database answers a query (readiness); rejects otherwise. */
export async function checkDatabase(db: Db): Promise<void> {
  await pingDatabase(db);
}
