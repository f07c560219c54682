// Where the time of `artstore ingest` of one large file goes: each run's spawn and exit beside the rows' own times
// (upload created, upload complete = its last byte durable and its job made, job final). Needs `npm run build`.
// With --before N, a tree of N files of 1 MiB is ingested first (untimed), as the cli scenario's trees come before its
// large file; each run also names the processes that used the most CPU meanwhile (all of /proc, the CLI included).
// tsx bench/tools/cli-large-trace.ts [--mib N] [--runs R] [--before N]
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchNodeArgs } from '../lib/child-process.js';
import { baseEnv, closeBenchEnv, openBenchEnv, REPO_ROOT } from '../lib/bench-env.js';
import { freshenHeader, writeRandomFile } from '../lib/scenario.js';
import { commandOfStat, cpuOfStat, cpuPer, type CpuTime } from '../lib/samplers.js';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '256' }, runs: { type: 'string', default: '4' }, before: { type: 'string', default: '0' } } });
const CLI = path.join(REPO_ROOT, 'dist/src/cli/main.js');

/** CPU ms (user + system) of every process now, by pid, with its name. */
async function cpuOfAll(): Promise<Map<number, { name: string; ms: number }>> {
  const all = new Map<number, { name: string; ms: number }>();
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const cpu = cpuOfStat(stat);
    all.set(Number(entry), { name: commandOfStat(stat), ms: cpu.userMs + cpu.sysMs });
  }
  return all;
}

type ThreadCpu = Map<'main' | 'other threads', CpuTime>;

/** CPU of pid's main thread and of its other threads (libuv's pool, V8's helpers) together. */
async function threadCpu(pid: number): Promise<ThreadCpu> {
  const out: ThreadCpu = new Map();
  for (const tid of await fs.readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const stat = await fs.readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const name = tid === String(pid) ? 'main' : 'other threads';
    const cpu = cpuOfStat(stat);
    const t = out.get(name) ?? { userMs: 0, sysMs: 0 };
    out.set(name, { userMs: t.userMs + cpu.userMs, sysMs: t.sysMs + cpu.sysMs });
  }
  return out;
}

function threadDelta(from: ThreadCpu, to: ThreadCpu): string {
  return [...to]
    .map(([name, t]) => ({ name, ...cpuPer(from.get(name) ?? { userMs: 0, sysMs: 0 }, t, 1) }))
    .filter((t) => t.totalMs > 0)
    .sort((a, b) => b.totalMs - a.totalMs)
    .map((t) => `${t.name} ${t.userMs}u+${t.sysMs}s`)
    .join(', ');
}

/** The processes that used the most CPU between two readings (a process that started in between counts whole). */
function topCpu(from: Map<number, { name: string; ms: number }>, to: Map<number, { name: string; ms: number }>, n: number): string {
  const byName = new Map<string, number>();
  for (const [pid, now] of to) {
    const name = roles.get(pid) ?? now.name;
    byName.set(name, (byName.get(name) ?? 0) + now.ms - (from.get(pid)?.ms ?? 0));
  }
  return [...byName].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, ms]) => `${name} ${ms} ms`).join(', ');
}

/** The api's V8 heap in use and its external memory (Buffers), MB, from its /metrics. */
async function apiMemory(apiUrl: string): Promise<string> {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1e6;
  return `api heap ${metric('artstore_nodejs_heap_size_used_bytes').toFixed(0)} MB, external ${metric('artstore_nodejs_external_memory_bytes').toFixed(0)} MB`;
}

/** Sectors written to every whole disk (/sys/block, not partitions or loop devices): whoever wrote them. */
async function sectorsWritten(): Promise<number> {
  let sectors = 0;
  for (const disk of await fs.readdir('/sys/block')) {
    if (/^(loop|ram|zram)/.test(disk)) continue;
    const stat = await fs.readFile(`/sys/block/${disk}/stat`, 'utf8').catch(() => '');
    // Fields: reads, merged, sectors read, ms, writes, merged, sectors written, ...
    sectors += Number(stat.trim().split(/\s+/)[6] ?? 0);
  }
  return sectors;
}

/** `artstore ingest target` as principal sub; resolves when the CLI exits. */
async function ingest(target: string, sub: string, nodeArgs: string[] = []): Promise<void> {
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'ingest', target], {
    env: { ...baseEnv(), ARTSTORE_URL: env.apiUrl, ARTSTORE_TOKEN: await env.token(sub) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await new Promise((resolve) => child.on('close', resolve));
}

const env = await openBenchEnv();
/** What the run's own processes are called in the CPU line (the CLI is the other node). */
const roles = new Map([
  [env.api.pid, 'api'],
  [env.worker.pid, 'worker'],
  [env.acceptOnly.pid, 'accept-only'],
  [process.pid, 'this tool'],
]);
try {
  const file = path.join(env.workPath, 'trace', 'large.bin');
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeRandomFile(file, Number(values.mib) * 1024 * 1024);
  const before = Number(values.before);
  if (before > 0) {
    const tree = path.join(env.workPath, 'trace-tree');
    for (let i = 0; i < before; i++) {
      const dir = path.join(tree, String(Math.floor(i / 500)));
      if (i % 500 === 0) await fs.mkdir(dir, { recursive: true });
      await writeRandomFile(path.join(dir, `${i}.bin`), 1024 * 1024);
    }
    const started = Date.now();
    await ingest(tree, 'trace-tree');
    console.log(`tree: ${before} files of 1 MiB ingested in ${Date.now() - started} ms; ${await apiMemory(env.apiUrl)}`);
  }
  // What the api does on its own (background work left from before would be charged to the runs).
  const idleFrom = await threadCpu(env.api.pid);
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  console.log(`api idle for 3 s (ms): ${threadDelta(idleFrom, await threadCpu(env.api.pid)) || 'nothing'}`);
  for (let run = 0; run < Number(values.runs); run++) {
    await freshenHeader(file);
    const sub = `trace-${run}`;
    const writtenBefore = await sectorsWritten();
    const cpuBefore = await cpuOfAll();
    const apiThreadsBefore = await threadCpu(env.api.pid);
    const spawnedAt = Date.now();
    await ingest(path.dirname(file), sub, benchNodeArgs());
    const exitedAt = Date.now();
    const writtenMb = ((await sectorsWritten()) - writtenBefore) * 512 / 1e6;
    const busiest = topCpu(cpuBefore, await cpuOfAll(), 6);
    const apiThreads = threadDelta(apiThreadsBefore, await threadCpu(env.api.pid));
    const { rows } = await env.db.query<{ created: Date; completed: Date; job_created: Date; finished: Date }>(
      `SELECT u.created_at AS created, u.completed_at AS completed, j.created_at AS job_created, j.finished_at AS finished
         FROM resumable_uploads u JOIN file_jobs j ON j.id = u.job_id WHERE u.owner = $1`,
      [sub],
    );
    const r = rows[0];
    if (!r) {
      console.log(`run ${run}: no resumable upload row (total ${exitedAt - spawnedAt} ms)`);
      continue;
    }
    const at = (d: Date) => d.getTime() - spawnedAt;
    const mb = (Number(values.mib) * 1.048576) / ((exitedAt - spawnedAt) / 1000);
    console.log(
      `run ${run}: ${mb.toFixed(0)} MB/s; upload created +${at(r.created)} ms, complete +${at(r.completed)}, job made +${at(r.job_created)}, final +${at(r.finished)}, CLI exit +${exitedAt - spawnedAt}; the disk took ${writtenMb.toFixed(0)} MB meanwhile; CPU: ${busiest}; api threads (ms): ${apiThreads}; ${await apiMemory(env.apiUrl)}`,
    );
  }
  // With BENCH_NODE_ARGS='--trace-gc' (or anything else the api prints), its last output.
  if (process.env.TRACE_API_OUTPUT) console.log(env.api.output().split('\n').slice(-Number(process.env.TRACE_API_OUTPUT)).join('\n'));
} finally {
  await closeBenchEnv();
}
