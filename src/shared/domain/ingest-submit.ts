// Turning staged uploads into ingest jobs: one database transaction (with Idempotency-Key replay), then enqueue.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db.js';
import { Prisma } from '../db.js';
import type { IngestJob } from '../db/generated/client.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { enqueue, type EnqueueConfig, type Queues } from '../queues.js';
import { removeStagedFiles } from '../storage/staging.js';
import type { Principal } from './principal.js';

export const IDEMPOTENCY_WINDOW_MS = 24 * 3_600 * 1_000;

export interface StagedUpload {
  stagedPath: string;
  fileName: string;
  contentType: string;
  size: number;
}

export interface UploadFields {
  description?: string;
  version?: string;
  tags: string[];
  metadata: Record<string, unknown>;
  sha256?: string;
  fileId?: string;
}

export interface SubmitDeps {
  db: Db;
  queues: Queues;
  config: EnqueueConfig;
  logger: Logger;
}

export interface SubmitResult {
  jobs: IngestJob[];
  /** true when an earlier request with the same Idempotency-Key already created these jobs. */
  replayed: boolean;
}

/**
 * Records one ingest job per staged file and enqueues them after the commit. The staged files belong to the
 * jobs from then on; on every path that creates no job (replay, conflict, error) they are removed here.
 */
export async function submitUpload(
  deps: SubmitDeps,
  principal: Principal,
  staged: StagedUpload[],
  fields: UploadFields,
  idempotencyKey?: string,
): Promise<SubmitResult> {
  let result: SubmitResult;
  try {
    if (staged.length === 0) throw new AppError('validation_failed', "no file: send one or more parts named 'file'");
    if (staged.length > 1 && (fields.sha256 || fields.fileId)) {
      throw new AppError('validation_failed', "'sha256' and 'fileId' apply to a single file; send one file per request", {
        parameter: fields.sha256 ? 'sha256' : 'fileId',
      });
    }
    result = await recordJobs(deps.db, principal, staged, fields, idempotencyKey);
  } catch (err) {
    await removeStagedFiles(staged.map((s) => s.stagedPath));
    throw err;
  }
  if (result.replayed) {
    await removeStagedFiles(staged.map((s) => s.stagedPath));
    return result;
  }
  try {
    await enqueue(deps.queues, deps.config, 'ingest-file', result.jobs.map((j) => ({ id: j.id, payload: { ingestJobId: j.id } })));
  } catch (err) {
    // The jobs are durable in PostgreSQL; the worker's requeue sweep enqueues them once Redis answers again.
    deps.logger.warn({ err, jobIds: result.jobs.map((j) => j.id) }, 'enqueue failed; jobs stay queued for the requeue sweep');
  }
  return result;
}

async function recordJobs(
  db: Db,
  principal: Principal,
  staged: StagedUpload[],
  fields: UploadFields,
  idempotencyKey?: string,
): Promise<SubmitResult> {
  try {
    return await db.$transaction(async (tx) => {
      if (idempotencyKey) {
        const earlier = await tx.ingestJob.findMany({
          where: { principal: principal.sub, idempotencyKey },
          orderBy: { batchIndex: 'asc' },
        });
        if (earlier.length > 0 && earlier[0]!.createdAt.getTime() > Date.now() - IDEMPOTENCY_WINDOW_MS) {
          return { jobs: earlier, replayed: true };
        }
        if (earlier.length > 0) {
          // Past the window the key is free again: detach it from the old jobs.
          await tx.ingestJob.updateMany({ where: { principal: principal.sub, idempotencyKey }, data: { idempotencyKey: null } });
        }
      }
      if (fields.fileId) {
        const taken =
          (await tx.file.count({ where: { id: fields.fileId } })) > 0 ||
          (await tx.ingestJob.count({ where: { fileId: fields.fileId, state: { not: 'failed' } } })) > 0;
        if (taken) throw new AppError('conflict', `file id ${fields.fileId} already exists`, { parameter: 'fileId' });
      }
      const params = {
        description: fields.description ?? null,
        version: fields.version ?? null,
        tags: fields.tags,
        metadata: fields.metadata as Prisma.InputJsonObject,
      } satisfies Prisma.InputJsonObject;
      const now = new Date();
      const rows = staged.map((s, index) => ({
        id: randomUUID(),
        kind: 'ingest',
        state: 'queued',
        progress: 0,
        principal: principal.sub,
        principalName: principal.name ?? null,
        idempotencyKey: idempotencyKey ?? null,
        batchIndex: index,
        fileName: s.fileName,
        contentType: s.contentType,
        size: BigInt(s.size),
        stagedPath: s.stagedPath,
        declaredSha256: fields.sha256 ?? null,
        fileId: fields.fileId ?? randomUUID(),
        params,
        createdAt: now,
        updatedAt: now,
      }));
      await tx.ingestJob.createMany({ data: rows });
      const jobs = await tx.ingestJob.findMany({ where: { id: { in: rows.map((r) => r.id) } }, orderBy: { batchIndex: 'asc' } });
      return { jobs, replayed: false };
    });
  } catch (err) {
    // Two requests raced with the same key: the loser answers with the winner's jobs.
    if (idempotencyKey && err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
      const jobs = await db.ingestJob.findMany({ where: { principal: principal.sub, idempotencyKey }, orderBy: { batchIndex: 'asc' } });
      if (jobs.length > 0) return { jobs, replayed: true };
    }
    throw err;
  }
}
