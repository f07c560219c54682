// A killed ingest and its rerun: every file ends stored exactly once, and finished files are not sent again.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../helpers/serve.js';
import { until } from '../helpers/wait.js';
import { createCliWorld, jsonLines, makeTree, readReportLines, runCli, startCli, type CliWorld } from './cli-harness.js';

const DONE = ['committed', 'duplicate', 'present'];

describe('artstore ingest after a crash', () => {
  let cw: CliWorld;
  let dir: string;
  let token: string;
  const owner = `cli-resume-${Date.now().toString(36)}`;

  beforeAll(async () => {
    cw = await createCliWorld();
    token = await cw.world.token('user', owner);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-cli-resume-'));
  });
  afterAll(async () => {
    await cw?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('is killed halfway, reruns, and every file is committed exactly once', async () => {
    const tree = await makeTree(path.join(dir, 'tree'), { count: 320, maxSize: 512 * 1024, duplicates: 2 });
    const report = path.join(dir, 'report.jsonl');
    const args = ['ingest', path.join(dir, 'tree'), '--token', token, '--report', report, '--concurrency', '1'];

    // The first run talks to the element through a front that lets its first upload request through and holds every
    // later one unanswered: the first batch finishes, the next stays recorded (`sending`) and unanswered at the kill.
    let uploads = 0;
    const front = await serve((req, res) => {
      if (req.method === 'POST' && req.url?.startsWith('/api/v1/files/upload') && ++uploads > 1) return;
      cw.world.app(req, res);
    });
    const first = startCli([...args, '--url', front.url]);
    // `sending` lines record a batch before it is sent; wait for files that actually finished.
    const finished = async () => (await readReportLines(report)).filter((l) => l.state !== 'sending');
    await until('the first run to report 10 finished files and send its second batch', async () => (await finished()).length >= 10 && uploads > 1, 60_000);
    first.child.kill('SIGKILL');
    await front.close();
    const killed = await first.done;
    expect(killed.code).toBe('SIGKILL');
    // The last line per path says where each file stood when the run was killed.
    const lastBefore = new Map((await readReportLines(report)).map((l) => [l.path, l]));
    const finishedBefore = [...lastBefore.values()].filter((l) => DONE.includes(String(l.state)));
    // Batches are recorded (`sending`) before they go out: the rerun must resend those, not make new ones.
    const sendingBefore = [...lastBefore.values()].filter((l) => l.state === 'sending').length;
    expect(sendingBefore).toBeGreaterThan(0);
    expect(finishedBefore.length).toBeLessThan(tree.length);

    const second = await runCli([...args, '--url', cw.url]);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    const lines = jsonLines(second.stdout);
    const summary = lines.pop()!.summary as Record<string, number>;
    expect(summary.skipped).toBe(finishedBefore.length);
    // The rerun never reports (so never sends) a file the first run had finished.
    const doneBefore = new Set(finishedBefore.map((l) => l.path));
    expect(lines.filter((l) => doneBefore.has(l.path))).toEqual([]);
    expect(lines).toHaveLength(tree.length - finishedBefore.length);

    // Every path has a finished line; every distinct content is exactly one file row of this owner.
    const last = new Map((await readReportLines(report)).map((l) => [l.path, l.state]));
    for (const f of tree) expect(DONE).toContain(last.get(f.path));
    const rows = await cw.world.api.db.file.groupBy({ by: ['sha256'], where: { owner, deletedAt: null }, _count: { _all: true } });
    const distinct = new Set(tree.map((f) => f.sha256));
    expect(rows).toHaveLength(distinct.size);
    for (const r of rows) expect(r._count._all).toBe(1);
  });
});
