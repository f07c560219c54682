// Maintenance jobs (kind `maintenance` in file_jobs): an index rebuild, consistency report or cleanup run over
// HTTP (SPEC §10), from the moment it holds the maintenance lock to its result, shown by GET /api/v1/jobs/{id}.
import { FINAL_JOB_STATES } from '../../contract/jobs.js';
import type { Db, Prisma } from './database.js';
import type { FileJob } from './file-jobs.js';
import { MAINTENANCE_RUN_KEY } from './maintenance-lock.js';

const INTERRUPTED = 'interrupted: the process that ran it stopped';

export interface NewMaintenanceJob {
  id: string;
  principal: string;
  principalName: string | null;
  /** What the job list shows as its name, e.g. `index rebuild (full)`. */
  label: string;
  params: Prisma.InputJsonObject;
}

/**
 * Records a run that has just taken the maintenance lock, as `committing` (under way). Any other maintenance job
 * still open is closed as failed in the same transaction: while this run holds the lock, no other can be going,
 * so such a job was left by a process that stopped during its run.
 */
export async function startMaintenanceJob(db: Db, job: NewMaintenanceJob): Promise<FileJob> {
  const now = new Date();
  return db.$transaction(async (tx) => {
    await tx.fileJob.updateMany({
      where: { kind: 'maintenance', state: { notIn: [...FINAL_JOB_STATES] } },
      data: { state: 'failed', errorCode: 'internal', errorMessage: INTERRUPTED, finishedAt: now, updatedAt: now },
    });
    return tx.fileJob.create({
      data: {
        id: job.id,
        kind: 'maintenance',
        state: 'committing',
        progress: 0,
        principal: job.principal,
        principalName: job.principalName,
        fileName: job.label,
        contentType: 'application/json',
        size: 0n,
        // The column is not null; a maintenance job acts on no file, so it holds the job's own id (never shown).
        fileId: job.id,
        params: job.params,
        attempts: 1,
        createdAt: now,
        updatedAt: now,
      },
    });
  });
}

/**
 * Closes as failed the maintenance jobs left open by a process that stopped during its run, when no run is going:
 * the run key is tried for the length of one short transaction (a run starting in that instant is refused with
 * 503 and retried by its caller). Without this, such a job would show `committing` until the next run started.
 * The number of jobs closed; 0 while a run holds the key.
 */
export async function closeOrphanedMaintenanceJobs(db: Db): Promise<number> {
  return db.$transaction(async (tx) => {
    const [row] = await tx.$queryRawUnsafe<Array<{ ok: boolean }>>(`SELECT pg_try_advisory_xact_lock(${MAINTENANCE_RUN_KEY}::bigint) AS ok`);
    if (!row?.ok) return 0;
    const now = new Date();
    const closed = await tx.fileJob.updateMany({
      where: { kind: 'maintenance', state: { notIn: [...FINAL_JOB_STATES] } },
      data: { state: 'failed', errorCode: 'internal', errorMessage: INTERRUPTED, finishedAt: now, updatedAt: now },
    });
    return closed.count;
  });
}

export async function finishMaintenanceJob(db: Db, id: string, result: Prisma.InputJsonObject): Promise<void> {
  const now = new Date();
  await db.fileJob.update({ where: { id }, data: { state: 'committed', progress: 100, result, finishedAt: now, updatedAt: now } });
}

export async function failMaintenanceJob(db: Db, id: string, code: string, message: string): Promise<void> {
  const now = new Date();
  await db.fileJob.update({ where: { id }, data: { state: 'failed', errorCode: code, errorMessage: message, finishedAt: now, updatedAt: now } });
}
