// Bulk loading: drops a table's secondary indexes, runs the load, then builds them again from their own definitions.
import type pg from 'pg';

interface IndexDef {
  name: string;
  definition: string;
}

// One CREATE INDEX sorts (or, for GIN, collects) every row once; the same index maintained row by row while 10,000,000
// rows arrive costs a random page visit per row and key, and was most of a seed's time.
/**
 * Runs load with the secondary indexes of table (every index but the primary key and those backing constraints)
 * dropped, then recreates them exactly as they were (pg_indexes.indexdef), `parallel` builds at a time, and VACUUM
 * ANALYZEs the table. Not for a table others are using: while load runs, their queries have no index.
 */
export async function withIndexesBuiltAfter<T>(pool: pg.Pool, table: string, load: () => Promise<T>, parallel = 2): Promise<T> {
  const { rows } = await pool.query<IndexDef>(
    `SELECT i.indexname AS name, i.indexdef AS definition FROM pg_indexes i
      WHERE i.schemaname = current_schema() AND i.tablename = $1
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.conrelid = $1::regclass)`,
    [table],
  );
  for (const index of rows) await pool.query(`DROP INDEX "${index.name}"`);
  let result: T;
  try {
    result = await load();
  } finally {
    let next = 0;
    const lane = async () => {
      const client = await pool.connect();
      try {
        // Enough to sort a 10,000,000-row B-tree in memory; GIN builds collect their entries in it too.
        await client.query(`SET maintenance_work_mem = '1GB'`);
        while (next < rows.length) await client.query(rows[next++]!.definition);
      } finally {
        client.release();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, parallel) }, lane));
  }
  // Sets the visibility map and hint bits now, so the first queries measured neither write pages nor meet an
  // autovacuum of the fresh rows; and gives the planner statistics of the whole table.
  await pool.query(`VACUUM (ANALYZE) "${table}"`);
  return result;
}
