// After a burst and its fault: wait for every job to end, let recovery and the sweeps settle, then count what a user
// would see: committed, duplicate, lost, downloads intact, and orphans in staging, the blob store and the WAL.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pollUntil } from '../helpers/wait.js';
import { CONFIRM_DEAD_AFTER_MS, OWNER_TTL_MS } from '../../src/shared/storage/writers.js';
import type { BurstResult } from './burst.js';
import type { Scenario } from './fault-world.js';
import { countOrphans, findOrphans, type Orphans } from '../helpers/store-audit.js';

const FINAL = ['committed', 'duplicate', 'failed'];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');


interface JobRow {
  id: string;
  state: string;
  file_id: string;
  idempotency_key: string | null;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
  created_at: Date;
  finished_at: Date | null;
}

export interface Audit {
  scenario: string;
  acknowledged: number;
  committed: number;
  duplicates: number;
  /** Acknowledged uploads that did not end committed or duplicate with exactly one downloadable file. */
  lost: Array<{ jobId: string; state: string; error: string | null; fileRows: number; download: string; createdAt?: string; finishedAt?: string; wal?: string[] }>;
  /** Jobs recorded for keys whose client never saw a 2xx (given up), and jobs recorded twice for one key. */
  unacknowledgedJobs: number;
  /** Jobs of any kind not final when the wait ended, with their state in BullMQ ('unknown': not in Redis). */
  stuck: Array<JobRow & { bullState: string }>;
  downloadsOk: number;
  /** Staged files present when every job had ended, before the sweep pass (partial uploads, leftovers). */
  stagedBeforeSweep: number;
  orphans: Orphans;
  orphanCount: number;
  /** Longest time from a job's creation to its end, and how many took over LATE_SECONDS (the requeue sweep's work). */
  slowestJobSeconds: number;
  lateJobs: number;
  seconds: { burst: number; settle: number };
}

const LATE_SECONDS = 30;

async function allJobs(scenario: Scenario): Promise<JobRow[]> {
  const { rows } = await scenario.db.query<JobRow>(
    `SELECT id, state, file_id, idempotency_key, error_code, error_message, attempts, created_at, finished_at FROM file_jobs`,
  );
  return rows;
}

async function withBullStates(scenario: Scenario, jobs: JobRow[]): Promise<Array<JobRow & { bullState: string }>> {
  if (jobs.length === 0) return [];
  const connection = new Redis(scenario.config.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('ingest', { connection, prefix: scenario.config.queuePrefix });
  try {
    return await Promise.all(jobs.map(async (j) => ({ ...j, bullState: await queue.getJobState(j.id).catch((e: Error) => e.message) })));
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

async function download(scenario: Scenario, token: string, fileId: string): Promise<string> {
  const res = await fetch(`${scenario.baseUrl}/api/v1/files/${fileId}`, { headers: { Authorization: `Bearer ${token}` } });
  const body = Buffer.from(await res.arrayBuffer());
  return res.status === 200 ? sha(body) : `status ${res.status}`;
}

/** Up to `limit` calls of fn at a time over items. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/**
 * Waits (deadline jobsTimeoutMs) for every job to be final, then restarts the api and the worker gracefully with
 * the staging janitor's age limit shortened to a few seconds (in an exclusive turn: starting processes is a
 * burst of CPU): their start-up recovery and sweeps are the pass that must leave no orphans. Deadline: 20 s, plus
 * the time a killed process's files stay its own (its writer key's TTL, then the janitor's second look), since a
 * burst that settles fast restarts the services before that.
 * Then audits.
 */
export async function settleAndAudit(
  scenario: Scenario,
  burst: BurstResult,
  token: string,
  jobsTimeoutMs: number,
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>,
): Promise<Audit> {
  const settleStarted = Date.now();
  await pollUntil(`every job of ${scenario.name} final`, jobsTimeoutMs, async () => (await allJobs(scenario)).every((j) => FINAL.includes(j.state)), 250)
    .catch(() => undefined);
  const stagedBeforeSweep = (await fs.readdir(scenario.config.stagingPath).catch(() => [])).length;

  // Files staged by the burst must be older than the janitor's limit when the worker starts.
  const sweepEnv = { STAGING_MAX_AGE_HOURS: String(1 / 3_600) };
  await new Promise((r) => setTimeout(r, Math.max(0, burst.finishedAt + 1_500 - Date.now())));
  await exclusive(() => Promise.all([scenario.restartApi({ graceful: true, env: sweepEnv }), scenario.restartWorker({ graceful: true, env: sweepEnv })]));
  let orphans = await findOrphans(scenario);
  await pollUntil(`no orphans in ${scenario.name}`, 20_000 + OWNER_TTL_MS + CONFIRM_DEAD_AFTER_MS, async () => {
    orphans = await findOrphans(scenario);
    return countOrphans(orphans) === 0;
  }, 250).catch(() => undefined);
  const settleSeconds = (Date.now() - settleStarted) / 1_000;

  const jobs = await allJobs(scenario);
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const ackKeys = new Set(burst.acknowledged.map((a) => a.key));
  const keysSeen = new Map<string, number>();
  for (const j of jobs) if (j.idempotency_key) keysSeen.set(j.idempotency_key, (keysSeen.get(j.idempotency_key) ?? 0) + 1);
  const unacknowledgedJobs = jobs.filter((j) => !j.idempotency_key || !ackKeys.has(j.idempotency_key)).length +
    [...keysSeen.values()].reduce((n, c) => n + c - 1, 0);
  const { rows: fileCounts } = await scenario.db.query<{ id: string; n: string }>(
    `SELECT id, count(*) AS n FROM files WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL GROUP BY id`,
    [burst.acknowledged.map((a) => byId.get(a.jobId)?.file_id).filter(Boolean)],
  );
  const fileRows = new Map(fileCounts.map((r) => [r.id, Number(r.n)]));

  const audit: Audit = {
    scenario: scenario.name,
    acknowledged: burst.acknowledged.length,
    committed: 0,
    duplicates: 0,
    lost: [],
    unacknowledgedJobs,
    stuck: await withBullStates(scenario, jobs.filter((j) => !FINAL.includes(j.state))),
    downloadsOk: 0,
    stagedBeforeSweep,
    orphans,
    orphanCount: countOrphans(orphans),
    slowestJobSeconds: 0,
    lateJobs: 0,
    seconds: { burst: (burst.finishedAt - burst.startedAt) / 1_000, settle: settleSeconds },
  };
  for (const j of jobs) {
    if (!j.finished_at) continue;
    const took = (j.finished_at.getTime() - j.created_at.getTime()) / 1_000;
    audit.slowestJobSeconds = Math.max(audit.slowestJobSeconds, took);
    if (took > LATE_SECONDS) audit.lateJobs++;
  }
  await eachLimited(burst.acknowledged, 8, async (ack) => {
    const job = byId.get(ack.jobId);
    const rows = job ? (fileRows.get(job.file_id) ?? 0) : 0;
    const got = job && rows === 1 ? await download(scenario, token, job.file_id) : 'not downloaded';
    const intact = got === ack.sha256;
    if (intact) audit.downloadsOk++;
    if (job?.state === 'committed' && rows === 1 && intact) audit.committed++;
    else if (job?.state === 'duplicate' && rows === 1 && intact) audit.duplicates++;
    else {
      audit.lost.push({
        jobId: ack.jobId,
        state: job?.state ?? 'no job row',
        error: job?.error_code ? `${job.error_code}: ${job.error_message}` : null,
        fileRows: rows,
        download: got === ack.sha256 ? 'intact' : got,
        createdAt: job?.created_at.toISOString(),
        finishedAt: job?.finished_at?.toISOString(),
        wal: (await scenario.db.query<{ s: string }>(
          `SELECT concat_ws(' ', id, operation, status, started_at, completed_at, error) AS s FROM wal_entries WHERE job_id = $1 ORDER BY id`, [ack.jobId],
        )).rows.map((r) => r.s),
      });
    }
  });
  return audit;
}

/** One line per scenario, quotable in the README's reliability section. */
export function formatAudit(a: Audit, burst: BurstResult): string {
  const o = a.orphans;
  const detail = `staged=${o.staged.length} tmp=${o.temp.length} blobNoRow=${o.blobFilesWithoutRow.length} rowNoBlob=${o.blobRowsWithoutFile.length} refCount=${o.refCountWrong.length} attrNoRow=${o.attrWithoutRow.length} rowNoAttr=${o.rowsWithoutAttr.length} pendingWal=${o.pendingWal.length} filesWithoutJob=${o.filesWithoutJob.length}`;
  const causes = Object.entries(burst.retryCauses).map(([k, v]) => `${k}:${v}`).join(',') || 'none';
  return (
    `faults: ${a.scenario} acknowledged=${a.acknowledged} committed=${a.committed} duplicates=${a.duplicates} lost=${a.lost.length}` +
    ` downloads=${a.downloadsOk}/${a.acknowledged} orphans=${a.orphanCount} (${detail}) stuck=${a.stuck.length}` +
    ` unacknowledged=${burst.unacknowledged.length} rejected=${burst.rejected.length} extraJobs=${a.unacknowledgedJobs}` +
    ` retries=${burst.retries} (${causes}) faultAtAck=${burst.faultAtAck} stagedBeforeSweep=${a.stagedBeforeSweep}` +
    ` slowestJob=${a.slowestJobSeconds.toFixed(1)}s lateJobs=${a.lateJobs} burst=${a.seconds.burst.toFixed(1)}s settle=${a.seconds.settle.toFixed(1)}s`
  );
}
