// Staging janitor: removes the staged files of finished jobs at once, files that no job owns once their writer (an
// API process) is gone, and any such file older than STAGING_MAX_AGE_HOURS (uploads cut off in ways multer could
// not clean up, a process killed mid-request).
import type { Config } from '../config.js';
import type { Db } from '../records/database.js';
import { selectStagedPathOwners } from '../records/file-jobs.js';
import type { Logger } from '../logger.js';
import { removeFilesOlderThan } from '../storage/durable-fs.js';
import type { StagedEntry, StagingStore } from '../storage/staging-store.js';
import { confirmedLive, isAbandoned, removeAbandonedFiles, writerOfFile } from '../storage/writers.js';

export interface JanitorReport {
  scanned: number;
  removed: number;
  kept: number;
}

export interface JanitorDeps {
  db: Db;
  config: Pick<Config, 'stagingPath' | 'stagingMaxAgeHours'>;
  staging: StagingStore;
  logger: Logger;
  /** Of these staging writer ids, the live ones (writers.ts); without it only age tells a file abandoned. */
  liveOwners?: (ids: string[]) => Promise<Set<string>>;
  /** How long a writer seen dead is given to show up again before its files go (writers.ts). */
  confirmDeadAfterMs?: number;
}

export async function sweepStaging(deps: JanitorDeps, now = Date.now()): Promise<JanitorReport> {
  const { stagingMaxAgeHours } = deps.config;
  const maxAgeMs = stagingMaxAgeHours * 3_600_000;
  if (deps.staging.backend !== 'local') await sweepScratch(deps, maxAgeMs, now);
  const files: StagedEntry[] = [];
  for await (const entry of deps.staging.list()) files.push(entry);
  if (files.length === 0) return { scanned: 0, removed: 0, kept: 0 };
  const owners = await selectStagedPathOwners(deps.db, files.map((f) => f.ref));
  const finished = new Set(owners.filter((o) => o.final).map((o) => o.stagedPath));
  // A job that is not final still owns its staged upload, however old (a long queue, a paused worker).
  const keep = new Set(owners.filter((o) => !o.final).map((o) => o.stagedPath));
  // An upload no job names may be one still being written: it goes once its writer is gone (the writer's
  // key expired, and the upload is older than that key's lifetime) or, failing that, once it is old.
  const unowned = files.filter((f) => !finished.has(f.ref) && !keep.has(f.ref));
  const writers = unowned.map((f) => writerOfFile(f.ref)).filter((id): id is string => id !== null);
  const live = deps.liveOwners && writers.length > 0 ? await confirmedLive(deps.liveOwners, writers, deps.confirmDeadAfterMs) : null;
  const abandoned = (f: StagedEntry) => isAbandoned(f.ref, f.modifiedMs, live, maxAgeMs, now);
  // The staged upload of a finished job goes at once, whatever its age: its run died between the commit (or the
  // failure) and removing it.
  let candidates = unowned.filter(abandoned).map((f) => f.ref);
  // Confirming a writer dead took a while: an upload a job claimed meanwhile is the job's now.
  if (candidates.length > 0) {
    const claimedMeanwhile = new Set((await selectStagedPathOwners(deps.db, candidates)).map((c) => c.stagedPath));
    candidates = candidates.filter((f) => !claimedMeanwhile.has(f));
  }
  const remove = [...files.filter((f) => finished.has(f.ref)).map((f) => f.ref), ...candidates];
  await deps.staging.remove(remove);
  if (remove.length > 0) {
    deps.logger.info({ removed: remove.length, ofFinishedJobs: finished.size, stagingMaxAgeHours }, 'janitor removed staged uploads no job needs');
  }
  return { scanned: files.length, removed: remove.length, kept: keep.size };
}

/**
 * With staging in the bucket, STAGING_PATH holds only this host's scratch, which no job row names: parts of uploads
 * whose API process died mid-request, and worker copies left by a killed worker. Writer keys and age decide.
 */
export async function sweepScratch(
  deps: Pick<JanitorDeps, 'config' | 'staging' | 'liveOwners' | 'confirmDeadAfterMs' | 'logger'>,
  maxAgeMs = deps.config.stagingMaxAgeHours * 3_600_000,
  now = Date.now(),
): Promise<number> {
  const { stagingPath } = deps.config;
  const parts = deps.liveOwners
    ? await removeAbandonedFiles(stagingPath, deps.liveOwners, maxAgeMs, now, deps.confirmDeadAfterMs)
    : await removeFilesOlderThan(stagingPath, new Date(now - maxAgeMs));
  // A worker's copies are released by the worker on every path; those of a worker that died go with its writer key.
  const copies = deps.liveOwners ? await deps.staging.sweepScratch(deps.liveOwners, deps.confirmDeadAfterMs) : 0;
  if (parts + copies > 0) deps.logger.info({ parts, copies }, 'janitor removed scratch files of staging');
  return parts + copies;
}

/**
 * How often the janitor runs: every minute (one directory listing and one indexed query), so that what a killed
 * process left is gone within minutes; never less often than a quarter of the age limit.
 */
export function janitorIntervalMs(config: Pick<Config, 'stagingMaxAgeHours'>): number {
  return Math.min(60_000, Math.max(1_000, (config.stagingMaxAgeHours * 3_600_000) / 4));
}
