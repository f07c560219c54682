// Scenario download: the large committed file read back in full (GB/s) and 1 KiB Range requests (req/s).
import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { cannon, download, uploadMultipart, type CannonResult } from '../lib/http-client.js';
import { row } from '../lib/report.js';
import { alternate, freshenHeader, writeRandomFile, type Scenario } from '../lib/scenario.js';
import { median } from '../lib/stats.js';

const MiB = 1024 * 1024;

export const downloadScenario: Scenario = async (ctx) => {
  const { env } = ctx;
  const token = await env.token('bench-large');
  const auth = { Authorization: `Bearer ${token}` };
  if (!ctx.state.large) {
    const size = (ctx.quick ? 64 : 256) * MiB;
    const source = path.join(env.workPath, 'large.bin');
    await writeRandomFile(source, size);
    await freshenHeader(source);
    const { value } = await uploadMultipart(`${env.apiUrl}/api/v1/files/upload?wait=60`, source, size, auth);
    const job = (JSON.parse(value.body) as { jobs?: Array<{ fileId?: string }> }).jobs?.[0];
    if (value.status !== 201 || !job?.fileId) throw new Error(`download: upload answered ${value.status}: ${value.body.slice(0, 500)}`);
    ctx.state.large = { source, size, fileId: job.fileId };
  }
  const { source, size, fileId } = ctx.state.large;
  await fs.copyFile(source, path.join(env.acceptServeDir, 'large.bin'));
  const oursUrl = `${env.apiUrl}/api/v1/files/${fileId}`;
  const baseUrl = `${env.acceptOnlyUrl}/files/large.bin`;

  const full = async (url: string, headers: Record<string, string>) => {
    const { ms, value } = await download(url, headers);
    if (value.status !== 200 || value.bytes !== size) throw new Error(`download of ${url} answered ${value.status} with ${value.bytes} bytes`);
    return size / 1e9 / (ms / 1000);
  };
  const ranges = (url: string, headers: Record<string, string>) =>
    cannon({
      url,
      connections: 32,
      durationSeconds: ctx.quick ? 2 : 5,
      headers,
      setupRequest: (req) => {
        const start = randomInt(0, size - 1024);
        return { ...req, headers: { ...headers, Range: `bytes=${start}-${start + 1023}` } };
      },
    });

  ctx.log('download: warm-up');
  await full(oursUrl, auth);
  await full(baseUrl, {});
  const samples = { oursGBps: [] as number[], baseGBps: [] as number[], oursRanges: [] as CannonResult[], baseRanges: [] as CannonResult[] };
  await alternate(
    ctx.reps,
    async (i) => {
      samples.oursGBps.push(await full(oursUrl, auth));
      samples.oursRanges.push(await ranges(oursUrl, auth));
      ctx.log(`download: rep ${i + 1} ours ${samples.oursGBps.at(-1)!.toFixed(2)} GB/s, ${samples.oursRanges.at(-1)!.rps.toFixed(0)} ranges/s`);
    },
    async (i) => {
      samples.baseGBps.push(await full(baseUrl, {}));
      samples.baseRanges.push(await ranges(baseUrl, {}));
      ctx.log(`download: rep ${i + 1} sendFile ${samples.baseGBps.at(-1)!.toFixed(2)} GB/s, ${samples.baseRanges.at(-1)!.rps.toFixed(0)} ranges/s`);
    },
  );
  const bad = samples.oursRanges.reduce((n, r) => n + r.non2xx + r.errors, 0);
  const rangeNote = `32 connections${bad ? `; ${bad} non-2xx or errors` : ''}; p99 ${median(samples.oursRanges.map((r) => r.p99Ms))} ms (sendFile ${median(samples.baseRanges.map((r) => r.p99Ms))} ms)`;
  return {
    rows: [
      row({
        scenario: 'download', measure: `full GET of ${size / MiB} MiB`, unit: 'GB/s', ours: median(samples.oursGBps),
        baseline: median(samples.baseGBps), baselineName: 'express sendFile',
        target: { text: '>= 1 GB/s', met: (o) => o >= 1 },
      }),
      row({
        scenario: 'download', measure: '1 KiB Range requests', unit: 'req/s', ours: median(samples.oursRanges.map((r) => r.rps)),
        baseline: median(samples.baseRanges.map((r) => r.rps)), baselineName: 'express sendFile',
        target: { text: '>= 3,000 req/s', met: (o) => o >= 3000 && bad === 0 }, note: rangeNote,
      }),
    ],
    samples,
  };
};
