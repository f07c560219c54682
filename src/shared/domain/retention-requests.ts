// API-side retention and legal-hold changes (SPEC §10): checked at once against the rules, then recorded as an
// 'update' job, so the worker writes them as it writes every metadata change (WAL, attr.json, row) and judges them
// again against the row it commits on.
import type { Prisma } from '../records/database.js';
import { createFileJob, type FileJob } from '../records/file-jobs.js';
import { findLiveFileRow, toFileMetadata } from '../records/files.js';
import { AppError } from '../errors.js';
import { isUuid } from '../../contract/ids.js';
import { enqueueAfterCommit, jobRow, type RequestDeps } from './file-requests.js';
import type { Principal } from './principal.js';
import { applyRetentionChange, assertMayChangeRetention, assertMayHold, type RetentionChange } from './retention-rules.js';

/**
 * Records a retention or legal-hold change of a live file as an 'update' job (revision + 1 when applied). 404 for
 * no such file, 403 for a principal the rules do not allow, 409 retention_active for a change the file's current
 * retention forbids.
 */
export async function requestRetentionChange(
  deps: RequestDeps,
  principal: Principal,
  fileId: string,
  change: RetentionChange,
): Promise<FileJob> {
  const file = isUuid(fileId) ? await findLiveFileRow(deps.db, fileId.toLowerCase()) : null;
  if (!file) throw new AppError('not_found', `no file ${fileId}`);
  if (change.kind === 'legal-hold') assertMayHold(principal);
  else assertMayChangeRetention(principal, file.owner, change.bypassGovernance);
  applyRetentionChange(toFileMetadata(file), change, new Date());
  const params = { patch: {}, expectedRevision: null, retention: change } satisfies Prisma.InputJsonObject;
  const job = await createFileJob(deps.db, jobRow('update', principal, file, params));
  await enqueueAfterCommit(deps, 'update-metadata', job);
  return job;
}
