// A fault-test world: private PostgreSQL and Redis per test file, and per scenario a fresh database, queue prefix,
// staging and storage dirs with the api and worker running as child processes that can be killed for real.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import pg from 'pg';
import { migrateDeploy } from '../../scripts/db-migrate.js';
import { ensureDevKeyPair } from '../../src/shared/auth/dev-keys.js';
import { loadConfig, type Config } from '../../src/shared/config.js';
import { PrivatePostgres, PrivateRedis } from '../helpers/fault-services.js';
import { envFor, freePort, startService, type Service } from '../helpers/processes.js';

const TEMPLATE_DB = 'artstore_template';

export interface FaultServices {
  pg: PrivatePostgres;
  redis: PrivateRedis;
  root: string;
  token(): Promise<string>;
  close(): Promise<void>;
}

/** Starts a private cluster (migrated template database) and a private AOF Redis; close() removes both. */
export async function openFaultServices(): Promise<FaultServices> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-faults-'));
  let pgServer: PrivatePostgres | undefined;
  let redis: PrivateRedis | undefined;
  const close = async () => {
    await redis?.stop();
    await pgServer?.stop();
    await fs.rm(root, { recursive: true, force: true });
  };
  try {
    [pgServer, redis] = await Promise.all([PrivatePostgres.start(), PrivateRedis.start()]);
    await migrateDeploy(await pgServer.createDatabase(TEMPLATE_DB), { quiet: true });
    const keys = await ensureDevKeyPair(path.join(root, 'dev-keys'));
    const privateKey = await importPKCS8(keys.privateKeyPem, 'RS256');
    return {
      pg: pgServer,
      redis,
      root,
      token: () => new SignJWT({ role: 'user' }).setProtectedHeader({ alg: 'RS256' }).setSubject('burst').setIssuedAt().setExpirationTime('30m').sign(privateKey),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface Scenario {
  name: string;
  config: Config;
  baseUrl: string;
  /** For audits: plain SQL against this scenario's database. */
  db: pg.Pool;
  api: Service;
  worker: Service;
  /** kill -9 (or SIGTERM when graceful) the api and start a new one on the same port. */
  restartApi(options?: { graceful?: boolean; env?: Record<string, string> }): Promise<void>;
  /** kill -9 (or SIGTERM when graceful) the worker and start a new one. */
  restartWorker(options?: { graceful?: boolean; env?: Record<string, string> }): Promise<void>;
  /** Everything the children printed, for failure messages (the tail only). */
  logs(): string;
  close(): Promise<void>;
}

/**
 * Test-speed settings: a killed worker's jobs stall back after ~2 s; WAL entries pending 5 s are settled by
 * recovery (which then also runs every 5 s).
 */
const FAULT_ENV = { JOB_LOCK_MS: '2000', WAL_LEASE_SECONDS: '5', DATABASE_POOL_SIZE: '10', WORKER_CONCURRENCY: '8' };

async function stopService(service: Service, graceful: boolean): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.child.kill(graceful ? 'SIGTERM' : 'SIGKILL');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), 30_000);
  await service.exited;
  clearTimeout(timer);
}

export async function openScenario(services: FaultServices, name: string): Promise<Scenario> {
  const dbName = `artstore_${name.replace(/[^a-z0-9]/gi, '_')}`;
  const databaseUrl = await services.pg.createDatabase(dbName, TEMPLATE_DB);
  const dir = path.join(services.root, name);
  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    REDIS_URL: services.redis.url,
    QUEUE_PREFIX: `faults-${name}`,
    STORAGE_PATH: path.join(dir, 'storage'),
    STAGING_PATH: path.join(dir, 'staging'),
    DEV_KEYS_PATH: path.join(services.root, 'dev-keys'),
  });
  const env = envFor(config, { ...FAULT_ENV, PORT: String(port) });
  // The audit's connections live through PostgreSQL restarts too: a broken idle one is dropped, not thrown.
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  db.on('error', () => undefined);
  let previousLogs = '';
  const [worker, api] = await Promise.allSettled([startService('workers', env, 'worker started'), startService('api', env, 'api listening')]);
  if (worker.status === 'rejected' || api.status === 'rejected') {
    for (const s of [worker, api]) if (s.status === 'fulfilled') await stopService(s.value, false);
    await db.end();
    throw worker.status === 'rejected' ? worker.reason : (api as PromiseRejectedResult).reason;
  }

  const scenario: Scenario = {
    name,
    config,
    baseUrl: `http://127.0.0.1:${port}`,
    db,
    api: api.value,
    worker: worker.value,
    async restartApi({ graceful = false, env: extra = {} } = {}) {
      await stopService(scenario.api, graceful);
      previousLogs += scenario.api.output();
      scenario.api = await startService('api', { ...env, ...extra }, 'api listening');
    },
    async restartWorker({ graceful = false, env: extra = {} } = {}) {
      await stopService(scenario.worker, graceful);
      previousLogs += scenario.worker.output();
      scenario.worker = await startService('workers', { ...env, ...extra }, 'worker started');
    },
    logs() {
      const all = previousLogs + scenario.api.output() + scenario.worker.output();
      return all.split('\n').filter((l) => /"level":(4|5|6)0/.test(l)).slice(-40).join('\n');
    },
    async close() {
      await Promise.all([stopService(scenario.api, true), stopService(scenario.worker, true)]);
      await db.end();
    },
  };
  return scenario;
}
