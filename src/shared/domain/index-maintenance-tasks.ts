// The maintenance runs SPEC §10 offers over HTTP, as tasks for runMaintenance: full and incremental index
// rebuild, the consistency report, and the cleanup of expired files (its body passed in: file-lifecycle.ts).
import type { RebuildMode } from '../../contract/cluster.js';
import { openStorage } from '../storage/storage-backends.js';
import { checkIndexConsistency } from './index-consistency.js';
import { rebuildFromAttrFiles, type RebuildDeps } from './index-rebuild.js';
import type { MaintenanceTask } from './index-maintenance.js';

export function rebuildTask(deps: RebuildDeps, mode: RebuildMode): MaintenanceTask {
  return {
    operation: 'index_rebuild',
    label: `index rebuild (${mode})`,
    params: { mode },
    // Both recount references: no commit may change one meanwhile (runMaintenance holds the lock for it).
    blockCommits: true,
    run: async () => ({ mode, ...(await rebuildFromAttrFiles(deps, { incremental: mode === 'incremental' })) }),
  };
}

export function consistencyTask(deps: RebuildDeps): MaintenanceTask {
  return {
    operation: 'index_consistency',
    label: 'index consistency report',
    // It only reads, and checks every orphan again at the end: commits go on.
    blockCommits: false,
    run: async () => ({ ...(await checkIndexConsistency({ db: deps.db, attrStore: deps.attrStore ?? openStorage(deps.config).attrStore })) }),
  };
}

/** Deletes the temporary files whose time has passed and says what it did (SPEC §10 retention). */
export type CleanupExpired = () => Promise<Record<string, unknown>>;

export function cleanupExpiredTask(cleanup: CleanupExpired): MaintenanceTask {
  return {
    operation: 'index_cleanup_expired',
    label: 'cleanup of expired files',
    // Its deletions go through the delete path, whose jobs take the lock shared: holding it here would stall them.
    blockCommits: false,
    run: cleanup,
  };
}
