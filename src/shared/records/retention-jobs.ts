// What a retention or legal-hold change (an 'update' job with params.retention) asks of the jobs table: whether a
// change of the same kind to the same file, requested after it, has already been applied (domain/file-jobs.ts).
import type { DbClient } from './database.js';

/**
 * True when an update job of the same retention kind ('retention' or 'legal-hold') on the same file, created after
 * this one (created_at, then id), has committed.
 */
export async function laterRetentionChangeCommitted(
  db: DbClient,
  job: { id: string; fileId: string; createdAt: Date },
  kind: 'retention' | 'legal-hold',
): Promise<boolean> {
  const rows = await db.$queryRaw<Array<{ one: number }>>`
    SELECT 1 AS one FROM file_jobs
    WHERE file_id = ${job.fileId}::uuid AND kind = 'update' AND state = 'committed' AND params->'retention'->>'kind' = ${kind}
      AND (created_at, id) > (${job.createdAt}::timestamptz, ${job.id}::uuid)
    LIMIT 1`;
  return rows.length > 0;
}
