// The index-maintenance lock: a full rebuild recomputes reference counts from the file rows, so no commit that
// changes a reference count (ingest, delete, GC) may run while it does. One PostgreSQL advisory lock, shared by
// every such commit for the length of its transaction and held exclusively by the rebuild, works across every
// API and worker process and ends with the session of a process that dies holding it.
import type pg from 'pg';
import { poolOf, type Db, type Prisma } from './database.js';

/** An arbitrary constant that names this lock among the advisory locks of the database. */
export const MAINTENANCE_LOCK_KEY = '4702111234474983745';
/** Held (try-lock, never waited for) by the one maintenance run allowed at a time. */
export const MAINTENANCE_RUN_KEY = '4702111234474983746';

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
 * new ones waiting until fn ends. Refuses at once (MaintenanceBusyError) when another maintenance run is going.
 * With blockCommits false only the one-run-at-a-time key is held: a read-only run (a consistency report) that
 * must not hold up commits.
 */
export async function withMaintenanceLock<T>(db: Db, fn: () => Promise<T>, options: { blockCommits?: boolean } = {}): Promise<T> {
  const client: pg.PoolClient = await poolOf(db).connect();
  const held: string[] = [];
  try {
    // The run key first, with a try-lock: a second run is refused instead of queueing behind the first (a
    // waiting exclusive request would also hold up every commit for both runs).
    const { rows: [run] } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${MAINTENANCE_RUN_KEY}::bigint) AS ok`);
    if (!run?.ok) throw new MaintenanceBusyError();
    held.push(MAINTENANCE_RUN_KEY);
    if (options.blockCommits ?? true) {
      await client.query(`SELECT pg_advisory_lock(${MAINTENANCE_LOCK_KEY}::bigint)`);
      held.push(MAINTENANCE_LOCK_KEY);
    }
    return await fn();
  } finally {
    let unlocked = true;
    for (const key of held.reverse()) {
      unlocked = (await client.query(`SELECT pg_advisory_unlock(${key}::bigint)`).then(() => true, () => false)) && unlocked;
    }
    // A client whose unlock failed is discarded, which ends its session and so its locks.
    client.release(!unlocked);
  }
}

const LOCK_CLASS = Number(BigInt(MAINTENANCE_LOCK_KEY) >> 32n);
const LOCK_OBJ = Number(BigInt(MAINTENANCE_LOCK_KEY) & 0xffffffffn);

/** Waits, holding no connection, while a maintenance run holds (or waits for) the lock in this database. */
export async function awaitMaintenanceIdle(db: Db, pollMs = 1_000): Promise<void> {
  for (;;) {
    const { rows: [row] } = await poolOf(db).query<{ busy: boolean }>(
      `SELECT EXISTS (
         SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ExclusiveLock' AND classid = $1 AND objid = $2
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
       ) AS busy`,
      [LOCK_CLASS, LOCK_OBJ],
    );
    if (!row?.busy) return;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * Runs fn in a transaction that holds the lock shared. While a maintenance run holds it, this waits outside any
 * transaction (an interactive transaction would time out, and hold a connection, for the length of a rebuild).
 */
export async function inMaintenanceSharedTx<T>(db: Db, fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  for (;;) {
    await awaitMaintenanceIdle(db);
    try {
      return await db.$transaction(async (tx) => {
        const [row] = await tx.$queryRawUnsafe<Array<{ ok: boolean }>>(`SELECT pg_try_advisory_xact_lock_shared(${MAINTENANCE_LOCK_KEY}::bigint) AS ok`);
        // A run started between the wait and here: let it go first.
        if (!row?.ok) throw new MaintenanceBusyError();
        return fn(tx);
      });
    } catch (err) {
      if (!(err instanceof MaintenanceBusyError)) throw err;
    }
  }
}
