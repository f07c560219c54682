// Staging janitor: removes staged files that no unfinished job owns once they are older than STAGING_MAX_AGE_HOURS
// (uploads cut off in ways multer could not clean up, a process killed mid-request).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Db } from '../db.js';
import type { Logger } from '../logger.js';
import { removeStagedFiles } from '../storage/staging.js';

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
  const old: string[] = [];
  for (const name of names) {
    const file = path.join(stagingPath, name);
    const stat = await fs.stat(file).catch(() => null);
    if (stat?.isFile() && stat.mtimeMs < cutoff) old.push(file);
  }
  if (old.length === 0) return { scanned: names.length, removed: 0, kept: 0 };
  // A job that is not final still owns its staged file, however old (a long queue, a paused worker).
  const owned = await deps.db.ingestJob.findMany({
    where: { stagedPath: { in: old }, state: { notIn: ['committed', 'duplicate', 'failed'] } },
    select: { stagedPath: true },
  });
  const keep = new Set(owned.map((j) => j.stagedPath));
  const orphans = old.filter((f) => !keep.has(f));
  await removeStagedFiles(orphans);
  if (orphans.length > 0) deps.logger.info({ removed: orphans.length, stagingMaxAgeHours }, 'janitor removed abandoned staged files');
  return { scanned: names.length, removed: orphans.length, kept: keep.size };
}

/** How often the janitor runs: a quarter of the age limit, at most hourly, at least every minute. */
export function janitorIntervalMs(config: Pick<Config, 'stagingMaxAgeHours'>): number {
  return Math.min(3_600_000, Math.max(60_000, (config.stagingMaxAgeHours * 3_600_000) / 4));
}
