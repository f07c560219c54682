// The element_state table: the element's mode history (latest row wins), and the advisory lock that orders mode
// changes against the commits that must see the current mode.
import type { Mode } from '../config.js';
import type { Db, DbClient, Prisma } from './database.js';

type Tx = Prisma.TransactionClient;

/** The advisory lock that orders mode changes against commits that must see the current mode. */
const MODE_LOCK_SQL = "hashtext('artstore:element-mode')";

/** The persisted mode (latest row), or null on an element that has none yet. */
export async function latestMode(client: DbClient): Promise<Mode | null> {
  const latest = await client.elementState.findFirst({ orderBy: { id: 'desc' }, select: { mode: true } });
  return (latest?.mode as Mode | undefined) ?? null;
}

/**
 * Inside a commit transaction: the persisted mode, read under a shared hold of the lock mode changes take
 * exclusively, so the commit lands either before a mode change or sees it, never in between.
 */
export async function latestModeForCommit(tx: Tx): Promise<Mode | null> {
  await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock_shared(${MODE_LOCK_SQL})`);
  const [latest] = await tx.$queryRaw<Array<{ mode: Mode }>>`SELECT mode FROM element_state ORDER BY id DESC LIMIT 1`;
  return latest?.mode ?? null;
}

/** Runs fn in a transaction holding the mode lock exclusively: one mode change at a time, element-wide. */
export async function inModeChangeTx<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${MODE_LOCK_SQL})`);
    return fn(tx);
  });
}

/** Inside inModeChangeTx: whether the element has any mode row. */
export async function hasModeRows(tx: Tx): Promise<boolean> {
  return (await tx.elementState.count()) > 0;
}

/** Inside inModeChangeTx: appends a mode row (changedAt defaults to now). */
export async function appendModeRow(
  tx: Tx,
  row: { mode: Mode; changedBy: string; reason: string | null; changedAt?: Date },
): Promise<void> {
  await tx.elementState.create({ data: row });
}
