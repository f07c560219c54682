// CPU per status poll: the API process's user+system CPU over n `GET /api/v1/jobs/{id}` (random id of 100 final
// jobs, 32 connections), beside accept-only's over the same number of `GET /ping`, in one run, alternating. CPU per
// request is far steadier than req/s on a shared machine, and its ratio bounds the req/s ratio the `status`
// scenario reports when the api is the bottleneck. A profiling aid for issue 13, not a scenario: run
// `npm run -s build && tsx bench/tools/status-cpu.ts [--requests N] [--reps R]`; with
// BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' each process leaves a profile named by its pid.
import { randomInt } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { closeBenchEnv, openBenchEnv } from '../lib/bench-env.js';
import { cannon, type CannonResult } from '../lib/http-client.js';
import { readCpu } from '../lib/samplers.js';
import { uploadSmallFiles } from '../lib/scenario.js';

const CONNECTIONS = 32;

function cpuMs(pid: number): number {
  const t = readCpu(pid);
  return t.userMs + t.sysMs;
}

/** Runs load and returns the process's CPU ms per answered request. */
async function perRequest(pid: number, load: () => Promise<CannonResult>): Promise<{ ms: number; result: CannonResult }> {
  const before = cpuMs(pid);
  const result = await load();
  return { ms: (cpuMs(pid) - before) / result.ok, result };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { requests: { type: 'string', default: '30000' }, reps: { type: 'string', default: '3' } } });
  const n = Number(values.requests);
  const reps = Number(values.reps);
  const env = await openBenchEnv();
  try {
    const sub = 'status-cpu';
    await uploadSmallFiles(env, sub, 100);
    const { rows } = await env.db.query<{ id: string }>('SELECT id FROM file_jobs WHERE principal = $1', [sub]);
    const ids = rows.map((r) => r.id);
    const headers = { Authorization: `Bearer ${await env.token(sub)}` };
    const ours = (amount: number) =>
      cannon({
        url: `${env.apiUrl}/api/v1/jobs/${ids[0]}`, connections: CONNECTIONS, amount, maxSeconds: 120, headers,
        setupRequest: (req) => ({ ...req, path: `/api/v1/jobs/${ids[randomInt(ids.length)]}` }),
      });
    const hello = (amount: number) => cannon({ url: `${env.acceptOnlyUrl}/ping`, connections: CONNECTIONS, amount, maxSeconds: 120 });
    await ours(3000);
    await hello(3000);
    const ratios: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      const load = os.loadavg()[0]!.toFixed(2);
      const runOurs = () => perRequest(env.api.pid, () => ours(n));
      const runHello = () => perRequest(env.acceptOnly.pid, () => hello(n));
      let a, b;
      if (rep % 2 === 0) {
        a = await runOurs();
        b = await runHello();
      } else {
        b = await runHello();
        a = await runOurs();
      }
      const bad = a.result.non2xx + a.result.errors;
      ratios.push(b.ms / a.ms);
      process.stdout.write(
        `rep ${rep + 1} (load ${load}): api ${(a.ms * 1000).toFixed(1)} us CPU/req, ${a.result.rps.toFixed(0)} req/s` +
          `${bad ? ` (${bad} non-2xx or errors)` : ''} | hello ${(b.ms * 1000).toFixed(1)} us, ${b.result.rps.toFixed(0)} req/s | ` +
          `CPU ratio hello/api ${(b.ms / a.ms).toFixed(3)}x, req/s ratio ${(a.result.rps / b.result.rps).toFixed(3)}x\n`,
      );
    }
    ratios.sort((x, y) => x - y);
    process.stdout.write(`median CPU ratio hello/api ${ratios[Math.floor(ratios.length / 2)]!.toFixed(3)}x\n`);
  } finally {
    await closeBenchEnv();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
