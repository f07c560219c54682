// Scenario small (+ lag): many 16 KiB files from 32 clients, upload to `committed`, vs an accept-only server;
// meanwhile the event-loop delay of api and worker and BullMQ's stalled jobs.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { cannon, multipartFrame, type CannonResult } from '../lib/http-client.js';
import { row } from '../lib/report.js';
import { cpuOfPer, cpuPer, readCpu, readCpuOf, sampleLag, type LagSummary } from '../lib/samplers.js';
import { alternate, waitForFinal, type Scenario, type ScenarioContext, type ScenarioOutcome } from '../lib/scenario.js';
import { BENCH_APPLICATION_NAME, type BenchEnv } from '../lib/bench-env.js';
import { max, median } from '../lib/stats.js';

const FILE_BYTES = 16 * 1024;
const CONNECTIONS = 32;

interface OursRep {
  accepted: number;
  committed: number;
  failed: number;
  rerun: number;
  seconds: number;
  filesPerSecond: number;
  accept: CannonResult;
  capped: boolean;
  lagApi: LagSummary;
  lagWorker: LagSummary;
  /** CPU ms (all threads) per accepted upload while the uploads ran, and per committed file until the last was final. */
  apiCpu: ReturnType<typeof cpuPer>;
  workerCpu: ReturnType<typeof cpuPer>;
  /** The rest of the machine's work per committed file, from the first upload until the last was final. */
  budget: CpuBudget;
}

type Cpu = ReturnType<typeof cpuPer>;

/** CPU ms per committed file of everything else the run makes the two cores do, beside the api and the worker. */
interface CpuBudget {
  /** The api over the whole run (apiCpu above is per accepted upload while uploads ran). */
  api: Cpu;
  /** PostgreSQL's backends of the bench database (not the bench's own polling connections). */
  postgres: Cpu;
  /** redis-server, when it runs on this machine (null otherwise). */
  redis: Cpu | null;
  /** This process: autocannon (the load generator) and the bench's own polling. */
  loadGenerator: Cpu;
}

/** The bench database's PostgreSQL backends (listed again at each reading: the pools may open more). */
async function postgresBackends(env: BenchEnv): Promise<number[]> {
  const { rows } = await env.db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name <> $1 AND backend_type = $2',
    [BENCH_APPLICATION_NAME, 'client backend'],
  );
  return rows.map((r) => r.pid);
}

/** redis-server's pid when it runs on this machine (INFO's process_id is then a redis process here). */
async function localRedisPid(connection: Redis): Promise<number | null> {
  const pid = Number(/^process_id:(\d+)/m.exec(await connection.info('server'))?.[1]);
  if (!pid) return null;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').includes('redis') ? pid : null;
  } catch {
    return null;
  }
}

/** autocannon run of count multipart uploads, each with fresh random bytes (no dedup hits), bounded by maxSeconds. */
function uploads(url: string, count: number, maxSeconds: number, headers: Record<string, string>): Promise<CannonResult> {
  const frame = multipartFrame('small.bin');
  return cannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    amount: count,
    maxSeconds,
    headers: { ...headers, 'Content-Type': frame.contentType },
    setupRequest: (req) => ({ ...req, body: Buffer.concat([frame.head, randomBytes(FILE_BYTES), frame.tail]) }),
  });
}

interface Bounds {
  uploadCapSeconds: number;
  drainCapSeconds: number;
  settleSeconds: number;
}

const NO_LAG: LagSummary = { maxMs: 0, p99Ms: 0, scrapes: 0, failedScrapes: 0 };

/** One repetition against the element: n uploads as principal sub, timed until every accepted job is final. */
async function runOurs(ctx: ScenarioContext, bounds: Bounds, sub: string, n: number, measure: boolean, redisPid: number | null): Promise<OursRep> {
  const { env } = ctx;
  const token = await env.token(sub);
  const lagApi = measure ? await sampleLag(`${env.apiUrl}/metrics`) : null;
  const lagWorker = measure ? await sampleLag(env.workerMetricsUrl) : null;
  const postgres0 = readCpuOf(await postgresBackends(env));
  const redis0 = redisPid ? readCpu(redisPid) : null;
  const started = performance.now();
  const [api0, worker0, self0] = [readCpu(env.api.pid), readCpu(env.worker.pid), readCpu(process.pid)];
  const accept = await uploads(`${env.apiUrl}/api/v1/files/upload`, n, bounds.uploadCapSeconds, { Authorization: `Bearer ${token}` });
  const api1 = readCpu(env.api.pid);
  const final = await waitForFinal(env, sub, accept.ok, Date.now() + bounds.drainCapSeconds * 1000);
  const [apiEnd, worker1, self1] = [readCpu(env.api.pid), readCpu(env.worker.pid), readCpu(process.pid)];
  const postgres1 = readCpuOf(await postgresBackends(env));
  const budget: CpuBudget = {
    api: cpuPer(api0, apiEnd, final.done),
    postgres: cpuOfPer(postgres0, postgres1, final.done),
    redis: redisPid && redis0 ? cpuPer(redis0, readCpu(redisPid), final.done) : null,
    loadGenerator: cpuPer(self0, self1, final.done),
  };
  const seconds = (final.at - started) / 1000;
  const lagSummaries = { api: lagApi ? await lagApi.stop() : null, worker: lagWorker ? await lagWorker.stop() : null };
  let settled = final;
  if (final.done + final.failed < accept.ok) {
    // The next measurement must not inherit this one's backlog.
    ctx.log(`small: ${accept.ok - final.done - final.failed} jobs left after the bound; letting them settle (unmeasured)`);
    settled = await waitForFinal(env, sub, accept.ok, Date.now() + bounds.settleSeconds * 1000);
  }
  return {
    accepted: accept.ok,
    committed: final.done,
    failed: settled.failed,
    rerun: settled.rerun,
    seconds,
    filesPerSecond: final.done / seconds,
    accept,
    capped: accept.ok < n || final.done + final.failed < accept.ok,
    lagApi: lagSummaries.api ?? NO_LAG,
    lagWorker: lagSummaries.worker ?? NO_LAG,
    apiCpu: cpuPer(api0, api1, accept.ok),
    workerCpu: cpuPer(worker0, worker1, final.done),
    budget,
  };
}

interface SmallSamples {
  count: number;
  ours: OursRep[];
  acceptOnly: CannonResult[];
  /** The accept-only server's CPU ms per accepted upload, per repetition. */
  acceptOnlyCpu: Array<ReturnType<typeof cpuPer>>;
}

/** The report rows of small and lag from every repetition's samples. */
function smallRows(ctx: ScenarioContext, bounds: Bounds, samples: SmallSamples, stalledCount: number): ScenarioOutcome['rows'] {
  const { count } = samples;
  const rate = median(samples.ours.map((r) => r.filesPerSecond));
  const base = median(samples.acceptOnly.map((r) => r.rps));
  const capped = samples.ours.filter((r) => r.capped).length;
  const failed = samples.ours.reduce((n, r) => n + r.failed, 0);
  const rejected = samples.ours.reduce((n, r) => n + r.accept.non2xx + r.accept.errors, 0);
  const rerun = samples.ours.reduce((n, r) => n + r.rerun, 0);
  const smallNote = [
    `${count} files x ${ctx.reps}, ${CONNECTIONS} clients`,
    capped ? `${capped} repetition(s) hit the ${bounds.uploadCapSeconds}+${bounds.drainCapSeconds} s bound (rate = committed / elapsed)` : '',
    failed ? `${failed} jobs failed` : '',
    rejected ? `${rejected} uploads not accepted` : '',
  ].filter(Boolean).join('; ');
  const cpu = (per: Array<ReturnType<typeof cpuPer>>) => {
    const m = (k: 'userMs' | 'sysMs') => median(per.map((c) => c[k]));
    return `${(m('userMs') + m('sysMs')).toFixed(2)} ms (${m('userMs').toFixed(2)} user + ${m('sysMs').toFixed(2)} sys)`;
  };
  const cpuNote =
    `CPU per upload: api ${cpu(samples.ours.map((r) => r.apiCpu))}, accept-only ${cpu(samples.acceptOnlyCpu)}; ` +
    `worker ${cpu(samples.ours.map((r) => r.workerCpu))} per committed file`;
  const total = (r: OursRep) =>
    r.budget.api.totalMs + r.workerCpu.totalMs + r.budget.postgres.totalMs + (r.budget.redis?.totalMs ?? 0) + r.budget.loadGenerator.totalMs;
  const part = (pick: (r: OursRep) => Cpu | null) => median(samples.ours.map((r) => pick(r)?.totalMs ?? 0)).toFixed(2);
  const budgetNote =
    `CPU per committed file, first upload to last final: api ${part((r) => r.budget.api)}, worker ${part((r) => r.workerCpu)}, ` +
    `PostgreSQL ${part((r) => r.budget.postgres)}, Redis ${samples.ours.some((r) => r.budget.redis) ? part((r) => r.budget.redis) : 'not local'}, ` +
    `load generator ${part((r) => r.budget.loadGenerator)}; total ${median(samples.ours.map(total)).toFixed(2)} ms, ` +
    `so ${os.availableParallelism()} cores allow at most ${median(samples.ours.map((r) => (os.availableParallelism() * 1000) / total(r))).toFixed(0)} files/s`;
  const lagNote = (k: 'lagApi' | 'lagWorker') => {
    const misses = samples.ours.reduce((n, r) => n + r[k].failedScrapes, 0);
    return `max over repetitions; highest per-scrape p99 ${max(samples.ours.map((r) => r[k].p99Ms)).toFixed(1)} ms${misses ? `; ${misses} scrapes failed or timed out` : ''}`;
  };
  return [
    row({
      scenario: 'small', measure: '16 KiB files/s, upload to committed', unit: 'files/s', ours: rate,
      baseline: base, baselineName: 'accept-only',
      target: { text: '>= 1,500 files/s and >= 0.6x accept-only', met: (o, r) => o >= 1500 && r !== null && r >= 0.6 && failed === 0 },
      note: [smallNote, budgetNote].join('; '),
    }),
    row({
      scenario: 'small', measure: '16 KiB uploads accepted (202) per s', unit: 'files/s', ours: median(samples.ours.map((r) => r.accept.rps)),
      baseline: base, baselineName: 'accept-only',
      note: `p99 ${median(samples.ours.map((r) => r.accept.p99Ms))} ms (accept-only ${median(samples.acceptOnly.map((r) => r.p99Ms))} ms); ${cpuNote}`,
    }),
    row({
      scenario: 'lag', measure: 'API event-loop delay max during small', unit: 'ms', ours: max(samples.ours.map((r) => r.lagApi.maxMs)),
      target: { text: '< 100 ms', met: (o) => o < 100 }, note: lagNote('lagApi'),
    }),
    row({
      scenario: 'lag', measure: 'worker event-loop delay max during small', unit: 'ms', ours: max(samples.ours.map((r) => r.lagWorker.maxMs)),
      target: { text: '< 100 ms', met: (o) => o < 100 }, note: lagNote('lagWorker'),
    }),
    row({
      scenario: 'lag', measure: 'stalled jobs during small', unit: 'jobs', ours: stalledCount,
      target: { text: '0', met: (o) => o === 0 }, note: `BullMQ 'stalled' events; ${rerun} jobs ran more than once (attempts > 1 in the database)`,
    }),
  ];
}

export const smallScenario: Scenario = async (ctx) => {
  const { env } = ctx;
  const count = ctx.files ?? (ctx.quick ? 2_000 : 20_000);
  // Bounds per repetition (the rate is then what was committed in the time taken); leftovers settle unmeasured.
  const bounds: Bounds = { uploadCapSeconds: ctx.quick ? 20 : 30, drainCapSeconds: ctx.quick ? 20 : 30, settleSeconds: 120 };
  const warmup = Math.min(200, Math.max(10, Math.floor(count / 10)));

  // Stalled jobs as BullMQ reports them (a worker whose lock lapsed, usually a blocked event loop).
  const connection = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
  const events = new QueueEvents('ingest', { connection, prefix: env.queuePrefix });
  let stalled = 0;
  events.on('stalled', () => (stalled += 1));
  await events.waitUntilReady();

  // The baseline's files stay until the run ends. Deleting thousands of files between repetitions made the next
  // repetition's file creations (the API's staged files, the worker's attr.json) scan past the freed inodes: ext4
  // without a journal, as on the bench machine, does not reuse an inode for 60-300 s after its deletion, and
  // checks each free one in turn (0.6-0.75 ms of system CPU per created file after 20,000 deletions, 18 us before).
  const acceptOnlyCpu: Array<ReturnType<typeof cpuPer>> = [];
  const baseline = async (n: number) => {
    const before = readCpu(env.acceptOnly.pid);
    const result = await uploads(`${env.acceptOnlyUrl}/upload`, n, bounds.uploadCapSeconds, {});
    acceptOnlyCpu.push(cpuPer(before, readCpu(env.acceptOnly.pid), result.ok));
    return result;
  };

  try {
    ctx.log(`small: warm-up (${warmup} files each)`);
    const redisPid = await localRedisPid(connection);
    await runOurs(ctx, bounds, 'bench-small-warmup', warmup, false, redisPid);
    await baseline(warmup);
    acceptOnlyCpu.length = 0;
    const stalledBefore = stalled;

    const samples: SmallSamples = { count, ours: [], acceptOnly: [], acceptOnlyCpu };
    await alternate(
      ctx.reps,
      async (i) => {
        const r = await runOurs(ctx, bounds, `bench-small-${i}`, count, true, redisPid);
        samples.ours.push(r);
        ctx.log(
          `small: rep ${i + 1} ours ${r.committed}/${count} committed in ${r.seconds.toFixed(1)} s = ${r.filesPerSecond.toFixed(0)} files/s ` +
            `(accepted ${r.accept.rps.toFixed(0)}/s); lag max api ${r.lagApi.maxMs.toFixed(0)} ms, worker ${r.lagWorker.maxMs.toFixed(0)} ms; ` +
            `CPU ms api ${r.apiCpu.totalMs.toFixed(2)}/upload, worker ${r.workerCpu.totalMs.toFixed(2)}/file; per committed file ` +
            `PostgreSQL ${r.budget.postgres.totalMs.toFixed(2)}, Redis ${r.budget.redis?.totalMs.toFixed(2) ?? '-'}, load generator ${r.budget.loadGenerator.totalMs.toFixed(2)}`,
        );
      },
      async (i) => {
        const r = await baseline(count);
        samples.acceptOnly.push(r);
        ctx.log(`small: rep ${i + 1} accept-only ${r.ok}/${count} in ${r.seconds.toFixed(1)} s = ${r.rps.toFixed(0)} files/s; CPU ${acceptOnlyCpu.at(-1)!.totalMs.toFixed(2)} ms/upload`);
      },
    );
    // Stall checks run every JOB_LOCK_MS: a stall near the end shows up only after one more interval at most.
    const stalledCount = stalled - stalledBefore;
    const rerun = samples.ours.reduce((n, r) => n + r.rerun, 0);
    return { rows: smallRows(ctx, bounds, samples, stalledCount), samples: { ...samples, stalled: stalledCount, rerun } };
  } finally {
    await events.close();
    connection.disconnect();
  }
};
