// WAL compaction (SPEC §11): the WAL is a recovery log, not history; the audit trail is the history that stays.
import type { Config } from '../config.js';
import { deleteSettledWalEntries } from '../records/wal-compaction.js';
import type { Db } from '../records/database.js';

/** Rows one DELETE removes: short statements, so commits and recovery never wait long on compaction. */
export const WAL_COMPACTION_BATCH = 1_000;
/** Batches one run removes at most; the next run goes on (a first run on an old element has a backlog). */
const MAX_BATCHES_PER_RUN = 200;

/** Removes settled entries older than WAL_RETENTION_DAYS; answers how many (0 when retention is 0 = off). */
export async function compactWal(deps: { db: Db; config: Pick<Config, 'walRetentionDays'> }, now = new Date()): Promise<number> {
  if (deps.config.walRetentionDays <= 0) return 0;
  const olderThan = new Date(now.getTime() - deps.config.walRetentionDays * 86_400_000);
  let removed = 0;
  for (let batch = 0; batch < MAX_BATCHES_PER_RUN; batch++) {
    const n = await deleteSettledWalEntries(deps.db, olderThan, WAL_COMPACTION_BATCH);
    removed += n;
    if (n < WAL_COMPACTION_BATCH) break;
  }
  return removed;
}
