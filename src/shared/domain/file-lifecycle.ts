// The lifecycle of temporary files (SPEC §10): in `edit` mode, files whose expiresAt has passed are deleted through
// the same path as DELETE /api/v1/files/{id} (soft delete and a delete job: WAL, attr.json tombstone, blob released),
// so a legal hold or a live retention keeps them (retention-rules.ts). Other modes remove nothing.
import type { Mode } from '../config.js';
import { isAppError } from '../errors.js';
import { findExpiredFiles, type ExpiredFile } from '../records/expired-files.js';
import { requestDelete, type RequestDeps } from './file-requests.js';
import type { ModeReader } from './modes.js';
import type { Principal } from './principal.js';
import { deletionBlockedBy } from './retention-rules.js';

/** Files read per batch; a run reads at most MAX_BATCHES of them and leaves the rest to the next run. */
export const LIFECYCLE_BATCH = 200;
export const LIFECYCLE_MAX_BATCHES = 25;

/** The actor the lifecycle's delete jobs and WAL entries name. */
export const LIFECYCLE_PRINCIPAL: Principal = { sub: 'system:lifecycle', role: 'admin', name: 'lifecycle job' };

/** Recorded in each delete job's params and WAL entry, as a GC records its reason and cleanup type. */
const LIFECYCLE_DELETE_DETAILS = { source: 'lifecycle', reason: 'temporary file expired', cleanupType: 'ttl_expired' };

export type LifecycleDeps = RequestDeps & { modes: Pick<ModeReader, 'current'> };

export interface CleanupResult {
  /** The element's mode: only `edit` removes anything. */
  mode: Mode;
  /** Expired files whose deletion was recorded (their delete jobs finish them). */
  deleted: number;
  /**
   * Expired files found deletable that a legal hold or a retain-until set meanwhile kept (the delete's own check on
   * the locked row). Files already kept when the run reads are not read at all (records/expired-files.ts).
   */
  skipped: number;
  /** True when the run stopped at its bound with more expired files left for the next run. */
  more: boolean;
}

/**
 * Deletes the temporary files that expired at or before `now`, at most batch x maxBatches per call (bounds: the
 * defaults LIFECYCLE_BATCH and LIFECYCLE_MAX_BATCHES unless a test asks for less). Errors other than a file deleted
 * or held meanwhile are thrown: the run fails visibly and the next one goes on.
 */
export async function cleanupExpiredFiles(
  deps: LifecycleDeps,
  now: Date = new Date(),
  { batch: batchSize = LIFECYCLE_BATCH, maxBatches = LIFECYCLE_MAX_BATCHES } = {},
): Promise<CleanupResult> {
  const result: CleanupResult = { mode: await deps.modes.current(), deleted: 0, skipped: 0, more: false };
  if (result.mode !== 'edit') return result;
  let after: ExpiredFile | undefined;
  for (let batch = 0; batch < maxBatches; batch++) {
    const files = await findExpiredFiles(deps.db, now, batchSize, after);
    for (const file of files) {
      if (deletionBlockedBy(file, now)) {
        result.skipped++;
        continue;
      }
      try {
        await requestDelete(deps, LIFECYCLE_PRINCIPAL, file.id, LIFECYCLE_DELETE_DETAILS);
        result.deleted++;
      } catch (err) {
        // Held since the read (the delete's own check, on the locked row, is the one that counts), or gone already.
        if (isAppError(err, 'retention_active')) result.skipped++;
        else if (!isAppError(err, 'not_found')) throw err;
      }
    }
    if (files.length < batchSize) return result;
    after = files.at(-1);
  }
  return { ...result, more: true };
}
