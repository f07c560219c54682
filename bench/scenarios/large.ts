// Scenario large: one big file uploaded to `committed` (?wait=60) vs cp+sha256sum+sync, tus and accept-only.
import path from 'node:path';
import { physicalCopy } from '../baselines/physical.js';
import { uploadMultipart, uploadTus } from '../lib/http-client.js';
import { row } from '../lib/report.js';
import { sampleRss } from '../lib/samplers.js';
import { alternate, emptyDir, freshenHeader, writeRandomFile, type Scenario, type ScenarioContext, type ScenarioOutcome } from '../lib/scenario.js';
import { median } from '../lib/stats.js';

const MiB = 1024 * 1024;

export const largeScenario: Scenario = async (ctx) => {
  const { env } = ctx;
  const size = (ctx.quick ? 64 : 256) * MiB;
  const source = path.join(env.workPath, 'large.bin');
  await writeRandomFile(source, size);
  const token = await env.token('bench-large');
  const mbps = (ms: number) => size / 1e6 / (ms / 1000);

  const ours = async () => {
    // New content each time: the store deduplicates, and a duplicate skips the blob write.
    await freshenHeader(source);
    const rss = await sampleRss(env.api.pid);
    const { ms, value } = await uploadMultipart(`${env.apiUrl}/api/v1/files/upload?wait=60`, source, size, { Authorization: `Bearer ${token}` });
    const mem = await rss.stop();
    const job = (JSON.parse(value.body) as { jobs?: Array<{ state: string; fileId?: string }> }).jobs?.[0];
    if (value.status !== 201 || job?.state !== 'committed' || !job.fileId) throw new Error(`large upload answered ${value.status}: ${value.body.slice(0, 500)}`);
    ctx.state.large = { source, size, fileId: job.fileId };
    return { ms, rssGrowth: mem.peakBytes - mem.startBytes, rssStart: mem.startBytes, rssPeak: mem.peakBytes };
  };
  const physical = () => physicalCopy(source, path.join(env.workPath, 'physical-copy.bin'));
  const tus = async () => {
    if (!env.tusUrl) return null;
    const { ms, value } = await uploadTus(env.tusUrl, source, size);
    if (value.status !== 204) throw new Error(`tus PATCH answered ${value.status}: ${value.body}`);
    return ms;
  };
  const acceptOnly = async () => {
    const { ms, value } = await uploadMultipart(`${env.acceptOnlyUrl}/upload`, source, size);
    if (value.status !== 202) throw new Error(`accept-only answered ${value.status}: ${value.body}`);
    return ms;
  };
  const cleanBaselines = async () => {
    await emptyDir(path.join(env.root, 'tus'));
    await emptyDir(path.join(env.root, 'accept-only'));
  };

  ctx.log(`large: warm-up (${size / MiB} MiB)`);
  await ours();
  await physical();
  await tus();
  await acceptOnly();
  await cleanBaselines();

  const samples = { ours: [] as Array<Awaited<ReturnType<typeof ours>>>, physicalMs: [] as number[], tusMs: [] as number[], acceptOnlyMs: [] as number[] };
  await alternate(
    ctx.reps,
    async (i) => {
      const s = await ours();
      samples.ours.push(s);
      ctx.log(`large: rep ${i + 1} ours ${mbps(s.ms).toFixed(0)} MB/s, API RSS +${(s.rssGrowth / MiB).toFixed(1)} MiB`);
    },
    async (i) => {
      const p = await physical();
      samples.physicalMs.push(p);
      const t = await tus();
      if (t !== null) samples.tusMs.push(t);
      const a = await acceptOnly();
      samples.acceptOnlyMs.push(a);
      await cleanBaselines();
      ctx.log(`large: rep ${i + 1} physical ${mbps(p).toFixed(0)} MB/s, tus ${t === null ? '-' : mbps(t).toFixed(0)} MB/s, accept-only ${mbps(a).toFixed(0)} MB/s`);
    },
  );

  return { rows: largeRows(env, size, samples), samples: { sizeBytes: size, ...samples } };
};

interface LargeSamples {
  ours: Array<{ ms: number; rssGrowth: number }>;
  physicalMs: number[];
  tusMs: number[];
  acceptOnlyMs: number[];
}

/** The report rows of large from every repetition's samples. */
function largeRows(env: ScenarioContext['env'], size: number, samples: LargeSamples): ScenarioOutcome['rows'] {
  const mbps = (ms: number) => size / 1e6 / (ms / 1000);
  const oursMbps = median(samples.ours.map((s) => mbps(s.ms)));
  const rssGrowthMb = Math.max(...samples.ours.map((s) => s.rssGrowth)) / 1e6;
  const label = `${size / MiB} MiB upload to committed`;
  return [
    row({
      scenario: 'large', measure: `${label} vs physical`, unit: 'MB/s', ours: oursMbps,
      baseline: median(samples.physicalMs.map(mbps)), baselineName: 'cp+sha256sum+sync',
      target: { text: '>= 0.8x physical', met: (_o, r) => r !== null && r >= 0.8 },
    }),
    row({
      scenario: 'large', measure: `${label} vs peer`, unit: 'MB/s', ours: oursMbps,
      baseline: env.tusUrl ? median(samples.tusMs.map(mbps)) : null, baselineName: '@tus/server+file-store',
      verdict: env.tusUrl ? 'info' : 'skipped', note: env.tusUrl ? 'peer does not hash or fsync' : env.tusNote,
    }),
    row({
      scenario: 'large', measure: `${label} vs accept-only`, unit: 'MB/s', ours: oursMbps,
      baseline: median(samples.acceptOnlyMs.map(mbps)), baselineName: 'express+multer, staging only',
    }),
    row({
      scenario: 'large', measure: 'API RSS growth during the upload', unit: 'MB', ours: rssGrowthMb,
      target: { text: '< 64 MB', met: (o) => o < 64 }, note: 'max over repetitions, VmRSS sampled every 100 ms',
    }),
  ];
}
