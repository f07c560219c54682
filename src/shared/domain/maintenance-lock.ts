// The index-maintenance lock: a full rebuild recomputes reference counts from the file rows, so no commit that
// changes a reference count (ingest, delete, GC) may run while it does. One PostgreSQL advisory lock, shared by
// every such commit for the length of its transaction and held exclusively by the rebuild, works across every
// API and worker process and ends with the session of a process that dies holding it.
import type pg from 'pg';
import { poolOf, type Db } from '../db.js';

/** An arbitrary constant that names this lock among the advisory locks of the database ("ARTSTORE" in ASCII, truncated). */
export const MAINTENANCE_LOCK_KEY = '4702111234474983745';

/** SQL for a commit statement's CTE: waits while a rebuild holds the lock, then holds it shared until the commit. */
export const MAINTENANCE_SHARED_LOCK_SQL = `SELECT pg_advisory_xact_lock_shared(${MAINTENANCE_LOCK_KEY}::bigint)`;

export class MaintenanceBusyError extends Error {
  constructor() {
    super('another index maintenance run holds the lock');
    this.name = 'MaintenanceBusyError';
  }
}

/**
 * Runs fn while holding the lock exclusively: waits for commits in flight (each a short transaction), then keeps
 * new ones waiting until fn ends. Refuses at once (MaintenanceBusyError) when another maintenance run holds it.
 */
export async function withMaintenanceLock<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  const client: pg.PoolClient = await poolOf(db).connect();
  let locked = false;
  try {
    // try-lock first so that two maintenance runs never queue behind each other for hours.
    const { rows: [busy] } = await client.query<{ held: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ExclusiveLock' AND granted
         AND ((classid::bigint << 32) | objid::bigint) = ${MAINTENANCE_LOCK_KEY}::bigint) AS held`,
    );
    if (busy?.held) throw new MaintenanceBusyError();
    await client.query(`SELECT pg_advisory_lock(${MAINTENANCE_LOCK_KEY}::bigint)`);
    locked = true;
    return await fn();
  } finally {
    let unlocked = !locked;
    if (locked) unlocked = await client.query(`SELECT pg_advisory_unlock(${MAINTENANCE_LOCK_KEY}::bigint)`).then(() => true, () => false);
    // A client whose unlock failed is discarded, which ends its session and so the lock.
    client.release(!unlocked);
  }
}
