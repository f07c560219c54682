// Staging janitor: removes the staged files of finished jobs at once, files that no job owns once their writer (an
// API process) is gone, and any such file older than STAGING_MAX_AGE_HOURS (uploads cut off in ways multer could
// not clean up, a process killed mid-request).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Db } from '../records/database.js';
import { selectStagedPathOwners } from '../records/file-jobs.js';
import type { Logger } from '../logger.js';
import { removeStagedFiles } from '../storage/staging.js';
import { confirmedLive, isAbandoned, writerOfFile } from '../storage/writers.js';

export interface JanitorReport {
  scanned: number;
  removed: number;
  kept: number;
}

export interface JanitorDeps {
  db: Db;
  config: Pick<Config, 'stagingPath' | 'stagingMaxAgeHours'>;
  logger: Logger;
  /** Of these staging writer ids, the live ones (writers.ts); without it only age tells a file abandoned. */
  liveOwners?: (ids: string[]) => Promise<Set<string>>;
  /** How long a writer seen dead is given to show up again before its files go (writers.ts). */
  confirmDeadAfterMs?: number;
}

export async function sweepStaging(deps: JanitorDeps, now = Date.now()): Promise<JanitorReport> {
  const { stagingPath, stagingMaxAgeHours } = deps.config;
  const names = await fs.readdir(stagingPath).catch(() => [] as string[]);
  const files: Array<{ file: string; mtimeMs: number }> = [];
  for (const name of names) {
    const file = path.join(stagingPath, name);
    const stat = await fs.stat(file).catch(() => null);
    if (stat?.isFile()) files.push({ file, mtimeMs: stat.mtimeMs });
  }
  if (files.length === 0) return { scanned: names.length, removed: 0, kept: 0 };
  const owners = await selectStagedPathOwners(deps.db, files.map((f) => f.file));
  const finished = new Set(owners.filter((o) => o.final).map((o) => o.stagedPath));
  // A job that is not final still owns its staged file, however old (a long queue, a paused worker).
  const keep = new Set(owners.filter((o) => !o.final).map((o) => o.stagedPath));
  // A file no job names may be an upload still being written: it goes once its writer is gone (the writer's
  // key expired, and the file is older than that key's lifetime) or, failing that, once it is old.
  const unowned = files.filter((f) => !finished.has(f.file) && !keep.has(f.file));
  const writers = unowned.map((f) => writerOfFile(f.file)).filter((id): id is string => id !== null);
  const live = deps.liveOwners && writers.length > 0 ? await confirmedLive(deps.liveOwners, writers, deps.confirmDeadAfterMs) : null;
  const maxAgeMs = stagingMaxAgeHours * 3_600_000;
  const abandoned = (f: { file: string; mtimeMs: number }) => isAbandoned(f.file, f.mtimeMs, live, maxAgeMs, now);
  // The staged file of a finished job goes at once, whatever its age: its run died between the commit (or the
  // failure) and removing it.
  let candidates = unowned.filter(abandoned).map((f) => f.file);
  // Confirming a writer dead took a while: a file a job claimed meanwhile is the job's now.
  if (candidates.length > 0) {
    const claimedMeanwhile = new Set((await selectStagedPathOwners(deps.db, candidates)).map((c) => c.stagedPath));
    candidates = candidates.filter((f) => !claimedMeanwhile.has(f));
  }
  const remove = [...files.filter((f) => finished.has(f.file)).map((f) => f.file), ...candidates];
  await removeStagedFiles(remove);
  if (remove.length > 0) {
    deps.logger.info({ removed: remove.length, ofFinishedJobs: finished.size, stagingMaxAgeHours }, 'janitor removed staged files no job needs');
  }
  return { scanned: names.length, removed: remove.length, kept: keep.size };
}

/**
 * How often the janitor runs: every minute (one directory listing and one indexed query), so that what a killed
 * process left is gone within minutes; never less often than a quarter of the age limit.
 */
export function janitorIntervalMs(config: Pick<Config, 'stagingMaxAgeHours'>): number {
  return Math.min(60_000, Math.max(1_000, (config.stagingMaxAgeHours * 3_600_000) / 4));
}
