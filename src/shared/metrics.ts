// Prometheus metrics: one registry per process, with the names every dashboard relies on.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { QUEUE_NAMES, type Queues } from './queues.js';
import { RequestMetrics } from './request-metrics.js';

const PREFIX = 'artstore_';

/**
 * A scrape-time read shared by every scrape: at most one call in flight (concurrent scrapes wait for the same one),
 * and its result reused for `ttlMs`. /metrics is public, so a few scrapers must not be able to hold the database
 * pool or Redis busy (issue 10). A failed read is not kept: the next scrape tries again.
 */
export function sharedRead<T>(read: () => Promise<T>, ttlMs: number, now: () => number = Date.now): () => Promise<T> {
  let cached: { value: T; until: number } | undefined;
  let inflight: Promise<T> | undefined;
  return () => {
    if (cached && now() < cached.until) return Promise.resolve(cached.value);
    inflight ??= read()
      .then((value) => {
        cached = { value, until: now() + ttlMs };
        return value;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };
}

export function createRegistry(process: 'api' | 'worker'): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ process });
  collectDefaultMetrics({ register: registry, prefix: PREFIX, eventLoopMonitoringPrecision: 20 });
  return registry;
}

export function createApiMetrics(registry: Registry) {
  return {
    /** artstore_http_requests_total and artstore_http_request_duration_seconds. */
    requests: new RequestMetrics(registry),
    uploadsAccepted: new Counter({
      name: `${PREFIX}uploads_accepted_total`,
      help: 'Files accepted into staging (ingest jobs created)',
      registers: [registry],
    }),
    bytesStaged: new Counter({
      name: `${PREFIX}upload_staged_bytes_total`,
      help: 'Bytes written to staging by accepted uploads',
      registers: [registry],
    }),
    /** Queue depth by queue and state, read from BullMQ at most once per `ttlMs` (sharedRead). */
    queueJobs: (queues: Queues, ttlMs: number) => {
      const read = sharedRead(
        () =>
          Promise.all(
            Object.values(QUEUE_NAMES).map(async (name) => ({
              name,
              counts: await queues[name].getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed').catch(() => ({})),
            })),
          ),
        ttlMs,
      );
      return new Gauge({
        name: `${PREFIX}queue_jobs`,
        help: 'BullMQ jobs by queue and state, read at scrape time (cached for METRICS_CACHE_MS)',
        labelNames: ['queue', 'state'] as const,
        registers: [registry],
        async collect() {
          for (const { name, counts } of await read()) {
            for (const [state, n] of Object.entries(counts)) this.set({ queue: name, state }, n);
          }
        },
      });
    },
    /**
     * Pending WAL entries by operation (they page an operator), counted at most once per `ttlMs`. Only status
     * "pending" is reported: counting settled entries meant reading the whole table on every scrape.
     */
    walEntries: (count: () => Promise<Array<{ operation: string; n: number }>>, ttlMs: number) => {
      const read = sharedRead(count, ttlMs);
      const seen = new Set<string>();
      return new Gauge({
        name: `${PREFIX}wal_entries`,
        help: 'Pending WAL entries by operation, read at scrape time (cached for METRICS_CACHE_MS)',
        labelNames: ['operation', 'status'] as const,
        registers: [registry],
        async collect() {
          const rows = await read().catch(() => null);
          if (!rows) {
            this.reset();
            return;
          }
          // An operation with no pending entry left reads 0 rather than vanishing, so alerts resolve cleanly.
          for (const operation of seen) this.set({ operation, status: 'pending' }, 0);
          for (const r of rows) {
            seen.add(r.operation);
            this.set({ operation: r.operation, status: 'pending' }, r.n);
          }
        },
      });
    },
    ...auditApiMetrics(registry),
  };
}
export type ApiMetrics = ReturnType<typeof createApiMetrics>;

/** The API's audit trail metrics (issue 17). */
function auditApiMetrics(registry: Registry) {
  return {
    /** Audit trail (issue 17): events this process could not record (auth_denied past its rate, a full buffer). */
    auditDropped: new Counter({
      name: `${PREFIX}audit_events_dropped_total`,
      help: 'Audit events not recorded: auth_denied past AUDIT_DENIED_PER_SECOND, or downloads and denials past the buffer',
      labelNames: ['action', 'reason'] as const,
      registers: [registry],
    }),
    /** The chain's length (its head seq): every event written by any process, read at scrape time. */
    auditEvents: (headSeq: () => Promise<bigint>, ttlMs: number) => {
      const read = sharedRead(headSeq, ttlMs);
      return new Gauge({
        name: `${PREFIX}audit_events`,
        help: 'Audit events written (the hash chain head seq), read at scrape time (cached for METRICS_CACHE_MS)',
        registers: [registry],
        async collect() {
          const seq = await read().catch(() => null);
          if (seq !== null) this.set(Number(seq));
        },
      });
    },
  };
}

export function createWorkerMetrics(registry: Registry) {
  return {
    jobsFinished: new Counter({
      name: `${PREFIX}jobs_finished_total`,
      help: 'Jobs that reached a final state, by queue and state',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
    }),
    jobDuration: new Histogram({
      name: `${PREFIX}job_duration_seconds`,
      help: 'Time from a job run start to its end, by queue and outcome',
      labelNames: ['queue', 'state'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      registers: [registry],
    }),
    bytesCommitted: new Counter({
      name: `${PREFIX}bytes_committed_total`,
      help: 'Bytes of files committed (dedup hits included)',
      registers: [registry],
    }),
    blobBytesWritten: new Counter({
      name: `${PREFIX}blob_bytes_written_total`,
      help: 'Bytes of new blobs written to the blob store',
      registers: [registry],
    }),
    dedupHits: new Counter({
      name: `${PREFIX}dedup_hits_total`,
      help: 'Ingests whose bytes were already stored',
      registers: [registry],
    }),
    hashedBytes: new Counter({
      name: `${PREFIX}hashed_bytes_total`,
      help: 'Bytes hashed by the sha256 pool',
      registers: [registry],
    }),
    hashSeconds: new Counter({
      name: `${PREFIX}hash_seconds_total`,
      help: 'Wall time spent waiting on the hash pool (hashed_bytes_total / this = throughput)',
      registers: [registry],
    }),
    scrubCorruptBlobs: new Counter({
      name: `${PREFIX}scrub_corrupt_blobs_total`,
      help: 'Blobs the integrity scrub found corrupt, each time it found them, by reason (mismatch, missing, unreadable)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    scrubCheckedBytes: new Counter({
      name: `${PREFIX}scrub_checked_bytes_total`,
      help: 'Bytes of stored blobs re-hashed by the integrity scrub',
      registers: [registry],
    }),
    auditVerifications: new Counter({
      name: `${PREFIX}audit_verifications_total`,
      help: 'Audit chain verifications before a checkpoint is signed, by result (intact, broken)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
  };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
