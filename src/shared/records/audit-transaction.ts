// A hot-path statement and its audit events in one transaction on one pooled connection (BEGIN, statement,
// append, COMMIT): the commit statements of ingest run on the pool, outside Prisma's interactive transactions.
import type pg from 'pg';
import { poolOf, type Db } from './database.js';
import { appendAuditEvents } from './audit-events.js';
import type { AuditEventInput } from './audit-record.js';

/**
 * Runs statement, then appends eventsOf(its result) and commits: the change and its events commit together or
 * not at all. The chain's lock is taken by the append, after the statement: it is held only for the append and
 * the COMMIT round trip. An error rolls everything back and is rethrown.
 */
export async function inAuditedTransaction<T>(
  db: Db,
  statement: (client: pg.PoolClient) => Promise<T>,
  eventsOf: (result: T) => AuditEventInput[],
): Promise<T> {
  const client = await poolOf(db).connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    try {
      const result = await statement(client);
      await appendAuditEvents(client, eventsOf(result));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
        // A connection that cannot roll back is not given back to the pool for reuse.
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      });
      throw err;
    }
  } finally {
    client.release(broken);
  }
}
