// Staging janitor: removes the staged files of finished jobs at once, and files that no job owns once they are older
// than STAGING_MAX_AGE_HOURS (uploads cut off in ways multer could not clean up, a process killed mid-request).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import type { Logger } from '../logger.js';
import { removeStagedFiles } from '../storage/staging.js';
import { FINAL_JOB_STATES } from './job-view.js';

export interface JanitorReport {
  scanned: number;
  removed: number;
  kept: number;
}

export async function sweepStaging(
  deps: { db: Db; config: Pick<Config, 'stagingPath' | 'stagingMaxAgeHours'>; logger: Logger },
  now = Date.now(),
): Promise<JanitorReport> {
  const { stagingPath, stagingMaxAgeHours } = deps.config;
  const cutoff = now - stagingMaxAgeHours * 3_600_000;
  const names = await fs.readdir(stagingPath).catch(() => [] as string[]);
  const files: Array<{ file: string; mtimeMs: number }> = [];
  for (const name of names) {
    const file = path.join(stagingPath, name);
    const stat = await fs.stat(file).catch(() => null);
    if (stat?.isFile()) files.push({ file, mtimeMs: stat.mtimeMs });
  }
  if (files.length === 0) return { scanned: names.length, removed: 0, kept: 0 };
  const owners = await deps.db.$queryRaw<Array<{ staged_path: string; final: boolean }>>`
    SELECT staged_path, state = ANY(${[...FINAL_JOB_STATES]}::text[]) AS final
    FROM ingest_jobs WHERE staged_path = ANY(${files.map((f) => f.file)}::text[])`;
  const finished = new Set(owners.filter((o) => o.final).map((o) => o.staged_path));
  // A job that is not final still owns its staged file, however old (a long queue, a paused worker).
  const keep = new Set(owners.filter((o) => !o.final).map((o) => o.staged_path));
  // The staged file of a finished job goes at once, whatever its age: its run died between the commit (or the
  // failure) and removing it. A file no job names goes once it is old: an upload may still be writing it.
  const remove = files.filter((f) => finished.has(f.file) || (!keep.has(f.file) && f.mtimeMs < cutoff)).map((f) => f.file);
  await removeStagedFiles(remove);
  if (remove.length > 0) {
    deps.logger.info({ removed: remove.length, ofFinishedJobs: finished.size, stagingMaxAgeHours }, 'janitor removed staged files no job needs');
  }
  return { scanned: names.length, removed: remove.length, kept: keep.size };
}

/** How often the janitor runs: a quarter of the age limit, at most hourly, at least every minute. */
export function janitorIntervalMs(config: Pick<Config, 'stagingMaxAgeHours'>): number {
  return Math.min(3_600_000, Math.max(60_000, (config.stagingMaxAgeHours * 3_600_000) / 4));
}
