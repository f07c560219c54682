// CPU per accepted upload: the API process's user+system CPU over n small uploads, beside the accept-only
// baseline's over the same load, in one run (the worker drains meanwhile, as in `small`). A profiling aid for
// issue 12, not a scenario: run `npm run -s build && tsx bench/tools/api-cpu.ts [--files N] [--reps R]`;
// with BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' each process leaves a profile named by its pid.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { closeBenchEnv, openBenchEnv } from '../lib/bench-env.js';
import { cannon, multipartFrame, type CannonResult } from '../lib/http-client.js';
import { cpuPer, readCpu, type CpuTime } from '../lib/samplers.js';
import { waitForFinal } from '../lib/scenario.js';

const FILE_BYTES = 16 * 1024;
const CONNECTIONS = 32;
function cpuMs(pid: number): number {
  const t = readCpu(pid);
  return t.userMs + t.sysMs;
}

/** ms of user / sys CPU per unit between two readings. */
function split(a: CpuTime, b: CpuTime, n: number): string {
  const c = cpuPer(a, b, n);
  return `${c.userMs.toFixed(3)} user + ${c.sysMs.toFixed(3)} sys`;
}

function uploads(url: string, n: number, headers: Record<string, string>): Promise<CannonResult> {
  const frame = multipartFrame('small.bin');
  return cannon({
    url, method: 'POST', connections: CONNECTIONS, amount: n, maxSeconds: 120,
    headers: { ...headers, 'Content-Type': frame.contentType },
    setupRequest: (req) => ({ ...req, body: Buffer.concat([frame.head, randomBytes(FILE_BYTES), frame.tail]) }),
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { files: { type: 'string', default: '3000' }, reps: { type: 'string', default: '3' } } });
  const n = Number(values.files);
  const reps = Number(values.reps);
  const env = await openBenchEnv();
  try {
    const token = await env.token('api-cpu');
    const auth = { Authorization: `Bearer ${token}` };
    let total = 0;
    const warm = await uploads(`${env.apiUrl}/api/v1/files/upload`, 300, auth);
    total += warm.ok;
    await uploads(`${env.acceptOnlyUrl}/upload`, 300, {});
    await waitForFinal(env, 'api-cpu', total, Date.now() + 60_000);
    for (let rep = 0; rep < reps; rep++) {
      const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
      const apiT0 = readCpu(env.api.pid);
      const [api0, worker0] = [cpuMs(env.api.pid), cpuMs(env.worker.pid)];
      const ours = await uploads(`${env.apiUrl}/api/v1/files/upload`, n, auth);
      const [api1, worker1] = [cpuMs(env.api.pid), cpuMs(env.worker.pid)];
      const apiT1 = readCpu(env.api.pid);
      total += ours.ok;
      await waitForFinal(env, 'api-cpu', total, Date.now() + 120_000);
      const workerDrained = cpuMs(env.worker.pid);
      const baseT0 = readCpu(env.acceptOnly.pid);
      const base0 = cpuMs(env.acceptOnly.pid);
      const base = await uploads(`${env.acceptOnlyUrl}/upload`, n, {});
      const base1 = cpuMs(env.acceptOnly.pid);
      const baseT1 = readCpu(env.acceptOnly.pid);
      // Its files stay until the end: deleting thousands of files here would make the next creations in these
      // directories pay for ext4's scan past recently freed inodes (no-journal ext4 skips them for 60-300 s).
      const apiPer = (api1 - api0) / ours.ok;
      const basePer = (base1 - base0) / base.ok;
      process.stdout.write(
        `rep ${rep + 1} (load ${load}): api ${apiPer.toFixed(3)} ms CPU/upload, ${ours.rps.toFixed(0)} accepted/s, ` +
          `${ours.non2xx + ours.errors} refused | accept-only ${basePer.toFixed(3)} ms, ${base.rps.toFixed(0)}/s | ` +
          `ratio ${(apiPer / basePer).toFixed(2)}x | worker ${((workerDrained - worker0) / ours.ok).toFixed(3)} ms/file ` +
          `(during accept ${((worker1 - worker0) / ours.ok).toFixed(3)})\n` +
          `  api ${split(apiT0, apiT1, ours.ok)}; accept-only ${split(baseT0, baseT1, base.ok)}\n`,
      );
    }
  } finally {
    await closeBenchEnv();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
