// WAL compaction: settled entries (committed, rolled back) past their retention removed in bounded batches.
import { poolOf, type Db } from './database.js';

/**
 * Removes up to limit committed or rolled-back entries started before olderThan; answers how many. The inner
 * select is served by wal_entries(status, started_at), so a batch costs its rows, not the table. Pending entries
 * (recovery's) and failed ones (kept for the record of what went wrong) stay.
 */
export async function deleteSettledWalEntries(db: Db, olderThan: Date, limit: number): Promise<number> {
  const { rowCount } = await poolOf(db).query(
    `DELETE FROM wal_entries WHERE id IN (
       SELECT id FROM wal_entries WHERE status IN ('committed', 'rolled_back') AND started_at < $1 LIMIT $2
     )`,
    [olderThan, limit],
  );
  return rowCount ?? 0;
}
