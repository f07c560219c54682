// A fault-test world: per scenario a private PostgreSQL cluster (a copy of one migrated once per file) and a private
// AOF Redis, a fresh staging and storage dir, and the api and worker as child processes that can be killed for real.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import pg from 'pg';
import { migrateDeploy } from '../../scripts/db-migrate.js';
import { ensureDevKeyPair } from '../../src/shared/auth/dev-keys.js';
import { loadConfig, type Config } from '../../src/shared/config.js';
import { cleanUpAtExit, PrivatePostgres, PrivateRedis } from '../helpers/fault-services.js';
import { envFor, freePort, type Service } from '../helpers/processes.js';

const DATABASE = 'artstore';

export interface FaultBase {
  root: string;
  token(): Promise<string>;
  /**
   * Runs fn when no other scenario is starting or bursting: scenarios overlap only while they wait for recovery,
   * so a burst's timing is not bent by another burst's CPU on a 2-core machine.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** A started copy of the migrated cluster. */
  postgres(): Promise<PrivatePostgres>;
  /** Scenarios not closed yet (a test that timed out): close() closes them first. */
  open: Set<Scenario>;
  close(): Promise<void>;
}

/** Migrates one private cluster (then shut down: scenarios start copies of it) and makes the dev keypair. */
export async function openFaultBase(): Promise<FaultBase> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-faults-'));
  let master: PrivatePostgres | undefined;
  const open = new Set<Scenario>();
  const close = async () => {
    await Promise.all([...open].map((s) => s.close()));
    await master?.stop();
    await fs.rm(root, { recursive: true, force: true });
  };
  try {
    master = await PrivatePostgres.start();
    await migrateDeploy(await master.createDatabase(DATABASE), { quiet: true });
    await master.shutdown();
    const keys = await ensureDevKeyPair(path.join(root, 'dev-keys'));
    const privateKey = await importPKCS8(keys.privateKeyPem, 'RS256');
    let queue: Promise<unknown> = Promise.resolve();
    const migrated = master;
    return {
      root,
      token: () => new SignJWT({ role: 'user' }).setProtectedHeader({ alg: 'RS256' }).setSubject('burst').setIssuedAt().setExpirationTime('30m').sign(privateKey),
      exclusive<T>(fn: () => Promise<T>): Promise<T> {
        const turn = queue.then(fn, fn);
        queue = turn.catch(() => undefined);
        return turn;
      },
      postgres: () => migrated.copy(),
      open,
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
  pg: PrivatePostgres;
  redis: PrivateRedis;
  /** For audits: plain SQL against this scenario's database. */
  db: pg.Pool;
  api: Service;
  worker: Service;
  /** kill -9 (or SIGTERM when graceful) the api and start a new one on the same port. */
  restartApi(options?: { graceful?: boolean; env?: Record<string, string> }): Promise<void>;
  /** kill -9 (or SIGTERM when graceful) the worker and start a new one. */
  restartWorker(options?: { graceful?: boolean; env?: Record<string, string> }): Promise<void>;
  /** Writes everything the children printed to test-results/faults/<name>.log; returns the path. */
  saveLogs(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Test-speed settings: a killed worker's jobs stall back after ~2 s; WAL entries pending 5 s are settled by
 * recovery (which then also runs every 5 s).
 */
const FAULT_ENV = { JOB_LOCK_MS: '2000', WAL_LEASE_SECONDS: '5', DATABASE_POOL_SIZE: '10', WORKER_CONCURRENCY: '8' };

/**
 * Starts src/<entry> under tsx and resolves once it logs readyMessage. Like startService in processes.ts, with a
 * longer limit (a 2-core machine shared with other test runs can take over 30 s to start tsx) and the child
 * killed when it misses it.
 */
async function startService(entry: 'api' | 'workers', env: Record<string, string>, readyMessage: string, timeoutMs = 90_000): Promise<Service> {
  const child = spawn(process.execPath, ['--import', 'tsx', `src/${entry}/main.ts`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  // A test that times out leaves its scenario open: its children must not outlive the test process.
  const forget = cleanUpAtExit(() => child.kill('SIGKILL'));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => {
    forget();
    resolve(code ?? signal ?? -1);
  }));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} not ready after ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes(readyMessage)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited (${code}) before it was ready:\n${out}`));
    });
  });
  return { child, output: () => out, exited };
}

async function stopService(service: Service, graceful: boolean): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.child.kill(graceful ? 'SIGTERM' : 'SIGKILL');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), 30_000);
  await service.exited;
  clearTimeout(timer);
}

export async function openScenario(base: FaultBase, name: string): Promise<Scenario> {
  const [pgResult, redisResult] = await Promise.allSettled([base.postgres(), PrivateRedis.start()]);
  const servers = [pgResult, redisResult].flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (pgResult.status === 'rejected' || redisResult.status === 'rejected') {
    await Promise.all(servers.map((s) => s.stop()));
    throw pgResult.status === 'rejected' ? pgResult.reason : (redisResult as PromiseRejectedResult).reason;
  }
  const [pgServer, redis] = [pgResult.value, redisResult.value];
  const databaseUrl = pgServer.url(DATABASE);
  const dir = path.join(base.root, name);
  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: `faults-${name}`,
    STORAGE_PATH: path.join(dir, 'storage'),
    STAGING_PATH: path.join(dir, 'staging'),
    DEV_KEYS_PATH: path.join(base.root, 'dev-keys'),
  });
  const env = envFor(config, { ...FAULT_ENV, PORT: String(port) });
  // The audit's connections live through PostgreSQL restarts too: a broken idle one is dropped, not thrown.
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  db.on('error', () => undefined);
  const [worker, api] = await Promise.allSettled([startService('workers', env, 'worker started'), startService('api', env, 'api listening')]);
  if (worker.status === 'rejected' || api.status === 'rejected') {
    for (const s of [worker, api]) if (s.status === 'fulfilled') await stopService(s.value, false);
    await db.end();
    await Promise.all([pgServer.stop(), redis.stop()]);
    throw worker.status === 'rejected' ? worker.reason : (api as PromiseRejectedResult).reason;
  }
  let previousLogs = '';

  const scenario: Scenario = {
    name,
    config,
    baseUrl: `http://127.0.0.1:${port}`,
    pg: pgServer,
    redis,
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
    async saveLogs() {
      const file = path.resolve('test-results', 'faults', `${name}.log`);
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, previousLogs + scenario.api.output() + scenario.worker.output());
      return file;
    },
    async close() {
      if (!base.open.delete(scenario)) return;
      await Promise.all([stopService(scenario.api, true), stopService(scenario.worker, true)]);
      await db.end();
      await Promise.all([pgServer.stop(), redis.stop()]);
    },
  };
  base.open.add(scenario);
  return scenario;
}
