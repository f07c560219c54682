// The API process's long-lived resources, opened once and closed in one ordered list.
import fs from 'node:fs/promises';
import type { RedisConnection } from '../shared/redis.js';
import type { Registry } from 'prom-client';
import { TokenVerifier } from '../shared/auth/token-verifier.js';
import type { Config } from '../shared/config.js';
import { createDb, type Db } from '../shared/records/database.js';
import { CapacityReader } from '../shared/domain/capacity.js';
import { followFileChanges } from '../shared/domain/file-changes.js';
import { ensureInitialMode, ModeReader } from '../shared/domain/modes.js';
import { ServableFileCache } from '../shared/domain/servable-files.js';
import type { Logger } from '../shared/logger.js';
import { countPendingWalEntries } from '../shared/records/wal.js';
import { selectAuditHead } from '../shared/records/audit-events.js';
import { AuditRecorder } from '../shared/domain/audit-recorder.js';
import { createApiMetrics, createRegistry, type ApiMetrics } from '../shared/metrics.js';
import { createQueues, type Queues } from '../shared/queues.js';
import { createProducerConnection, createWorkerConnection, waitForRedis } from '../shared/redis.js';
import { Inflight, PrincipalSlots } from './inflight.js';
import { JobEventsHub } from './job-events.js';
import type { BlobStore } from '../shared/storage/blob-store.js';
import { openStorage } from '../shared/storage/storage-backends.js';
import { ensureStagingDir } from '../shared/storage/staging.js';
import type { StagingStore } from '../shared/storage/staging-store.js';
import { liveWriters, registerWriter, type Writer } from '../shared/storage/writers.js';
import { janitorIntervalMs, sweepScratch } from '../shared/domain/staging-janitor.js';
import type { ResumableHooks } from '../shared/domain/resumable-uploads.js';

export interface ApiContext {
  config: Config;
  logger: Logger;
  db: Db;
  redis: RedisConnection;
  queues: Queues;
  blobStore: BlobStore;
  /** Download rows cached for at most a second, dropped at once by announced file changes. */
  servableFiles: ServableFileCache;
  verifier: TokenVerifier;
  modes: ModeReader;
  capacity: CapacityReader;
  jobEvents: JobEventsHub;
  /** Uploads between the first staged byte and the end of their cleanup (waited for at shutdown). */
  uploads: Inflight;
  /** This process as a staging writer: its id names its staged files, its Redis key says it is alive. */
  stagingWriter: Writer;
  /** Where accepted uploads wait for their jobs (STAGING_PATH, or the bucket with BLOB_BACKEND=s3). */
  staging: StagingStore;
  /** Uploads per principal (MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL). */
  uploadSlots: PrincipalSlots;
  /** SSE job streams and wait= long polls per principal (MAX_STREAMS_PER_PRINCIPAL). */
  streamSlots: PrincipalSlots;
  registry: Registry;
  metrics: ApiMetrics;
  /** Test hook: awaited when an index maintenance run holds the lock, before its task runs. */
  beforeMaintenanceRun?: (jobId: string) => Promise<void>;
  /** Test hooks of resumable-upload appends (a test pauses or cuts a PATCH at an exact step). */
  resumableHooks?: ResumableHooks;
  /** Downloads (AUDIT_READS=true) and refused requests, buffered for the audit trail. */
  audit: AuditRecorder;
  close(): Promise<void>;
}

export async function openApiContext(config: Config, logger: Logger): Promise<ApiContext> {
  await ensureStagingDir(config.stagingPath);
  await fs.mkdir(config.storagePath, { recursive: true });
  const verifier = await TokenVerifier.create(config);
  const db = createDb(config);
  const redis = createProducerConnection(config);
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  await waitForRedis(redis);
  await ensureInitialMode(db, config);
  const modes = new ModeReader(db, config);
  // A dedicated connection: a subscribed ioredis client can run nothing else.
  const subscriber = createWorkerConnection(config);
  subscriber.on('error', (err) => logger.warn({ err: err.message }, 'redis subscriber error'));
  await modes.follow(subscriber, config.queuePrefix);
  const stagingWriter = await registerWriter(redis, config.queuePrefix, (err) => {
    logger.warn({ err }, 'could not refresh the staging writer key');
  });
  const { blobStore, staging } = openStorage(config, { writerId: stagingWriter.id, logger });
  const servableFiles = new ServableFileCache(db, blobStore);
  await followFileChanges(subscriber, config.queuePrefix, (change) => servableFiles.invalidate(change));
  const jobEvents = new JobEventsHub(config, logger);
  const queues = createQueues(config, redis, (err) => logger.warn({ err: err.message }, 'queue connection error'));
  const registry = createRegistry('api');
  const metrics = createApiMetrics(registry);
  // With staging in the bucket, this host's STAGING_PATH is scratch no job row names; an API-only host sweeps its own.
  const scratchSweep =
    staging.backend === 'local'
      ? undefined
      : setInterval(() => {
          const liveOwners = (ids: string[]) => liveWriters(redis, config.queuePrefix, ids);
          void sweepScratch({ config, staging, logger, liveOwners }).catch((err: unknown) => logger.warn({ err }, 'staging scratch sweep failed'));
        }, janitorIntervalMs(config));
  scratchSweep?.unref();
  metrics.queueJobs(queues, config.metricsCacheMs);
  metrics.walEntries(() => countPendingWalEntries(db), config.metricsCacheMs);
  metrics.auditEvents(async () => (await selectAuditHead(db)).seq, config.metricsCacheMs);
  const audit = new AuditRecorder(db, config.audit, logger, metrics.auditDropped);
  return {
    config,
    logger,
    db,
    redis,
    queues,
    blobStore,
    servableFiles,
    verifier,
    modes,
    capacity: new CapacityReader(db, config),
    jobEvents,
    uploads: new Inflight(),
    stagingWriter,
    staging,
    uploadSlots: new PrincipalSlots(config.maxConcurrentUploadsPerPrincipal, 'uploads (MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL)'),
    streamSlots: new PrincipalSlots(config.maxStreamsPerPrincipal, 'job streams and long polls (MAX_STREAMS_PER_PRINCIPAL)'),
    registry,
    metrics,
    audit,
    async close() {
      // Uploads have drained by now (main.ts waits for them): the janitor may take what is left at once.
      clearInterval(scratchSweep);
      await stagingWriter.close();
      await jobEvents.close().catch((err: unknown) => logger.warn({ err }, 'closing queue events'));
      await queues.close().catch((err: unknown) => logger.warn({ err }, 'closing queues'));
      subscriber.disconnect();
      redis.disconnect();
      await blobStore.close?.();
      await audit.close();
      await db.$disconnect();
    },
  };
}
