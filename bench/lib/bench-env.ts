// The world of one bench run: its own database, queue prefix and temp dirs, the api and worker from dist, the
// baseline servers, a dev token; and the teardown that removes all of it (also after a failure or Ctrl-C).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import { Redis } from 'ioredis';
import pg from 'pg';
import { ensureDatabase, migrateDeploy } from '../../scripts/db-migrate.js';
import { ensureDevKeyPair } from '../../src/shared/auth/dev-keys.js';
import { loadConfig } from '../../src/shared/config.js';
import { databaseNameOf, withDatabaseName } from '../../src/shared/records/database-url.js';
import { freePort, httpOk, startService, stopService, type Service } from './child-process.js';

export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const DIST_API = path.join(REPO_ROOT, 'dist/src/api/main.js');
/** The bench's own database connections: the small scenario's CPU budget leaves them out of PostgreSQL's share. */
export const BENCH_APPLICATION_NAME = 'artstore-bench';
export const DIST_WORKER = path.join(REPO_ROOT, 'dist/src/workers/main.js');

export interface BenchEnv {
  id: string;
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  /** Temp root; storage, staging and the baselines' dirs are all inside it, so on one filesystem. */
  root: string;
  storagePath: string;
  stagingPath: string;
  workPath: string;
  apiUrl: string;
  workerMetricsUrl: string;
  acceptOnlyUrl: string;
  /** Directory the accept-only server serves files from (GET /files/:name). */
  acceptServeDir: string;
  /** null when @tus/server could not start; tusNote says why. */
  tusUrl: string | null;
  tusNote: string;
  api: Service;
  worker: Service;
  acceptOnly: Service;
  db: pg.Pool;
  /** A dev-keypair JWT for this subject (role user). */
  token(sub: string): Promise<string>;
}

interface Owned {
  databaseUrl?: string;
  databaseCreated?: boolean;
  redisUrl?: string;
  queuePrefix?: string;
  root?: string;
  services: Service[];
  db?: pg.Pool;
}

const owned: Owned = { services: [] };

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** PATH and HOME of the bench, for the environment of a child process (which inherits nothing else). */
export function baseEnv(): Record<string, string> {
  // process.env is read here only to hand PATH and HOME on to the child processes.
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? os.tmpdir() };
}

type BenchDirs = Record<'storagePath' | 'stagingPath' | 'workPath' | 'devKeys' | 'acceptStaging' | 'acceptServe' | 'tus' | 's3', string>;

/** The run's own database (created and migrated), queue prefix and temp directories; each owned as soon as made. */
async function makeWorld(): Promise<{ id: string; databaseUrl: string; redisUrl: string; queuePrefix: string; root: string; dirs: BenchDirs; db: pg.Pool }> {
  // Where PostgreSQL and Redis are: the service's own config (DATABASE_URL, REDIS_URL, .env), as npm start sees it.
  const config = loadConfig();
  const id = randomBytes(4).toString('hex');
  const databaseUrl = withDatabaseName(config.databaseUrl, `artstore_bench_${id}`);
  const queuePrefix = `artstore-bench-${id}`;
  owned.redisUrl = config.redisUrl;
  owned.queuePrefix = queuePrefix;

  // Under the OS temp dir, which is on the same filesystem as the physical baseline's copies.
  const root = await fs.mkdtemp(path.join(os.tmpdir(), `artstore-bench-${id}-`));
  owned.root = root;
  const dirs: BenchDirs = {
    storagePath: path.join(root, 'storage'),
    stagingPath: path.join(root, 'staging'),
    workPath: path.join(root, 'work'),
    devKeys: path.join(root, 'dev-keys'),
    acceptStaging: path.join(root, 'accept-only'),
    acceptServe: path.join(root, 'accept-serve'),
    tus: path.join(root, 'tus'),
    s3: path.join(root, 's3'),
  };
  await Promise.all(Object.values(dirs).map((d) => fs.mkdir(d, { recursive: true })));

  log(`database ${databaseNameOf(databaseUrl)}, queue prefix ${queuePrefix}, temp ${root}`);
  owned.databaseUrl = databaseUrl;
  owned.databaseCreated = await ensureDatabase(databaseUrl);
  await migrateDeploy(databaseUrl, { quiet: true });
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4, application_name: BENCH_APPLICATION_NAME });
  owned.db = db;
  return { id, databaseUrl, redisUrl: config.redisUrl, queuePrefix, root, dirs, db };
}

/** The environment of the api and worker under test: explicit, nothing inherited but PATH and HOME. */
function serviceEnvFor(world: Awaited<ReturnType<typeof makeWorld>>, apiPort: number, workerMetricsPort: number): Record<string, string> {
  return {
    ...baseEnv(),
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    PORT: String(apiPort),
    HOST: '127.0.0.1',
    DATABASE_URL: world.databaseUrl,
    REDIS_URL: world.redisUrl,
    QUEUE_PREFIX: world.queuePrefix,
    STORAGE_PATH: world.dirs.storagePath,
    STAGING_PATH: world.dirs.stagingPath,
    DEV_KEYS_PATH: world.dirs.devKeys,
    WORKER_METRICS_PORT: String(workerMetricsPort),
    WORKER_METRICS_HOST: '127.0.0.1',
    // One principal drives every connection of a scenario (32 uploads at once in `small`): above the default cap.
    MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL: '64',
    MAX_STREAMS_PER_PRINCIPAL: '256',
    // The bench measures speed, not the disk's free-space policy.
    CAPACITY_FULL_PERCENT: '0',
    CAPACITY_FULL_BYTES: '0',
    ...tuningEnv(),
  };
}

/**
 * BENCH_BLOB_BACKEND=s3: the api and worker keep blobs, attr.json and staged uploads in an S3 test server (s3rver,
 * a child process of its own) instead of the local disk, so the same scenarios measure the S3 backend.
 */
export function benchBlobBackend(): 'local' | 's3' {
  // process.env is read here only to choose the backend of the services under test.
  return process.env.BENCH_BLOB_BACKEND === 's3' ? 's3' : 'local';
}

const S3_BUCKET = 'artstore-bench';

async function startS3Store(dir: string): Promise<Record<string, string>> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  await startService(
    's3rver',
    ['--import', 'tsx', path.join(REPO_ROOT, 'bench/baselines/s3-server.ts'), '--port', String(port), '--dir', dir, '--bucket', S3_BUCKET],
    { ...baseEnv(), NODE_ENV: 'production' },
    async () => (await fetch(endpoint, { signal: AbortSignal.timeout(2_000) })).status > 0,
    30_000,
  ).then(own);
  return { BLOB_BACKEND: 's3', S3_ENDPOINT: endpoint, S3_BUCKET, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' };
}

/** BENCH_SERVICE_ENV='WORKER_CONCURRENCY=64 INGEST_BATCH_MAX=32': settings to try on the api and worker. */
function tuningEnv(): Record<string, string> {
  const pairs = (process.env.BENCH_SERVICE_ENV ?? '').split(/\s+/).filter(Boolean);
  return Object.fromEntries(pairs.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

const own = (service: Service): Service => {
  owned.services.push(service);
  return service;
};

/** The peer baseline (@tus/server): optional, so a failure to start is a note, not an error. */
async function startTusPeer(dir: string): Promise<{ tusUrl: string | null; tusNote: string }> {
  const tusPort = await freePort();
  try {
    await startService(
      'tus-peer',
      ['--import', 'tsx', path.join(REPO_ROOT, 'bench/baselines/tus-peer.ts'), '--port', String(tusPort), '--dir', dir],
      { ...baseEnv(), NODE_ENV: 'production' },
      // Any HTTP answer means it listens (tus answers OPTIONS with 204).
      async () => (await fetch(`http://127.0.0.1:${tusPort}/files`, { method: 'OPTIONS', signal: AbortSignal.timeout(2_000) })).status > 0,
      30_000,
    ).then(own);
    return { tusUrl: `http://127.0.0.1:${tusPort}/files`, tusNote: '' };
  } catch (err) {
    const tusNote = `@tus/server did not start: ${(err as Error).message.split('\n')[0]}`;
    log(`${tusNote}; the peer baseline is skipped`);
    return { tusUrl: null, tusNote };
  }
}

export async function openBenchEnv(): Promise<BenchEnv> {
  const world = await makeWorld();
  const { dirs } = world;
  const keys = await ensureDevKeyPair(dirs.devKeys);
  const privateKey = await importPKCS8(keys.privateKeyPem, 'RS256');

  const [apiPort, workerMetricsPort, acceptPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const backendEnv = benchBlobBackend() === 's3' ? await startS3Store(dirs.s3) : {};
  const serviceEnv = { ...serviceEnvFor(world, apiPort, workerMetricsPort), ...backendEnv };
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const workerMetricsUrl = `http://127.0.0.1:${workerMetricsPort}/metrics`;
  const acceptOnlyUrl = `http://127.0.0.1:${acceptPort}`;

  // All four start at once (start-up is most of a smoke run); each is owned, and so stopped, as soon as it runs.
  const tusStarting = startTusPeer(dirs.tus);
  const [apiStarted, workerStarted, acceptStarted] = await Promise.allSettled([
    startService('api', [DIST_API], serviceEnv, () => httpOk(`${apiUrl}/health/ready`)).then(own),
    startService('worker', [DIST_WORKER], serviceEnv, () => httpOk(workerMetricsUrl)).then(own),
    startService(
      'accept-only',
      ['--import', 'tsx', path.join(REPO_ROOT, 'bench/baselines/accept-only.ts'), '--port', String(acceptPort), '--dir', dirs.acceptStaging, '--serve', dirs.acceptServe],
      { ...baseEnv(), NODE_ENV: 'production' },
      () => httpOk(`${acceptOnlyUrl}/ping`),
    ).then(own),
  ]);
  const { tusUrl, tusNote } = await tusStarting;
  for (const started of [apiStarted, workerStarted, acceptStarted]) if (started.status === 'rejected') throw started.reason;
  const api = (apiStarted as PromiseFulfilledResult<Service>).value;
  const worker = (workerStarted as PromiseFulfilledResult<Service>).value;
  const acceptOnly = (acceptStarted as PromiseFulfilledResult<Service>).value;
  log(`api pid ${api.pid} on ${apiUrl}, worker pid ${worker.pid}, accept-only on ${acceptOnlyUrl}${tusUrl ? `, tus on ${tusUrl}` : ''}`);

  return {
    id: world.id,
    databaseUrl: world.databaseUrl,
    redisUrl: world.redisUrl,
    queuePrefix: world.queuePrefix,
    root: world.root,
    storagePath: dirs.storagePath,
    stagingPath: dirs.stagingPath,
    workPath: dirs.workPath,
    apiUrl,
    workerMetricsUrl,
    acceptOnlyUrl,
    acceptServeDir: dirs.acceptServe,
    tusUrl,
    tusNote,
    api,
    worker,
    acceptOnly,
    db: world.db,
    token: (sub) => new SignJWT({ role: 'user' }).setProtectedHeader({ alg: 'RS256' }).setSubject(sub).setIssuedAt().setExpirationTime('2h').sign(privateKey),
  };
}

/** Stops every child, drops the database, removes the prefix's Redis keys and the temp dirs. Safe to call twice. */
export async function closeBenchEnv(): Promise<void> {
  const services = owned.services.splice(0).reverse();
  for (const s of services) await stopService(s).catch((err: unknown) => log(`stopping ${s.name}: ${(err as Error).message}`));
  const db = owned.db;
  owned.db = undefined;
  await db?.end().catch(() => undefined);
  if (owned.databaseUrl) {
    const databaseUrl = owned.databaseUrl;
    owned.databaseUrl = undefined;
    const name = databaseNameOf(databaseUrl);
    const client = new pg.Client({ connectionString: withDatabaseName(databaseUrl, 'postgres') });
    try {
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } catch (err) {
      log(`dropping database ${name}: ${(err as Error).message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  if (owned.redisUrl && owned.queuePrefix) {
    const prefix = owned.queuePrefix;
    owned.queuePrefix = undefined;
    const redis = new Redis(owned.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
    try {
      await redis.connect();
      let removed = 0;
      for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 1000 })) {
        const batch = keys as string[];
        if (batch.length > 0) removed += await redis.unlink(...batch);
      }
      if (removed > 0) log(`removed ${removed} Redis keys of ${prefix}`);
    } catch (err) {
      log(`removing Redis keys of ${prefix}: ${(err as Error).message}`);
    } finally {
      redis.disconnect();
    }
  }
  if (owned.root) {
    const root = owned.root;
    owned.root = undefined;
    await fs.rm(root, { recursive: true, force: true }).catch((err: unknown) => log(`removing ${root}: ${(err as Error).message}`));
  }
}
