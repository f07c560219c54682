// What a scenario gets (the bench world, sizes, shared state) and gives back (rows, samples); shared helpers.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import type { BenchEnv } from './bench-env.js';
import { sleep } from './child-process.js';
import type { Row } from './report.js';

export interface SharedState {
  /** The large source file and the id of the file the API committed from it (download reads that back). */
  large?: { source: string; size: number; fileId: string };
  /** Job ids of one principal, for status polling. */
  jobs?: { sub: string; ids: string[] };
}

export interface ScenarioContext {
  env: BenchEnv;
  quick: boolean;
  reps: number;
  /** --files: number of small files (overrides the default of the mode). */
  files?: number;
  /** --rows: files seeded for search (overrides the default of the mode). */
  rows?: number;
  /** --unmatched: newest files search seeds that match none of its queries (a full run's uploads, simulated). */
  unmatched?: number;
  state: SharedState;
  log(message: string): void;
}

export interface ScenarioOutcome {
  rows: Row[];
  samples: Record<string, unknown>;
}

export type Scenario = (ctx: ScenarioContext) => Promise<ScenarioOutcome>;

/**
 * Runs rep i of ours and of the baseline, alternating which goes first, so neither always meets a warmer (or a
 * dirtier) page cache.
 */
export async function alternate(reps: number, ours: (i: number) => Promise<void>, baseline: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < reps; i++) {
    if (i % 2 === 0) {
      await ours(i);
      await baseline(i);
    } else {
      await baseline(i);
      await ours(i);
    }
  }
}

/** Writes size random bytes to file, 1 MiB at a time. */
export async function writeRandomFile(file: string, size: number): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    const chunk = 1024 * 1024;
    for (let written = 0; written < size; written += chunk) await handle.write(randomBytes(Math.min(chunk, size - written)));
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** New random first 32 bytes: the same file, but new content for a content-addressed store (no dedup hit). */
export async function freshenHeader(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    await handle.write(randomBytes(32), 0, 32, 0);
  } finally {
    await handle.close();
  }
}

/** Empties a directory, keeping it. */
export async function emptyDir(dir: string): Promise<void> {
  for (const name of await fs.readdir(dir)) await fs.rm(`${dir}/${name}`, { recursive: true, force: true });
}

export interface JobCounts {
  done: number;
  failed: number;
  total: number;
  rerun: number;
}

export async function jobCounts(env: BenchEnv, principal: string): Promise<JobCounts> {
  const { rows } = await env.db.query<JobCounts>(
    `SELECT count(*) FILTER (WHERE state IN ('committed', 'duplicate'))::int AS done,
            count(*) FILTER (WHERE state = 'failed')::int AS failed,
            count(*)::int AS total,
            count(*) FILTER (WHERE attempts > 1)::int AS rerun
       FROM file_jobs WHERE principal = $1`,
    [principal],
  );
  return rows[0]!;
}

/** Polls until `expected` jobs of principal are final or the deadline passes; returns the counts and when. */
export async function waitForFinal(env: BenchEnv, principal: string, expected: number, deadline: number): Promise<JobCounts & { at: number }> {
  while (true) {
    const counts = await jobCounts(env, principal);
    const at = performance.now();
    if (counts.done + counts.failed >= expected || Date.now() > deadline) return { ...counts, at };
    await sleep(100);
  }
}

/** Uploads count small files of principal sub (8 at a time) and waits for them to be final; returns the job ids. */
export async function uploadSmallFiles(env: BenchEnv, sub: string, count: number, size = 16 * 1024): Promise<string[]> {
  const token = await env.token(sub);
  const ids: string[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      next += 1;
      const form = new FormData();
      form.append('file', new Blob([randomBytes(size)]), 'small.bin');
      const res = await fetch(`${env.apiUrl}/api/v1/files/upload`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: form });
      const body = (await res.json()) as { jobs?: Array<{ id: string }> };
      if (res.status !== 202 || !body.jobs?.[0]) throw new Error(`upload answered ${res.status}: ${JSON.stringify(body)}`);
      ids.push(body.jobs[0].id);
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  await waitForFinal(env, sub, count, Date.now() + 120_000);
  return ids;
}
