// API-side requests on stored files: metadata patches and deletions become jobs (the worker owns the storage).
import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../redis.js';
import type { z } from 'zod';
import type { metadataPatchSchema } from '../../contract/file-edits.js';
import type { Db, Prisma } from '../records/database.js';
import { softDeleteFileWithJob } from '../records/file-commits.js';
import { findLiveFileRow, type FileRow } from '../records/files.js';
import { createFileJob, type FileJob } from '../records/file-jobs.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { enqueue, type EnqueueConfig, type Queues } from '../queues.js';
import { can, type Principal } from './principal.js';
import type { Config } from '../config.js';
import { announceFileChange } from './file-changes.js';
import type { ServableFileCache } from './servable-files.js';
import { isUuid } from '../../contract/ids.js';
import { jobActorParams } from '../records/audit-actors.js';
import { deleteEvent } from './audit-events.js';
import { assertDeletable } from './retention-rules.js';

export interface RequestDeps {
  db: Db;
  queues: Queues;
  config: EnqueueConfig & Pick<Config, 'queuePrefix'>;
  logger: Logger;
  /** This process's download cache: a deletion is dropped from it before the request answers. */
  servableFiles?: Pick<ServableFileCache, 'invalidate'>;
  /** Announces deletions to the other API processes (file-changes.ts). */
  redis?: RedisConnection;
}

export type MetadataPatch = z.output<typeof metadataPatchSchema>;

/** The row of an update or delete job on this file. */
export function jobRow(
  kind: 'update' | 'delete',
  principal: Principal,
  file: Pick<FileRow, 'id' | 'fileName' | 'contentType' | 'size' | 'sha256'>,
  params: Prisma.InputJsonObject,
) {
  const now = new Date();
  // Audit trail (issue 17): the requester's role, token type and origin, for the worker's events of this job.
  params = { ...params, actor: { ...jobActorParams(principal) } };
  return {
    id: randomUUID(),
    kind,
    state: 'queued',
    progress: 0,
    principal: principal.sub,
    principalName: principal.name ?? null,
    fileName: file.fileName,
    contentType: file.contentType,
    size: file.size,
    sha256: file.sha256,
    fileId: file.id,
    params,
    createdAt: now,
    updatedAt: now,
  };
}

export async function enqueueAfterCommit(deps: RequestDeps, name: 'update-metadata' | 'delete-file', job: FileJob): Promise<void> {
  try {
    await enqueue(deps.queues, deps.config, name, [{ id: job.id, payload: { ingestJobId: job.id } }]);
  } catch (err) {
    deps.logger.warn({ err, jobId: job.id }, 'enqueue failed; the job stays queued for the requeue sweep');
  }
}

/** Parses an If-Match value naming a revision: `3`, `"3"` or `W/"3"`. */
export function parseRevision(ifMatch: string): number {
  const m = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(ifMatch);
  if (!m) throw new AppError('validation_failed', 'If-Match must name a revision, e.g. "3"', { parameter: 'If-Match' });
  return Number(m[1]);
}

/**
 * Records a metadata patch as an 'update' job. Owners may patch their own files; operators and admins any.
 * A stale If-Match answers 412 at once; the worker checks it again when it applies the patch.
 */
export async function requestMetadataUpdate(
  deps: RequestDeps,
  principal: Principal,
  fileId: string,
  patch: MetadataPatch,
  expectedRevision?: number,
): Promise<FileJob> {
  const file = isUuid(fileId) ? await findLiveFileRow(deps.db, fileId.toLowerCase()) : null;
  if (!file) throw new AppError('not_found', `no file ${fileId}`);
  if (!can(principal, 'file:patch-any') && file.owner !== principal.sub) {
    throw new AppError('forbidden', 'only the owner, an operator or an admin may patch this file');
  }
  if (expectedRevision !== undefined && expectedRevision !== file.revision) {
    throw new AppError('precondition_failed', `If-Match names revision ${expectedRevision}; the file is at revision ${file.revision}`);
  }
  const params = { patch: patch as Prisma.InputJsonObject, expectedRevision: expectedRevision ?? null };
  const job = await createFileJob(deps.db, jobRow('update', principal, file, params));
  await enqueueAfterCommit(deps, 'update-metadata', job);
  return job;
}

/**
 * Deletes a file as readers see it at once (404 from now on) and records a 'delete' job that releases its
 * blob reference; the bytes go when no file references them and the grace period has passed. A legal hold or an
 * unexpired retention refuses it (409 retention_active), checked on the locked row inside the delete's transaction.
 */
export async function requestDelete(
  deps: RequestDeps,
  principal: Principal,
  fileId: string,
  /** Recorded in the job's params and its WAL entry (a GC's reason and cleanup type). */
  details: Prisma.InputJsonObject = {},
): Promise<FileJob> {
  if (!isUuid(fileId)) throw new AppError('not_found', `no file ${fileId}`);
  const job = await softDeleteFileWithJob(
    deps.db,
    fileId.toLowerCase(),
    (file) => {
      assertDeletable(file, new Date());
      return jobRow('delete', principal, file, details);
    },
    (file, j) => deleteEvent(principal, file, j, details),
  );
  if (!job) throw new AppError('not_found', `no file ${fileId}`);
  deps.servableFiles?.invalidate({ fileId: job.fileId });
  await announceFileChange(deps.redis, deps.config.queuePrefix, { fileId: job.fileId }, deps.logger);
  await enqueueAfterCommit(deps, 'delete-file', job);
  return job;
}
