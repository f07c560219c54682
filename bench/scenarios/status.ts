// Scenario status: GET /api/v1/jobs/{id} and GET /api/v1/jobs?ids= (100 ids) under autocannon, vs a bare Express route.
import { randomInt } from 'node:crypto';
import { cannon, type CannonResult } from '../lib/http-client.js';
import { row, type Row } from '../lib/report.js';
import { alternate, uploadSmallFiles, type Scenario } from '../lib/scenario.js';
import { median } from '../lib/stats.js';

const CONNECTIONS = 32;

export const statusScenario: Scenario = async (ctx) => {
  const { env } = ctx;
  // Jobs of the small scenario when it ran; otherwise 100 of our own.
  let sub = 'bench-small-0';
  let { rows } = await env.db.query<{ id: string }>('SELECT id FROM file_jobs WHERE principal = $1 ORDER BY created_at LIMIT 100', [sub]);
  if (rows.length < 100) {
    sub = 'bench-status';
    ctx.log('status: uploading 100 jobs to poll');
    await uploadSmallFiles(env, sub, 100);
    ({ rows } = await env.db.query<{ id: string }>('SELECT id FROM file_jobs WHERE principal = $1 LIMIT 100', [sub]));
  }
  const ids = rows.map((r) => r.id);
  const headers = { Authorization: `Bearer ${await env.token(sub)}` };
  const seconds = ctx.quick ? 2 : 10;

  const single = () =>
    cannon({
      url: `${env.apiUrl}/api/v1/jobs/${ids[0]}`,
      connections: CONNECTIONS,
      durationSeconds: seconds,
      headers,
      setupRequest: (req) => ({ ...req, path: `/api/v1/jobs/${ids[randomInt(ids.length)]}` }),
    });
  const many = () => cannon({ url: `${env.apiUrl}/api/v1/jobs?ids=${ids.join(',')}`, connections: CONNECTIONS, durationSeconds: seconds, headers });
  const floor = () => cannon({ url: `${env.acceptOnlyUrl}/ping`, connections: CONNECTIONS, durationSeconds: Math.min(seconds, 5) });

  ctx.log('status: warm-up');
  await cannon({ url: `${env.apiUrl}/api/v1/jobs?ids=${ids.join(',')}`, connections: 4, durationSeconds: 1, headers });
  await cannon({ url: `${env.acceptOnlyUrl}/ping`, connections: 4, durationSeconds: 1 });
  const samples = { single: [] as CannonResult[], many: [] as CannonResult[], floor: [] as CannonResult[] };
  await alternate(
    ctx.reps,
    async (i) => {
      samples.single.push(await single());
      samples.many.push(await many());
      ctx.log(`status: rep ${i + 1} /jobs/{id} ${samples.single.at(-1)!.rps.toFixed(0)} req/s, ?ids=x100 ${samples.many.at(-1)!.rps.toFixed(0)} req/s`);
    },
    async (i) => {
      samples.floor.push(await floor());
      ctx.log(`status: rep ${i + 1} express hello ${samples.floor.at(-1)!.rps.toFixed(0)} req/s`);
    },
  );
  const floorRps = median(samples.floor.map((r) => r.rps));
  const floorP99 = median(samples.floor.map((r) => r.p99Ms));
  // Issue 13's targets: one job at >= 0.5x express hello in the same run; a batch of 100 ids at 1,000 req/s
  // (100,000 job states/s).
  const throughputTarget = (label: string) =>
    label.startsWith('GET /jobs?ids=')
      ? { text: '>= 1,000 req/s', met: (o: number) => o >= 1000 }
      : { text: '>= 0.5x express hello', met: (o: number) => o >= 0.5 * floorRps };
  const rowsFor = (label: string, runs: CannonResult[]): Row[] => {
    const target = throughputTarget(label);
    const bad = runs.reduce((n, r) => n + r.non2xx + r.errors, 0);
    const note = `${CONNECTIONS} connections, ${seconds} s per repetition${bad ? `; ${bad} non-2xx or errors` : ''}`;
    return [
      row({
        scenario: 'status', measure: `${label} throughput`, unit: 'req/s', ours: median(runs.map((r) => r.rps)),
        baseline: floorRps, baselineName: 'express hello', target: { text: target.text, met: (o) => target.met(o) && bad === 0 }, note,
      }),
      row({
        scenario: 'status', measure: `${label} p99 latency`, unit: 'ms', ours: median(runs.map((r) => r.p99Ms)),
        baseline: floorP99, baselineName: 'express hello', target: { text: '< 50 ms', met: (o) => o < 50 }, note: `p50 ${median(runs.map((r) => r.p50Ms))} ms`,
      }),
    ];
  };
  return { rows: [...rowsFor('GET /jobs/{id}', samples.single), ...rowsFor('GET /jobs?ids= (100 ids)', samples.many)], samples };
};
