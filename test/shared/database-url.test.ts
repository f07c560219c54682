// DATABASE_URL in every form pg takes, the README's Unix-socket one included (credentials, no host, ?host=<dir>):
// the database name read and replaced by the scripts, tests and bench, and `npm run db:migrate` through a socket.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { parse } from 'pg-connection-string';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { ensureDatabase, migrateDeploy } from '../../scripts/db-migrate.js';
import { databaseNameOf, databaseServerOf, withDatabaseName } from '../../src/shared/records/database-url.js';
import { dropDatabase } from '../helpers/databases.js';

describe('database URLs', () => {
  it('reads and replaces the database of a TCP URL, keeping credentials and parameters', () => {
    const url = 'postgresql://app:s%40cret@db.example:6543/artstore?application_name=se&connect_timeout=5';
    expect(databaseNameOf(url)).toBe('artstore');
    expect(databaseServerOf(url)).toBe('db.example:6543');
    const other = withDatabaseName(url, 'artstore_test_1');
    expect(other).toBe('postgresql://app:s%40cret@db.example:6543/artstore_test_1?application_name=se&connect_timeout=5');
    expect(databaseNameOf(other)).toBe('artstore_test_1');
  });

  it('takes the Unix-socket forms with no host, and gives them back without one', () => {
    const socket = 'postgresql://postgres@/artstore?host=/var/run/postgresql';
    expect(databaseNameOf(socket)).toBe('artstore');
    expect(databaseServerOf(socket)).toBe('socket /var/run/postgresql');
    expect(withDatabaseName(socket, 'postgres')).toBe('postgresql://postgres@/postgres?host=/var/run/postgresql');
    expect(withDatabaseName('postgres:///artstore', 'x')).toBe('postgres:///x');
    expect(databaseServerOf('postgres:///artstore')).toBe('the default socket');
  });

  describe('through the real server', () => {
    const created: string[] = [];
    afterAll(async () => {
      for (const url of created) await dropDatabase(url);
    });

    it('npm run db:migrate creates and migrates a database named by a socket URL', async (ctx) => {
      const { databaseUrl } = inject('testEnv');
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      const dirs = await client.query<{ unix_socket_directories: string }>('SHOW unix_socket_directories').finally(() => client.end());
      const dir = dirs.rows[0]!.unix_socket_directories.split(',')[0]!.trim();
      const { port = '5432', user = 'postgres' } = parse(databaseUrl);
      if (!dir || !fs.existsSync(path.join(dir, `.s.PGSQL.${port || '5432'}`))) ctx.skip(`PostgreSQL listens on no Unix socket here (${dir || 'none'})`);
      const name = `${databaseNameOf(databaseUrl)}_socket`;
      const socketUrl = `postgresql://${encodeURIComponent(user || 'postgres')}@/${name}?host=${dir}&port=${port || '5432'}`;
      created.push(withDatabaseName(databaseUrl, name));
      expect(await ensureDatabase(socketUrl)).toBe(true);
      await migrateDeploy(socketUrl, { quiet: true });
      const check = new pg.Client({ connectionString: socketUrl });
      await check.connect();
      try {
        const { rows } = await check.query<{ n: string }>('SELECT count(*) AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL');
        expect(Number(rows[0]!.n)).toBe(fs.readdirSync('prisma/migrations').filter((d) => /^\d{14}_/.test(d)).length);
      } finally {
        await check.end();
      }
    }, 180_000);
  });
});
