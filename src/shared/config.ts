// Environment -> one typed, frozen Config, validated with zod. The only module that reads process.env.
import 'dotenv/config';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { MODES, type Mode } from '../contract/element.js';
import { backendEnvShape, backendsOf, type BackendConfig } from './config-backends.js';
import { auditConfigOf, auditEnvShape, type AuditConfig } from './config-audit.js';

export type { Mode };
export type { S3Config } from './config-backends.js';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(8010),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL')
    .default('postgresql://postgres@127.0.0.1:5432/artstore'),
  DATABASE_POOL_SIZE: int(1, 200).default(10),
  REDIS_URL: z
    .string()
    .regex(/^(rediss?:\/\/|unix:\/\/\/)/, 'must be a redis:// or rediss:// URL, or unix:///path/to/redis.sock')
    .default('redis://127.0.0.1:6379'),
  STORAGE_PATH: z.string().min(1).default('./.data/storage'),
  STAGING_PATH: z.string().min(1).default('./.data/staging'),
  DEV_KEYS_PATH: z.string().min(1).default('./.data/dev-keys'),
  ELEMENT_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, '1-64 letters, digits, _ . -')
    .default('se-01'),
  APP_MODE: z.enum(MODES).default('edit'),
  MAX_UPLOAD_BYTES: int(0).default(1024 ** 3),
  MAX_FILES_PER_UPLOAD: int(1, 10_000).default(100),
  STORAGE_MAX_BYTES: int(0).default(0),
  STORAGE_LOCATION: z.string().max(200).regex(/^[^\x00-\x1f\x7f]*$/, 'no control characters').optional(),
  STORAGE_PRIORITY: int(0, 1_000_000).default(100),
  UPLOAD_IDLE_TIMEOUT_MS: int(1_000, 3_600_000).default(60_000),
  MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL: int(1, 10_000).default(8),
  MAX_STREAMS_PER_PRINCIPAL: int(1, 10_000).default(16),
  UPLOAD_EXPIRY_HOURS: z.coerce.number().positive().max(8_760).default(24),
  UPLOAD_EXPIRY_INTERVAL_SECONDS: int(0, 86_400).default(900),
  MAX_OPEN_UPLOADS_PER_PRINCIPAL: int(1, 100_000).default(20),
  UPLOAD_LOCK_MS: int(500, 600_000).default(30_000),
  JWT_PUBLIC_KEY: optionalText,
  JWT_PUBLIC_KEY_FILE: optionalText,
  JWT_JWKS_URL: z.url().optional(),
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  METRICS_TOKEN: optionalText,
  METRICS_CACHE_MS: int(0, 300_000).default(5_000),
  WORKER_CONCURRENCY: int(1, 1000).default(16),
  INGEST_BATCH_MAX: int(1, 1000).default(32),
  INGEST_BATCHES_IN_FLIGHT: int(1, 64).default(2),
  INGEST_JOB_FILES_MAX: int(1, 500).default(100),
  HASH_THREADS: int(1, 256).default(Math.max(1, os.availableParallelism())),
  WORKER_METRICS_PORT: int(0, 65535).default(9471),
  WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  JOB_ATTEMPTS: int(1, 100).default(5),
  GC_GRACE_SECONDS: int(0).default(600),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(25_000),
  JOB_LOCK_MS: int(1_000, 600_000).default(30_000),
  WAL_LEASE_SECONDS: int(1).default(300),
  CRASH_AT: z.enum(['after-hash', 'after-wal', 'after-blob', 'after-attr', 'before-commit']).optional(),
  STAGING_MAX_AGE_HOURS: z.coerce.number().positive().default(24),
  SCRUB_INTERVAL_HOURS: z.coerce.number().min(0).max(8_760).default(24),
  SCRUB_BUDGET_SECONDS: int(1, 86_400).default(300),
  LIFECYCLE_INTERVAL_SECONDS: int(0, 604_800).default(3_600),
  CAPACITY_WARNING_PERCENT: z.coerce.number().min(0).max(100).default(15),
  CAPACITY_WARNING_BYTES: int(0).default(150e9),
  CAPACITY_CRITICAL_PERCENT: z.coerce.number().min(0).max(100).default(8),
  CAPACITY_CRITICAL_BYTES: int(0).default(80e9),
  CAPACITY_FULL_PERCENT: z.coerce.number().min(0).max(100).default(2),
  CAPACITY_FULL_BYTES: int(0).default(20e9),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ...backendEnvShape,
  ...auditEnvShape,
});

export type Config = Readonly<{
  nodeEnv: 'development' | 'production' | 'test';
  port: number;
  host: string;
  databaseUrl: string;
  databasePoolSize: number;
  redisUrl: string;
  queuePrefix: string;
  storagePath: string;
  stagingPath: string;
  devKeysPath: string;
  elementId: string;
  appMode: Mode;
  maxUploadBytes: number;
  maxFilesPerUpload: number;
  storageMaxBytes: number;
  /** Where the element stands (a data centre, a rack), reported to the Ingester; null when unset. */
  storageLocation: string | null;
  /** The Ingester's preference among elements (lower is tried first), reported as is. */
  storagePriority: number;
  /**
   * A connection that neither sends nor is sent a byte for this long is closed: a stalled upload (its staged
   * bytes removed, no job) or a request whose body never comes. SSE streams send heartbeats more often.
   */
  uploadIdleTimeoutMs: number;
  /** Uploads one principal may have in flight in one API process; more answer 429 too_many_requests. */
  maxConcurrentUploadsPerPrincipal: number;
  /** SSE job streams plus wait= long polls one principal may hold open in one API process; more answer 429. */
  maxStreamsPerPrincipal: number;
  /** An incomplete resumable upload (SPEC §9) expires this long after its creation; its bytes and row are removed. */
  uploadExpiryHours: number;
  /** How often the expiry job removes expired resumable uploads (a BullMQ job scheduler); 0 = never on a schedule. */
  uploadExpiryIntervalSeconds: number;
  /** Incomplete resumable uploads one principal may hold; more answer 429 too_many_open_uploads. */
  maxOpenUploadsPerPrincipal: number;
  /** Lease of a resumable upload's Redis lock: a killed process's lock frees itself after this long. */
  uploadLockMs: number;
  jwt: Readonly<{
    publicKeyPem?: string;
    publicKeyFile?: string;
    jwksUrl?: string;
    issuer?: string;
    audience?: string;
  }>;
  /** When set, GET /metrics answers only `Authorization: Bearer <this>` (401 otherwise). */
  metricsToken?: string;
  /** Scrape-time gauges (queue depth, pending WAL entries) are read at most once per this long, shared by concurrent scrapes. */
  metricsCacheMs: number;
  workerConcurrency: number;
  /** Most small files one ingest batch commits together. */
  ingestBatchMax: number;
  /** Ingest batches a worker process runs at once. */
  ingestBatchesInFlight: number;
  /** Most small files one 'ingest-batch' BullMQ job carries (the API groups concurrent uploads into one). */
  ingestJobFilesMax: number;
  hashThreads: number;
  workerMetricsPort: number;
  workerMetricsHost: string;
  jobAttempts: number;
  gcGraceSeconds: number;
  /** How long a stopping process lets in-flight uploads and active jobs finish. */
  shutdownTimeoutMs: number;
  /** Staged files older than this with no unfinished job are removed by the janitor. */
  stagingMaxAgeHours: number;
  /** BullMQ job lock; a crashed worker's active jobs run again after about this long (stall detection). */
  jobLockMs: number;
  /** A WAL entry pending for longer than this is settled by recovery (rolled forward or back). */
  walLeaseSeconds: number;
  /** How often the integrity scrub runs (a BullMQ job scheduler); 0 = never on a schedule. */
  scrubIntervalHours: number;
  /** How long one scrub run may re-hash blobs before it stops and leaves a checkpoint for the next run. */
  scrubBudgetSeconds: number;
  /** How often the lifecycle job removes expired temporary files (edit mode; a BullMQ job scheduler); 0 = never. */
  lifecycleIntervalSeconds: number;
  /** Test-only fault injection: the worker kills itself at this ingest step. */
  crashAt?: 'after-hash' | 'after-wal' | 'after-blob' | 'after-attr' | 'before-commit';
  /** Free space below max(percent of total, bytes) -> that capacity status (SPEC §5, as the original element). */
  capacityThresholds: Readonly<Record<'warning' | 'critical' | 'full', Readonly<{ percent: number; bytes: number }>>>;
  logLevel: string;
}> &
  BackendConfig &
  AuditConfig;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * What production refuses (issue 10): the development keypair, a JWKS fetched over plain http (keys swapped in
 * transit), and tokens without issuer and audience checks (any token the identity provider signs for any service).
 */
function productionProblems(e: z.infer<typeof envSchema>): string[] {
  const problems: string[] = [];
  if (e.JWT_JWKS_URL && new URL(e.JWT_JWKS_URL).protocol === 'http:') {
    problems.push('JWT_JWKS_URL: must be https:// in production (a JWKS fetched over http can be replaced in transit)');
  }
  const devKeys = path.resolve(e.DEV_KEYS_PATH);
  if (e.JWT_PUBLIC_KEY_FILE && path.resolve(e.JWT_PUBLIC_KEY_FILE).startsWith(devKeys + path.sep)) {
    problems.push(`JWT_PUBLIC_KEY_FILE: ${e.JWT_PUBLIC_KEY_FILE} is the development keypair (DEV_KEYS_PATH); use the identity provider's key in production`);
  }
  if (!e.JWT_ISSUER) problems.push("JWT_ISSUER: required in production (the identity provider's iss; without it tokens issued by others are accepted)");
  if (!e.JWT_AUDIENCE) problems.push("JWT_AUDIENCE: required in production (this service's aud; without it tokens meant for other services are accepted)");
  return problems;
}

/** Problems no single variable's schema can see: combinations, fault injection outside tests, production rules. */
function crossFieldProblems(e: z.infer<typeof envSchema>): string[] {
  const problems: string[] = [];
  const keySources = [e.JWT_PUBLIC_KEY, e.JWT_PUBLIC_KEY_FILE, e.JWT_JWKS_URL].filter(Boolean).length;
  if (keySources > 1) problems.push('JWT_PUBLIC_KEY, JWT_PUBLIC_KEY_FILE and JWT_JWKS_URL: set at most one');
  if (keySources === 0 && e.NODE_ENV === 'production') {
    problems.push('JWT_PUBLIC_KEY / JWT_PUBLIC_KEY_FILE / JWT_JWKS_URL: one is required in production');
  }
  if (e.CRASH_AT && e.NODE_ENV !== 'test') problems.push('CRASH_AT: fault injection is only allowed with NODE_ENV=test');
  if (e.JWT_JWKS_URL && !/^https?:$/.test(new URL(e.JWT_JWKS_URL).protocol)) problems.push('JWT_JWKS_URL: must be an https:// (or, outside production, http://) URL');
  if (e.METRICS_TOKEN && e.METRICS_TOKEN.length < 16) problems.push('METRICS_TOKEN: use at least 16 characters');
  if (e.NODE_ENV === 'production') problems.push(...productionProblems(e));
  return problems;
}

/** Parses an environment (process.env by default); throws ConfigError with one line per problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty strings count as unset, so `FOO=` in a .env file falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  const e = parsed.data;
  const problems = crossFieldProblems(e);
  const backends = backendsOf(e, problems);
  const audit = auditConfigOf(e, problems);
  if (problems.length > 0) throw new ConfigError(problems);

  return Object.freeze({
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    redisUrl: e.REDIS_URL,
    queuePrefix: backends.queuePrefix,
    storagePath: path.resolve(e.STORAGE_PATH),
    stagingPath: path.resolve(e.STAGING_PATH),
    devKeysPath: path.resolve(e.DEV_KEYS_PATH),
    elementId: e.ELEMENT_ID,
    appMode: e.APP_MODE,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    maxFilesPerUpload: e.MAX_FILES_PER_UPLOAD,
    storageMaxBytes: e.STORAGE_MAX_BYTES,
    storageLocation: e.STORAGE_LOCATION || null,
    storagePriority: e.STORAGE_PRIORITY,
    uploadIdleTimeoutMs: e.UPLOAD_IDLE_TIMEOUT_MS,
    maxConcurrentUploadsPerPrincipal: e.MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL,
    maxStreamsPerPrincipal: e.MAX_STREAMS_PER_PRINCIPAL,
    uploadExpiryHours: e.UPLOAD_EXPIRY_HOURS,
    uploadExpiryIntervalSeconds: e.UPLOAD_EXPIRY_INTERVAL_SECONDS,
    maxOpenUploadsPerPrincipal: e.MAX_OPEN_UPLOADS_PER_PRINCIPAL,
    uploadLockMs: e.UPLOAD_LOCK_MS,
    jwt: Object.freeze({
      publicKeyPem: e.JWT_PUBLIC_KEY,
      publicKeyFile: e.JWT_PUBLIC_KEY_FILE,
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
    }),
    metricsToken: e.METRICS_TOKEN,
    metricsCacheMs: e.METRICS_CACHE_MS,
    workerConcurrency: e.WORKER_CONCURRENCY,
    ingestBatchMax: e.INGEST_BATCH_MAX,
    ingestBatchesInFlight: e.INGEST_BATCHES_IN_FLIGHT,
    ingestJobFilesMax: e.INGEST_JOB_FILES_MAX,
    hashThreads: e.HASH_THREADS,
    workerMetricsPort: e.WORKER_METRICS_PORT,
    workerMetricsHost: e.WORKER_METRICS_HOST,
    jobAttempts: e.JOB_ATTEMPTS,
    gcGraceSeconds: e.GC_GRACE_SECONDS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    stagingMaxAgeHours: e.STAGING_MAX_AGE_HOURS,
    jobLockMs: e.JOB_LOCK_MS,
    walLeaseSeconds: e.WAL_LEASE_SECONDS,
    scrubIntervalHours: e.SCRUB_INTERVAL_HOURS,
    scrubBudgetSeconds: e.SCRUB_BUDGET_SECONDS,
    lifecycleIntervalSeconds: e.LIFECYCLE_INTERVAL_SECONDS,
    crashAt: e.CRASH_AT,
    capacityThresholds: Object.freeze({
      warning: Object.freeze({ percent: e.CAPACITY_WARNING_PERCENT, bytes: e.CAPACITY_WARNING_BYTES }),
      critical: Object.freeze({ percent: e.CAPACITY_CRITICAL_PERCENT, bytes: e.CAPACITY_CRITICAL_BYTES }),
      full: Object.freeze({ percent: e.CAPACITY_FULL_PERCENT, bytes: e.CAPACITY_FULL_BYTES }),
    }),
    blobBackend: backends.blobBackend,
    s3: backends.s3,
    redisClusterNodes: backends.redisClusterNodes,
    logLevel: e.LOG_LEVEL,
    ...audit,
  });
}

/** Loads the config for an entry point: prints one line per problem and exits 1 when it is invalid. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`artstore: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
