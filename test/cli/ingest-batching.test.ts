// Batches of small files against an element that takes fewer files per request than the CLI asks for.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliWorld, jsonLines, makeTree, readReportLines, runCli, type CliWorld } from './cli-harness.js';

describe('artstore ingest batches', () => {
  let cw: CliWorld;
  let dir: string;
  let token: string;
  const owner = `cli-batch-${Date.now().toString(36)}`;

  beforeAll(async () => {
    cw = await createCliWorld({ MAX_FILES_PER_UPLOAD: '10' });
    token = await cw.world.token('user', owner);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-cli-batch-'));
  });
  afterAll(async () => {
    await cw?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('splits a batch the element refuses as too many files, and sends smaller batches from then on', async () => {
    const tree = await makeTree(path.join(dir, 'tree'), { count: 45, maxSize: 1024, duplicates: 0 });
    const report = path.join(dir, 'report.jsonl');
    const res = await runCli(['ingest', path.join(dir, 'tree'), '--url', cw.url, '--token', token, '--report', report, '--batch-files', '40']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const lines = jsonLines(res.stdout);
    const summary = lines.pop()!.summary as Record<string, number>;
    expect(summary.failed).toBe(0);
    expect(lines).toHaveLength(tree.length);
    // The refused batches (40, then 20) were recorded before they were sent; the ones taken held 10 at most.
    const recorded = await readReportLines(report);
    const sizes = new Set(recorded.filter((l) => l.state === 'sending').map((l) => (l.batch as { size: number }).size));
    // How the last few files split up depends on when they are hashed; every batch after the refusals holds <= 10.
    const [first, second, ...taken] = [...sizes].sort((a, b) => b - a);
    expect([first, second]).toEqual([40, 20]);
    expect(taken.length).toBeGreaterThan(0);
    for (const size of taken) expect(size).toBeLessThanOrEqual(10);
    const last = new Map(recorded.map((l) => [l.path, l.state]));
    for (const f of tree) expect(['committed', 'duplicate', 'present']).toContain(last.get(f.path));
    const jobs = await cw.world.api.db.fileJob.groupBy({ by: ['idempotencyKey'], where: { principal: owner }, _count: { _all: true } });
    expect(jobs.reduce((n, j) => n + j._count._all, 0)).toBe(lines.filter((l) => l.state !== 'present').length);
    for (const j of jobs) expect(j._count._all).toBeLessThanOrEqual(10);
  });
});
