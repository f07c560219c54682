// Scenario resumable: one file through our tus endpoint in 8 MiB PATCHes (each fsynced and its offset recorded, the
// last one making the ingest job) vs the same PATCHes to @tus/server + @tus/file-store alone (no fsync, no job).
import path from 'node:path';
import http from 'node:http';
import { uploadTusChunked } from '../lib/http-client.js';
import { row } from '../lib/report.js';
import { alternate, emptyDir, freshenHeader, writeRandomFile, type Scenario } from '../lib/scenario.js';
import { median } from '../lib/stats.js';

const MiB = 1024 * 1024;
const CHUNK = 8 * MiB;

/** Polls the job the upload became until it is final (outside the timed part: the large row times ingest). */
async function waitForJob(url: string, token: string): Promise<string> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const state = await new Promise<string>((resolve, reject) => {
      http.get(url, { headers: { Authorization: `Bearer ${token}` } }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve((JSON.parse(body) as { state?: string }).state ?? `status ${res.statusCode}`));
      }).on('error', reject);
    });
    if (['committed', 'duplicate', 'failed'].includes(state)) return state;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${url} not final after 120 s`);
}

export const resumableScenario: Scenario = async (ctx) => {
  const { env } = ctx;
  const size = (ctx.quick ? 64 : 256) * MiB;
  const source = path.join(env.workPath, 'resumable.bin');
  await writeRandomFile(source, size);
  const token = await env.token('bench-resumable');
  const mbps = (ms: number) => size / 1e6 / (ms / 1000);

  const ours = async () => {
    await freshenHeader(source);
    const { ms, value } = await uploadTusChunked(`${env.apiUrl}/api/v1/uploads/tus`, source, size, CHUNK, { Authorization: `Bearer ${token}` });
    const jobId = value.headers['upload-job-id'];
    if (typeof jobId !== 'string') throw new Error('resumable: the last PATCH carried no Upload-Job-Id');
    const state = await waitForJob(`${env.apiUrl}/api/v1/jobs/${jobId}`, token);
    if (state !== 'committed') throw new Error(`resumable: the job ended ${state}`);
    return ms;
  };
  const peer = async () => {
    if (!env.tusUrl) return null;
    const { ms } = await uploadTusChunked(env.tusUrl, source, size, CHUNK);
    await emptyDir(path.join(env.root, 'tus'));
    return ms;
  };

  ctx.log(`resumable: warm-up (${size / MiB} MiB in ${CHUNK / MiB} MiB PATCHes)`);
  await ours();
  await peer();
  const samples = { oursMs: [] as number[], peerMs: [] as number[] };
  await alternate(
    ctx.reps,
    async () => void samples.oursMs.push(await ours()),
    async () => {
      const p = await peer();
      if (p !== null) samples.peerMs.push(p);
    },
  );
  ctx.log(`resumable: ours ${mbps(median(samples.oursMs)).toFixed(0)} MB/s, peer ${samples.peerMs.length ? mbps(median(samples.peerMs)).toFixed(0) : '-'} MB/s`);
  return {
    rows: [
      row({
        scenario: 'resumable', measure: `${size / MiB} MiB through tus in ${CHUNK / MiB} MiB PATCHes, to Upload-Job-Id`, unit: 'MB/s',
        ours: mbps(median(samples.oursMs)), baseline: env.tusUrl ? mbps(median(samples.peerMs)) : null, baselineName: '@tus/server+file-store',
        verdict: env.tusUrl ? 'info' : 'skipped',
        note: env.tusUrl ? 'ours fsyncs every PATCH, records its offset under a Redis lock and makes the ingest job; the peer does neither' : env.tusNote,
      }),
    ],
    samples: { sizeBytes: size, chunkBytes: CHUNK, ...samples },
  };
};
