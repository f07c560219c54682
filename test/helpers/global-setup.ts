// Once per test run: a fresh database with the migrations applied, a queue prefix, a temp root; all removed after.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { withDatabaseName } from '../../src/shared/records/database-url.js';
import type { TestProject } from 'vitest/node';
import { ensureDatabase, migrateDeploy } from '../../scripts/db-migrate.js';
import { cloneDatabase } from './databases.js';
import { loadConfig } from '../../src/shared/config.js';

export interface TestEnv {
  databaseUrl: string;
  /** A migrated database nobody connects to: isolated worlds clone it (CREATE DATABASE ... TEMPLATE). */
  templateDatabase: string;
  redisUrl: string;
  queuePrefix: string;
  root: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    testEnv: TestEnv;
  }
}

export default async function setup(project: TestProject) {
  const base = loadConfig();
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const databaseUrl = withDatabaseName(base.databaseUrl, `artstore_test_${runId}`);
  const env: TestEnv = {
    databaseUrl,
    templateDatabase: `artstore_test_${runId}_template`,
    redisUrl: base.redisUrl,
    queuePrefix: `artstore-test-${runId}`,
    root: await fs.mkdtemp(path.join(os.tmpdir(), `artstore-test-${runId}-`)),
  };
  const teardown = async () => {
    const client = new pg.Client({ connectionString: withDatabaseName(databaseUrl, 'postgres') });
    await client.connect();
    // The run's database and any isolated ones a world made (artstore_test_<run>_<world>).
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`artstore_test_${runId}%`]);
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await client.end();
    const redis = new Redis(env.redisUrl);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${env.queuePrefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    await fs.rm(env.root, { recursive: true, force: true });
  };
  try {
    const template = withDatabaseName(base.databaseUrl, env.templateDatabase);
    await ensureDatabase(template);
    await migrateDeploy(template, { quiet: true });
    await cloneDatabase(env.templateDatabase, databaseUrl);
  } catch (err) {
    await teardown();
    throw err;
  }
  project.provide('testEnv', env);
  return teardown;
}
