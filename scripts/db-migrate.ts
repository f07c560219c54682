// npm run db:migrate: creates the database named in DATABASE_URL when missing, then applies prisma/migrations.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfigOrExit } from '../src/shared/config.js';
import { databaseNameOf, withDatabaseName } from '../src/shared/records/database-url.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), fileURLToPath(import.meta.url).includes('/dist/') ? '../..' : '..');

export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const name = databaseNameOf(databaseUrl);
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(name)) throw new Error(`database name ${JSON.stringify(name)} is not allowed`);
  const client = new pg.Client({ connectionString: withDatabaseName(databaseUrl, 'postgres'), connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return false;
    await client.query(`CREATE DATABASE "${name}"`);
    return true;
  } catch (err) {
    // Another migrator created it between our check and CREATE.
    if ((err as { code?: string }).code === '42P04') return false;
    throw err;
  } finally {
    await client.end();
  }
}

/** Runs `prisma migrate deploy`; with quiet, its output is shown only when it fails. */
export function migrateDeploy(databaseUrl: string, options: { quiet?: boolean } = {}): Promise<void> {
  const prismaBin = path.join(projectRoot, 'node_modules', 'prisma', 'build', 'index.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [prismaBin, 'migrate', 'deploy'], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
      stdio: ['ignore', options.quiet ? 'pipe' : 'inherit', options.quiet ? 'pipe' : 'inherit'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) return resolve();
      if (output) process.stderr.write(output);
      reject(new Error(`prisma migrate deploy exited with ${code}`));
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const config = loadConfigOrExit();
  try {
    if (await ensureDatabase(config.databaseUrl)) process.stdout.write(`db:migrate: created database ${databaseNameOf(config.databaseUrl)}\n`);
    await migrateDeploy(config.databaseUrl);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const hint = e.code === 'ECONNREFUSED' ? ' (is PostgreSQL running? try scripts/ensure-services.sh)' : '';
    process.stderr.write(`db:migrate: ${e.message ?? String(err)}${hint}\n`);
    process.exit(1);
  }
}
