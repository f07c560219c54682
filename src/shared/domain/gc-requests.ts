// The GC interface of SPEC §10: the Admin Module deletes files (TTL expired, finalized, orphaned) in any mode,
// idempotently, through the same WAL delete path as DELETE /api/v1/files/{id}.
import type { z } from 'zod';
import type { gcDeleteSchema, GcDeleteAnswer } from '../../contract/cluster.js';
import { isUuid } from '../../contract/ids.js';
import { AppError, isAppError } from '../errors.js';
import { findLiveFileRow } from '../records/files.js';
import { findPastDeletion } from '../records/gc-deletions.js';
import { requestDelete, type RequestDeps } from './file-requests.js';
import type { Principal } from './principal.js';

export type GcDeleteRequest = z.output<typeof gcDeleteSchema>;

/**
 * Deletes the file as DELETE /api/v1/files/{id} does (hidden at once, a delete job tombstones attr.json and
 * releases the blob under the WAL), with the reason and cleanup type in the job's params and its WAL entry, but
 * in any mode. A file deleted before (by GC or otherwise, even by a concurrent call) answers already_deleted with
 * that deletion's time, principal and reason; a file that never existed answers 404.
 */
export async function requestGcDelete(deps: RequestDeps, principal: Principal, fileId: string, body: GcDeleteRequest): Promise<GcDeleteAnswer> {
  const id = fileId.toLowerCase();
  const reason = body.reason ?? null;
  try {
    const job = await requestDelete(deps, principal, id, { source: 'gc', reason, cleanupType: body.cleanupType ?? null });
    return { status: 'deleted', fileId: id, deletedAt: job.createdAt.toISOString(), deletedBy: principal.sub, reason };
  } catch (err) {
    if (!isAppError(err, 'not_found') || !isUuid(id)) throw err;
  }
  const past = await findPastDeletion(deps.db, id);
  if (!past) throw new AppError('not_found', `no file ${fileId}`);
  return {
    status: 'already_deleted',
    fileId: id,
    deletedAt: past.deletedAt.toISOString(),
    deletedBy: past.deletedBy ?? 'unknown',
    reason: past.reason,
  };
}

/** Whether the file is stored here and not deleted (a GC's check before and after it asks). */
export async function gcFileExists(deps: Pick<RequestDeps, 'db'>, fileId: string): Promise<boolean> {
  return isUuid(fileId) && (await findLiveFileRow(deps.db, fileId.toLowerCase())) !== null;
}
