// The lifecycle job's read (domain/file-lifecycle.ts): live temporary files whose expiry has passed, in
// (expires_at, id) order so a run pages through them on files_expires_at_id_idx.
import type { Db } from './database.js';

export interface ExpiredFile {
  id: string;
  expiresAt: Date;
  legalHold: boolean;
  retainUntil: Date | null;
}

/**
 * Up to limit live temporary files that expired at or before now and that no legal hold or live retain-until keeps,
 * after the position `after` (the last one read). Kept files are left out here, not skipped by the caller: a run
 * reads a bounded number of rows from the start of the expiry order, so kept files at its head would otherwise fill
 * every run and starve the deletable ones behind them.
 */
export async function findExpiredFiles(db: Db, now: Date, limit: number, after?: Pick<ExpiredFile, 'expiresAt' | 'id'>): Promise<ExpiredFile[]> {
  const from = after ?? { expiresAt: new Date(0), id: '00000000-0000-0000-0000-000000000000' };
  return db.$queryRaw<ExpiredFile[]>`
    SELECT id::text, expires_at AS "expiresAt", legal_hold AS "legalHold", retain_until AS "retainUntil" FROM files
    WHERE retention_policy = 'temporary' AND expires_at <= ${now}::timestamptz AND deleted_at IS NULL
      AND NOT legal_hold AND (retain_until IS NULL OR retain_until <= ${now}::timestamptz)
      AND (expires_at, id) > (${from.expiresAt}::timestamptz, ${from.id}::uuid)
    ORDER BY expires_at, id
    LIMIT ${limit}`;
}
