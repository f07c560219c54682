// What the GC interface (SPEC §10) asks of past deletions: who deleted a file, when and why.
import type { Db } from './database.js';

export interface PastDeletion {
  deletedAt: Date;
  /** The principal that asked (null when only the file row's tombstone tells, e.g. after an index rebuild). */
  deletedBy: string | null;
  reason: string | null;
}

/**
 * The earliest deletion of the file: its first delete job (the request that hid it), else the deleted row's
 * time. Null when neither exists: the file never existed here (or its history has been compacted away).
 */
export async function findPastDeletion(db: Db, fileId: string): Promise<PastDeletion | null> {
  const [row] = await db.$queryRaw<Array<{ created_at: Date | null; principal: string | null; reason: unknown; deleted_at: Date | null }>>`
    SELECT j.created_at, j.principal, j.params->'reason' AS reason, f.deleted_at
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
      SELECT created_at, principal, params FROM file_jobs WHERE file_id = ${fileId}::uuid AND kind = 'delete'
      ORDER BY created_at LIMIT 1
    ) AS j ON true
    LEFT JOIN files f ON f.id = ${fileId}::uuid AND f.deleted_at IS NOT NULL`;
  if (!row) return null;
  const deletedAt = row.created_at ?? row.deleted_at;
  if (!deletedAt) return null;
  return { deletedAt, deletedBy: row.principal, reason: typeof row.reason === 'string' ? row.reason : null };
}
