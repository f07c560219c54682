// Where the time of `artstore ingest` of one large file goes: each run's spawn and exit beside the rows' own times
// (upload created, upload complete = its last byte durable and its job made, job final). Needs `npm run build`.
// tsx bench/tools/cli-large-trace.ts [--mib N] [--runs R]
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchNodeArgs } from '../lib/child-process.js';
import { baseEnv, closeBenchEnv, openBenchEnv, REPO_ROOT } from '../lib/bench-env.js';
import { freshenHeader, writeRandomFile } from '../lib/scenario.js';

const { values } = parseArgs({ options: { mib: { type: 'string', default: '256' }, runs: { type: 'string', default: '4' } } });
const CLI = path.join(REPO_ROOT, 'dist/src/cli/main.js');

/** Sectors written to every disk (/proc/diskstats): how much the run made the disks write, whoever wrote it. */
async function sectorsWritten(): Promise<number> {
  const lines = (await fs.readFile('/proc/diskstats', 'utf8')).trim().split('\n').map((l) => l.trim().split(/\s+/));
  return lines.filter((f) => /^(sd|vd|nvme\d+n)\w*?$/.test(f[2]!) && !/\d$/.test(f[2]!.replace(/^nvme\d+n\d+/, ''))).reduce((n, f) => n + Number(f[9]), 0);
}

const env = await openBenchEnv();
try {
  const file = path.join(env.workPath, 'trace', 'large.bin');
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeRandomFile(file, Number(values.mib) * 1024 * 1024);
  for (let run = 0; run < Number(values.runs); run++) {
    await freshenHeader(file);
    const sub = `trace-${run}`;
    const writtenBefore = await sectorsWritten();
    const spawnedAt = Date.now();
    const child = spawn(process.execPath, [...benchNodeArgs(), CLI, 'ingest', path.dirname(file)], {
      env: { ...baseEnv(), ARTSTORE_URL: env.apiUrl, ARTSTORE_TOKEN: await env.token(sub) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await new Promise((resolve) => child.on('close', resolve));
    const exitedAt = Date.now();
    const writtenMb = ((await sectorsWritten()) - writtenBefore) * 512 / 1e6;
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
      `run ${run}: ${mb.toFixed(0)} MB/s; upload created +${at(r.created)} ms, complete +${at(r.completed)}, job made +${at(r.job_created)}, final +${at(r.finished)}, CLI exit +${exitedAt - spawnedAt}; the disk took ${writtenMb.toFixed(0)} MB meanwhile`,
    );
  }
} finally {
  await closeBenchEnv();
}
