// `artstore status <jobId...> [--wait] [--json]`: the state of ingest jobs, as a table on a TTY or JSON lines.
import type { Job } from '../client/index.js';
import { FINAL_JOB_STATES } from '../client/index.js';
import { JobTracker } from './job-tracker.js';
import { clientFrom, CONNECTION_FLAGS, EXIT_FAILED, EXIT_OK, parseFlags, UsageError } from './usage.js';

export const STATUS_USAGE = `usage: artstore status <jobId...> [--wait] [--json] [--url URL] [--token TOKEN]
  --wait  follow the jobs until each is final
  exit code: 0 every job found and none failed; 1 otherwise; 2 usage error`;

export async function statusCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...CONNECTION_FLAGS, wait: { type: 'boolean' }, json: { type: 'boolean' } }, STATUS_USAGE);
  if (positionals.length === 0) throw new UsageError('give at least one job id', STATUS_USAGE);
  const client = clientFrom(values, STATUS_USAGE);
  let jobs = await client.jobs(positionals);
  if (values.wait) {
    const tracker = new JobTracker(client);
    try {
      jobs = await Promise.all(jobs.map((j) => (FINAL_JOB_STATES.has(j.state) ? j : tracker.wait(j))));
    } finally {
      await tracker.close();
    }
  }
  const found = new Set(jobs.map((j) => j.id));
  const unknown = positionals.filter((id) => !found.has(id));
  const asJson = values.json === true || process.stdout.isTTY !== true;
  if (asJson) {
    for (const j of jobs) process.stdout.write(`${JSON.stringify(j)}\n`);
  } else {
    process.stdout.write(table(jobs));
  }
  for (const id of unknown) process.stderr.write(`artstore status: no job ${id} visible to this token\n`);
  return unknown.length > 0 || jobs.some((j) => j.state === 'failed') ? EXIT_FAILED : EXIT_OK;
}

function table(jobs: Job[]): string {
  const rows = [['JOB', 'STATE', '%', 'FILE', 'FILE ID', 'ERROR']];
  for (const j of jobs) rows.push([j.id, j.state, String(j.progress), j.fileName, j.fileId ?? '', j.error ? `${j.error.code}: ${j.error.message}` : '']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}
