// Smoke run of the bench harness: one tiny `small` scenario against the compiled build writes a report with a verdict.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/shared/config.js';

const run = promisify(execFile);

interface ReportRow {
  scenario: string;
  measure: string;
  ours: number | null;
  verdict: string;
}

describe('bench harness', () => {
  let out: string;

  beforeAll(async () => {
    // The bench runs the api and worker from dist, as `npm run bench` expects after `npm run build`.
    await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { timeout: 240_000 });
    out = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-bench-smoke-'));
  }, 300_000);

  afterAll(async () => {
    if (out) await fs.rm(out, { recursive: true, force: true });
  });

  it('runs the small scenario with 50 files and reports a positive rate and a verdict', async () => {
    const { stderr } = await run('npx', ['tsx', 'bench/run.ts', 'small', '--quick', '--files', '50', '--out', out], { timeout: 85_000, maxBuffer: 16 * 1024 * 1024 });
    const report = JSON.parse(await fs.readFile(path.join(out, 'partial.json'), 'utf8')) as {
      scenarios: Record<string, { rows: ReportRow[] }>;
      rows: ReportRow[];
      machine: { nproc: number };
    };
    expect(report.machine.nproc).toBeGreaterThan(0);
    const small = report.scenarios.small?.rows.find((r) => r.measure.includes('upload to committed'));
    expect(small).toBeDefined();
    expect(small!.ours).toBeGreaterThan(0);
    expect(['met', 'not met']).toContain(small!.verdict);
    expect(report.rows.some((r) => r.scenario === 'lag' && r.verdict !== undefined)).toBe(true);
    await expect(fs.readdir(out)).resolves.toEqual(expect.arrayContaining(['partial.json', 'partial.md']));

    // It dropped the database it made.
    const database = /database (artstore_bench_[0-9a-f]+)/.exec(stderr)?.[1];
    expect(database).toBeDefined();
    const admin = new URL(loadConfig().databaseUrl);
    admin.pathname = '/postgres';
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      expect((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount).toBe(0);
    } finally {
      await client.end();
    }
  }, 90_000);
});
