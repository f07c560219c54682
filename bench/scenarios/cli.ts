// Scenario cli: `artstore ingest --report` (the built CLI, a child process, default settings) of a generated tree
// of 16 KiB files, one of 1 MiB files and one large file, each until the CLI exits (every job final), against the
// physical baselines: a loop that copies, hashes and fsyncs each file, and cp+sha256sum+sync of the large file.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { physicalCopy, physicalTree } from '../baselines/physical.js';
import { baseEnv, REPO_ROOT } from '../lib/bench-env.js';
import { benchNodeArgs } from '../lib/child-process.js';
import { row } from '../lib/report.js';
import { alternate, freshenHeader, jobCounts, waitForFinal, writeRandomFile, type Scenario, type ScenarioContext } from '../lib/scenario.js';
import { median } from '../lib/stats.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const CLI = path.join(REPO_ROOT, 'dist/src/cli/main.js');
const FILES_PER_DIR = 500;

interface IngestRun {
  seconds: number;
  files: number;
  /** Files committed (or duplicate) when the CLI exited, or when the bound stopped it. */
  done: number;
  failed: number;
  /** CPU seconds (user + system) of the CLI process. */
  cpuSeconds: number;
  capped: boolean;
}

/** count files of size bytes of fresh random content, FILES_PER_DIR per directory; their paths. */
async function makeTree(dir: string, count: number, size: number): Promise<string[]> {
  const files = Array.from({ length: count }, (_, i) => path.join(dir, `d${Math.floor(i / FILES_PER_DIR)}`, `f${i}.bin`));
  for (let d = 0; d * FILES_PER_DIR < count; d++) await fs.mkdir(path.join(dir, `d${d}`), { recursive: true });
  await eachAtOnce(files, 16, (f) => fs.writeFile(f, randomBytes(size)));
  return files;
}

async function eachAtOnce<T>(items: T[], lanes: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: lanes }, lane));
}

/** bash's `times` after the CLI: the second line is the children's user and system time, e.g. "0m1.150s 0m0.280s". */
function childCpuSeconds(timesOutput: string): number {
  const line = timesOutput.trim().split('\n').pop() ?? '';
  return [...line.matchAll(/(\d+)m([\d.]+)s/g)].reduce((n, m) => n + Number(m[1]) * 60 + Number(m[2]), 0);
}

/**
 * Runs `artstore ingest target --report <fresh file>` as principal sub and times it until it exits. After boundSeconds
 * it is killed: then what was committed by then counts, and the backlog settles (unmeasured) before returning.
 */
async function runIngest(ctx: ScenarioContext, target: string, files: number, sub: string, boundSeconds: number): Promise<IngestRun> {
  const { env } = ctx;
  const report = path.join(env.workPath, `cli-report-${sub}.jsonl`);
  // bash runs the CLI so that `times` can report its CPU time; the group is killed at the bound.
  const script = '"$0" "$@" >"$OUT"; code=$?; times >&2; exit $code';
  const out = path.join(env.workPath, `cli-out-${sub}.jsonl`);
  const started = performance.now();
  const child = spawn('bash', ['-c', script, process.execPath, ...benchNodeArgs(), CLI, 'ingest', target, '--report', report], {
    env: { ...baseEnv(), OUT: out, ARTSTORE_URL: env.apiUrl, ARTSTORE_TOKEN: await env.token(sub) },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-16_384)));
  let capped = false;
  const timer = setTimeout(() => {
    capped = true;
    process.kill(-child.pid!, 'SIGKILL');
  }, boundSeconds * 1000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  const seconds = (performance.now() - started) / 1000;
  const counts = await jobCounts(env, sub);
  if (!capped && code !== 0) throw new Error(`artstore ingest exited ${code}: ${stderr}`);
  if (capped) {
    ctx.log(`cli: ${sub} stopped after ${boundSeconds} s with ${counts.done}/${files} committed; letting its jobs settle (unmeasured)`);
    await waitForFinal(env, sub, counts.total, Date.now() + 120_000);
  }
  await fs.rm(report, { force: true });
  await fs.rm(out, { force: true });
  return { seconds, files, done: counts.done, failed: counts.failed, cpuSeconds: capped ? Number.NaN : childCpuSeconds(stderr), capped };
}

interface TreeCase {
  label: string;
  size: number;
  count: number;
}

interface TreeSamples {
  ours: IngestRun[];
  physicalMs: number[];
}

/** One tree case: made once, new content before each run (the store deduplicates), ours and physical alternating. */
async function treeCase(ctx: ScenarioContext, c: TreeCase, boundSeconds: number): Promise<TreeSamples> {
  const dir = path.join(ctx.env.workPath, `cli-${c.label}`);
  const files = await makeTree(dir, c.count, c.size);
  const samples: TreeSamples = { ours: [], physicalMs: [] };
  const rate = (r: IngestRun) => r.done / r.seconds;
  await alternate(
    ctx.reps,
    async (i) => {
      await eachAtOnce(files, 16, freshenHeader);
      const r = await runIngest(ctx, dir, c.count, `bench-cli-${c.label}-${i}`, boundSeconds);
      samples.ours.push(r);
      ctx.log(`cli: ${c.label} rep ${i + 1} ours ${r.done}/${c.count} in ${r.seconds.toFixed(1)} s = ${rate(r).toFixed(0)} files/s, CLI CPU ${r.cpuSeconds.toFixed(1)} s`);
    },
    async (i) => {
      const ms = await physicalTree(files, path.join(ctx.env.workPath, `cli-physical-${c.label}`));
      samples.physicalMs.push(ms);
      ctx.log(`cli: ${c.label} rep ${i + 1} physical ${(c.count / (ms / 1000)).toFixed(0)} files/s`);
    },
  );
  await fs.rm(dir, { recursive: true, force: true });
  return samples;
}

function treeRow(c: TreeCase, s: TreeSamples, target?: { text: string; met: (o: number, r: number | null) => boolean }) {
  const capped = s.ours.filter((r) => r.capped).length;
  const failed = s.ours.reduce((n, r) => n + r.failed, 0);
  const ours = median(s.ours.map((r) => r.done / r.seconds));
  const cpuMsPerFile = median(s.ours.filter((r) => !r.capped).map((r) => (r.cpuSeconds * 1000) / r.files));
  const note = [
    `${c.count} files x ${s.ours.length}; ${((ours * c.size) / 1e6).toFixed(0)} MB/s`,
    Number.isFinite(cpuMsPerFile) ? `CLI CPU ${cpuMsPerFile.toFixed(2)} ms/file` : '',
    capped ? `${capped} run(s) hit the bound (rate = committed / elapsed)` : '',
    failed ? `${failed} jobs failed` : '',
  ].filter(Boolean).join('; ');
  return row({
    scenario: 'cli', measure: `artstore ingest of ${c.label} files, to committed`, unit: 'files/s', ours,
    baseline: median(s.physicalMs.map((ms) => c.count / (ms / 1000))), baselineName: 'copy+sha256+fsync per file',
    target: target && { text: target.text, met: (o, r) => failed === 0 && target.met(o, r) }, note,
  });
}

/** The large file: `artstore ingest` of it vs cp+sha256sum+sync, new content before each. */
async function largeCase(ctx: ScenarioContext, size: number) {
  const source = path.join(ctx.env.workPath, 'cli-large.bin');
  await writeRandomFile(source, size);
  const mbps = (seconds: number) => size / 1e6 / seconds;
  const samples = { ours: [] as IngestRun[], physicalMs: [] as number[] };
  // A warm-up, as every other measurement has. Without it the first measured run came right after the 1 MiB tree
  // was ingested and deleted (the disk then takes the tree's freed blocks back, this filesystem is mounted with
  // discard, and PostgreSQL settles its rows): 0.63x in one full run, 0.86x in a run of its own. With it, one run's
  // warm-up went at 143 MB/s and its first measured run at 169.
  await freshenHeader(source);
  const warm = await runIngest(ctx, source, 1, 'bench-cli-large-warmup', 120);
  ctx.log(`cli: large warm-up ${mbps(warm.seconds).toFixed(0)} MB/s (not counted)`);
  await alternate(
    ctx.reps,
    async (i) => {
      await freshenHeader(source);
      const r = await runIngest(ctx, source, 1, `bench-cli-large-${i}`, 120);
      samples.ours.push(r);
      ctx.log(`cli: large rep ${i + 1} ours ${mbps(r.seconds).toFixed(0)} MB/s, CLI CPU ${r.cpuSeconds.toFixed(2)} s`);
    },
    async (i) => {
      const ms = await physicalCopy(source, path.join(ctx.env.workPath, 'cli-large-copy.bin'));
      samples.physicalMs.push(ms);
      ctx.log(`cli: large rep ${i + 1} physical ${mbps(ms / 1000).toFixed(0)} MB/s`);
    },
  );
  await fs.rm(source, { force: true });
  return {
    samples,
    row: row({
      scenario: 'cli', measure: `artstore ingest of one ${size / MiB} MiB file, to committed`, unit: 'MB/s',
      ours: median(samples.ours.filter((r) => r.done === 1).map((r) => mbps(r.seconds))),
      baseline: median(samples.physicalMs.map((ms) => mbps(ms / 1000))), baselineName: 'cp+sha256sum+sync',
      target: { text: '>= 0.8x physical', met: (_o, r) => r !== null && r >= 0.8 },
      note: `CLI CPU ${median(samples.ours.map((r) => r.cpuSeconds)).toFixed(2)} s`,
    }),
  };
}

export const cliScenario: Scenario = async (ctx) => {
  const small: TreeCase = { label: '16 KiB', size: 16 * KiB, count: ctx.files ?? (ctx.quick ? 2_000 : 20_000) };
  const medium: TreeCase = { label: '1 MiB', size: MiB, count: ctx.quick ? 200 : 2_000 };
  const bound = ctx.quick ? 90 : 180;

  ctx.log('cli: warm-up (100 files of 16 KiB)');
  const warm = path.join(ctx.env.workPath, 'cli-warm');
  await makeTree(warm, 100, 16 * KiB);
  await runIngest(ctx, warm, 100, 'bench-cli-warmup', bound);
  await fs.rm(warm, { recursive: true, force: true });

  const smallSamples = await treeCase(ctx, small, bound);
  const mediumSamples = await treeCase(ctx, medium, bound);
  const large = await largeCase(ctx, (ctx.quick ? 64 : 256) * MiB);
  return {
    rows: [
      treeRow(small, smallSamples, { text: '>= 1,000 files/s and >= 0.6x physical', met: (o, r) => o >= 1000 && r !== null && r >= 0.6 }),
      treeRow(medium, mediumSamples),
      large.row,
    ],
    samples: { small: smallSamples, medium: mediumSamples, large: large.samples },
  };
};

/** `npm run bench -- cli-large`: only the large file of `cli` (256 MiB; 64 with --quick), to work on it alone. */
export const cliLargeScenario: Scenario = async (ctx) => {
  const large = await largeCase(ctx, (ctx.quick ? 64 : 256) * MiB);
  return { rows: [large.row], samples: { large: large.samples } };
};
