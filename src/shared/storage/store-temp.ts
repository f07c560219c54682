// STORAGE_PATH/tmp: the one directory where the local stores write temp files (blob copies, attr.json rewrites)
// before renaming them into place, on the same filesystem, so interrupted writes are swept from one place.
import path from 'node:path';
import { removeAbandonedFiles } from './writers.js';

/** Temp files younger than this may belong to a write still running (whoever wrote them). */
export const TEMP_MAX_AGE_MS = 60 * 60_000;

export function storeTempDir(storagePath: string): string {
  return path.join(path.resolve(storagePath), 'tmp');
}

/** Removes the temp files of dead writers (at once) and any older than TEMP_MAX_AGE_MS. */
export async function sweepStoreTemp(
  storagePath: string,
  live: (ids: string[]) => Promise<Set<string>>,
  now = Date.now(),
  confirmAfterMs?: number,
): Promise<number> {
  return removeAbandonedFiles(storeTempDir(storagePath), live, TEMP_MAX_AGE_MS, now, confirmAfterMs);
}
