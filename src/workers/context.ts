// The worker process's long-lived resources, opened once and closed in one ordered list.
import type { RedisConnection } from '../shared/redis.js';
import type { Registry } from 'prom-client';
import type { Config } from '../shared/config.js';
import { createDb, type Db } from '../shared/records/database.js';
import { HashPool } from '../shared/hashing/hash-pool.js';
import type { Logger } from '../shared/logger.js';
import { createRegistry, createWorkerMetrics, type WorkerMetrics } from '../shared/metrics.js';
import { createWorkerConnection } from '../shared/redis.js';
import { registerWriter } from '../shared/storage/writers.js';
import { createQueues, type Queues } from '../shared/queues.js';
import { ensureInitialMode, ModeReader } from '../shared/domain/modes.js';
import type { CrashStep } from '../shared/domain/ingest-commit.js';
import type { AttrStore } from '../shared/storage/attr-store.js';
import type { StagingStore } from '../shared/storage/staging-store.js';
import type { BlobStore } from '../shared/storage/blob-store.js';
import { openStorage } from '../shared/storage/storage-backends.js';

export interface WorkerContext {
  config: Config;
  logger: Logger;
  db: Db;
  connection: RedisConnection;
  blobStore: BlobStore;
  attrStore: AttrStore;
  /** Where accepted uploads wait (this host's STAGING_PATH, or the bucket with BLOB_BACKEND=s3). */
  staging: StagingStore;
  hashPool: HashPool;
  queues: Queues;
  modes: ModeReader;
  registry: Registry;
  metrics: WorkerMetrics;
  crashPoint?: (step: CrashStep) => void;
  close(): Promise<void>;
}

export async function openWorkerContext(config: Config, logger: Logger): Promise<WorkerContext> {
  const db = createDb(config);
  const connection = createWorkerConnection(config);
  connection.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const hashPool = new HashPool(config.hashThreads);
  const queues = createQueues(config, connection, (err) => logger.warn({ err: err.message }, 'queue connection error'));
  await ensureInitialMode(db, config);
  const modes = new ModeReader(db, config);
  const subscriber = createWorkerConnection(config);
  subscriber.on('error', (err) => logger.warn({ err: err.message }, 'redis subscriber error'));
  await modes.follow(subscriber, config.queuePrefix);
  const registry = createRegistry('worker');
  // Names this process's temp files: what a killed worker leaves in STORAGE_PATH/tmp goes within minutes.
  const writer = await registerWriter(connection, config.queuePrefix, (err) => logger.warn({ err }, 'could not refresh the writer key'));
  const storage = openStorage(config, { writerId: writer.id, logger });
  return {
    config,
    logger,
    db,
    connection,
    ...storage,
    hashPool,
    queues,
    modes,
    registry,
    metrics: createWorkerMetrics(registry),
    ...(config.crashAt ? { crashPoint: crashAt(config.crashAt, logger) } : {}),
    async close() {
      await writer.close();
      await hashPool.close().catch((err: unknown) => logger.warn({ err }, 'closing hash pool'));
      await queues.close().catch((err: unknown) => logger.warn({ err }, 'closing queues'));
      subscriber.disconnect();
      connection.disconnect();
      await storage.blobStore.close?.();
      await db.$disconnect();
    },
  };
}

/** Test-only: dies like a power cut (SIGKILL, no cleanup) when the ingest reaches the configured step. */
function crashAt(step: CrashStep, logger: Logger): (at: CrashStep) => void {
  return (at) => {
    if (at !== step) return;
    logger.warn({ step }, 'CRASH_AT reached: killing this worker');
    process.kill(process.pid, 'SIGKILL');
  };
}
