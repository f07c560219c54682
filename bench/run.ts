// npm run bench [-- <scenario>... [--quick] [--files N] [--out DIR]]: runs the benchmarks against the compiled build
// beside baselines in the same invocation, and writes the report (bench/results/latest.{md,json} for a full run).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchBlobBackend, closeBenchEnv, DIST_API, DIST_WORKER, openBenchEnv, REPO_ROOT } from './lib/bench-env.js';
import { machine, writeReport, type Report } from './lib/report.js';
import type { Scenario, ScenarioContext } from './lib/scenario.js';
import { cliLargeScenario, cliScenario } from './scenarios/cli.js';
import { downloadScenario } from './scenarios/download.js';
import { largeScenario } from './scenarios/large.js';
import { resumableScenario } from './scenarios/resumable.js';
import { searchScenario } from './scenarios/search.js';
import { smallScenario } from './scenarios/small.js';
import { statusScenario } from './scenarios/status.js';

// In running order: download reads back the file large committed, status polls the jobs small created, and search
// comes last because its million seeded rows would otherwise weigh on the others.
const SCENARIOS: Record<string, Scenario> = {
  large: largeScenario,
  download: downloadScenario,
  small: smallScenario,
  status: statusScenario,
  cli: cliScenario,
  resumable: resumableScenario,
  search: searchScenario,
};
// Parts of a scenario, run only when named (a full run has them inside their scenario).
const PARTS: Record<string, Scenario> = { 'cli-large': cliLargeScenario };
// `lag` is measured during `small`.
const ALIASES: Record<string, string> = { lag: 'small' };

const USAGE = `usage: npm run bench [-- [${[...Object.keys(SCENARIOS), ...Object.keys(PARTS), ...Object.keys(ALIASES)].join('|')}]... [--quick] [--files N] [--rows N] [--unmatched N] [--out DIR]]
  no scenario: all of them (about 10 minutes); --quick: 1 repetition and small sizes; --files: files in small
  (and in cli's 16 KiB tree);
  --rows: files seeded for search (default 1,000,000; 50,000 with --quick);
  --unmatched: search also seeds N newest files that match none of its queries, as a full run's uploads are (default 0);
  --out: report directory (default bench/results; a full run writes latest.md/json there, any other run partial.md/json)`;

function fail(message: string, code = 2): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(code);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      files: { type: 'string' },
      rows: { type: 'string' },
      unmatched: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (err) {
  fail((err as Error).message);
}
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const wanted = new Set<string>();
for (const name of positionals) {
  const resolved = ALIASES[name] ?? name;
  if (name === 'all') Object.keys(SCENARIOS).forEach((s) => wanted.add(s));
  else if (resolved in SCENARIOS || resolved in PARTS) wanted.add(resolved);
  else fail(`unknown scenario '${name}'`);
}
const fullSuite = wanted.size === 0 || Object.keys(SCENARIOS).every((s) => wanted.has(s));
const selected = [...Object.keys(SCENARIOS), ...Object.keys(PARTS)].filter((s) => (wanted.size === 0 ? s in SCENARIOS : wanted.has(s)));
let files: number | undefined;
if (values.files !== undefined) {
  if (!/^\d+$/.test(values.files) || Number(values.files) < 1) fail('--files must be a positive integer');
  files = Number(values.files);
}
let rows: number | undefined;
if (values.rows !== undefined) {
  if (!/^\d+$/.test(values.rows) || Number(values.rows) < 1) fail('--rows must be a positive integer');
  rows = Number(values.rows);
}
let unmatched: number | undefined;
if (values.unmatched !== undefined) {
  if (!/^\d+$/.test(values.unmatched)) fail('--unmatched must be a non-negative integer');
  unmatched = Number(values.unmatched);
}
if (!fs.existsSync(DIST_API) || !fs.existsSync(DIST_WORKER)) {
  process.stderr.write(`bench: the compiled build is missing (${path.relative(REPO_ROOT, DIST_API)}); run \`npm run build\` first\n`);
  process.exit(2);
}

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
const started = Date.now();
const report: Report = {
  date: new Date().toISOString(),
  machine: machine(),
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  quick: values.quick,
  scenarios: {},
  rows: [],
  notes: [],
};
let exitCode = 0;
let interrupted = false;

/** Writes what was measured (an interrupted or failed run too: partial.*) and exits. */
async function finish(code: number): Promise<never> {
  report.notes.push(`total run time ${Math.round((Date.now() - started) / 1000)} s.`);
  if (report.rows.length > 0) {
    const outDir = path.resolve(values.out ?? path.join(REPO_ROOT, 'bench/results'));
    const complete = fullSuite && !values.quick && code === 0;
    const written = await writeReport(outDir, complete ? 'latest' : 'partial', report);
    log(`report: ${path.relative(process.cwd(), written.md)}, ${path.relative(process.cwd(), written.json)}`);
    process.stdout.write(await fs.promises.readFile(written.md, 'utf8'));
  }
  process.exit(code);
}

const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) return;
  interrupted = true;
  log(`${signal}: stopping and cleaning up`);
  report.notes.push(`the run was INTERRUPTED (${signal}); scenarios after the last one reported did not finish.`);
  void closeBenchEnv().finally(() => finish(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

try {
  const env = await openBenchEnv();
  const ctx: ScenarioContext = { env, quick: values.quick, reps: values.quick ? 1 : 3, files, rows, unmatched, state: {}, log };
  report.notes.push(
    `${ctx.reps} repetition(s) of each measurement after a warm-up, ours and the baseline alternating; the figure is the median.`,
    'ours = the compiled api and one worker (default WORKER_CONCURRENCY and HASH_THREADS), PostgreSQL and Redis on the same machine; load generator (autocannon, in the bench process) shares the cores.',
    benchBlobBackend() === 's3'
      ? 'BLOB_BACKEND=s3: blobs, attr.json and staged uploads in s3rver (an S3 test server in its own process on this machine), not on the local disk.'
      : 'BLOB_BACKEND=local (BENCH_BLOB_BACKEND=s3 runs the same scenarios on an S3 test server).',
  );
  for (const name of selected) {
    const t0 = Date.now();
    // The machine's load before and after: other work on these 2 cores (another benchmark, a test run) shows here.
    const loadBefore = os.loadavg()[0]!;
    log(`--- ${name} (load average ${loadBefore.toFixed(2)})`);
    const outcome = await (SCENARIOS[name] ?? PARTS[name])!(ctx);
    const seconds = (Date.now() - t0) / 1000;
    const loadAfter = os.loadavg()[0]!;
    report.scenarios[name] = { ...outcome, samples: { ...outcome.samples, loadAverage1m: { before: loadBefore, after: loadAfter } }, seconds };
    if (loadBefore > os.availableParallelism() / 2) {
      report.notes.push(`${name}: the 1-minute load average was ${loadBefore.toFixed(1)} when it started (${loadAfter.toFixed(1)} after; it also decays from earlier work): if other work shared the machine, its figures are pessimistic.`);
    }
    report.rows.push(...outcome.rows);
    log(`--- ${name} done in ${seconds.toFixed(0)} s`);
  }
  if (!env.tusUrl && selected.includes('large')) report.notes.push(`peer baseline skipped: ${env.tusNote}`);
} catch (err) {
  exitCode = 1;
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  report.notes.push(`the run FAILED: ${(err as Error).message.split('\n')[0]}; scenarios after the failing one did not run.`);
} finally {
  if (!interrupted) await closeBenchEnv();
}
if (!interrupted) await finish(exitCode);
await new Promise(() => undefined);
