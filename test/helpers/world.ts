// A test world: config pointing at this run's database, a fresh queue prefix and temp dirs; api app and worker.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Express } from 'express';
import { importPKCS8, SignJWT } from 'jose';
import request from 'supertest';
import { inject } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { openApiContext, type ApiContext } from '../../src/api/context.js';
import { ensureDevKeyPair } from '../../src/shared/auth/dev-keys.js';
import { loadConfig, type Config } from '../../src/shared/config.js';
import { databaseNameOf, withDatabaseName } from '../../src/shared/records/database-url.js';
import type { Role } from '../../src/shared/domain/principal.js';
import { createLogger } from '../../src/shared/logger.js';
import { openWorkerContext, type WorkerContext } from '../../src/workers/context.js';
import { cloneDatabase, dropDatabase } from './databases.js';
import { startWorkers, type RunningWorkers } from '../../src/workers/runner.js';

export interface World {
  config: Config;
  api: ApiContext;
  app: Express;
  worker?: WorkerContext;
  running?: RunningWorkers;
  token(role: Role | string, sub?: string, extra?: Record<string, unknown>): Promise<string>;
  /** Polls GET /api/v1/jobs/{id} until the job is final; returns its body. */
  waitForJob(jobId: string, token: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  stagedFiles(): Promise<string[]>;
  close(): Promise<void>;
}

export interface WorldOptions {
  env?: Record<string, string>;
  worker?: boolean;
  /**
   * A database of its own (migrated, dropped on close) for tests that change element-wide state: the mode,
   * capacity, or anything another test file would see.
   */
  isolatedDatabase?: boolean;
}

export async function createWorld(options: WorldOptions = {}): Promise<World> {
  const testEnv = inject('testEnv');
  const id = randomBytes(4).toString('hex');
  const root = path.join(testEnv.root, id);
  let databaseUrl = testEnv.databaseUrl;
  if (options.isolatedDatabase) {
    databaseUrl = withDatabaseName(testEnv.databaseUrl, `${databaseNameOf(testEnv.databaseUrl)}_${id}`);
    await cloneDatabase(testEnv.templateDatabase, databaseUrl);
  }
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '5',
    REDIS_URL: testEnv.redisUrl,
    QUEUE_PREFIX: `${testEnv.queuePrefix}-${id}`,
    STORAGE_PATH: path.join(root, 'storage'),
    STAGING_PATH: path.join(root, 'staging'),
    DEV_KEYS_PATH: path.join(testEnv.root, 'dev-keys'),
    HASH_THREADS: '2',
    WORKER_METRICS_PORT: '0',
    JOB_ATTEMPTS: '3',
    // Uploads are refused below the disk's `full` threshold (20 GB by default): a test machine may have less.
    CAPACITY_FULL_PERCENT: '0',
    CAPACITY_FULL_BYTES: '0',
    ...options.env,
  });
  const logger = createLogger(config, 'test');
  const api = await openApiContext(config, logger);
  const app = createApp(api);
  let worker: WorkerContext | undefined;
  let running: RunningWorkers | undefined;
  if (options.worker) {
    worker = await openWorkerContext(config, logger);
    running = await startWorkers(worker);
  }
  const keys = await ensureDevKeyPair(config.devKeysPath);
  const privateKey = await importPKCS8(keys.privateKeyPem, 'RS256');

  return {
    config,
    api,
    app,
    worker,
    running,
    async token(role, sub = 'alice', extra = {}) {
      return new SignJWT({ role, ...extra })
        .setProtectedHeader({ alg: 'RS256' })
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey);
    },
    async waitForJob(jobId, token, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (true) {
        const res = await request(app).get(`/api/v1/jobs/${jobId}`).set('Authorization', `Bearer ${token}`);
        if (res.status !== 200) throw new Error(`job poll answered ${res.status}: ${res.text}`);
        if (['committed', 'duplicate', 'failed'].includes(res.body.state)) return res.body;
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${res.body.state} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stagedFiles() {
      return fs.readdir(config.stagingPath).catch(() => []);
    },
    async close() {
      await running?.close();
      await worker?.close();
      await api.close();
      if (options.isolatedDatabase) await dropDatabase(databaseUrl);
    },
  };
}

