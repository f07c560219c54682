// Test databases: clone the run's migrated template (fast), drop when done.
import pg from 'pg';
import { databaseNameOf, withDatabaseName } from '../../src/shared/records/database-url.js';

async function withAdmin<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabaseName(databaseUrl, 'postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the database of databaseUrl as a copy of template (which nobody may be connected to). */
export async function cloneDatabase(template: string, databaseUrl: string): Promise<void> {
  const name = databaseNameOf(databaseUrl);
  await withAdmin(databaseUrl, (c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = databaseNameOf(databaseUrl);
  await withAdmin(databaseUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}
