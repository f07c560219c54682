// `artstore ingest` end to end against a real API and worker: a generated tree, the report, rerun, status, get, usage.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/processes.js';
import { createCliWorld, jsonLines, makeTree, readReportLines, runCli, type CliWorld, type TreeFile } from './cli-harness.js';

const DONE = ['committed', 'duplicate', 'present'];
const MiB = 1024 * 1024;

describe('artstore ingest', () => {
  let cw: CliWorld;
  let dir: string;
  let token: string;
  let tree: TreeFile[];
  let report: string;
  const owner = `cli-${Date.now().toString(36)}`;
  const conn = () => ['--url', cw.url, '--token', token];

  const uploadsAccepted = async () => {
    const res = await request(cw.world.app).get('/metrics');
    const line = (res.text as string).split('\n').find((l) => l.startsWith('artstore_uploads_accepted_total'));
    return Number(line?.split(' ').pop() ?? 0);
  };
  const uploadRequests = async () => {
    const res = await request(cw.world.app).get('/metrics');
    return (res.text as string)
      .split('\n')
      .filter((l) => l.startsWith('artstore_http_requests_total') && l.includes('route="/api/v1/files/upload"'))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  };
  const jobRows = () => cw.world.api.db.fileJob.count({ where: { principal: owner } });

  beforeAll(async () => {
    cw = await createCliWorld();
    token = await cw.world.token('user', owner);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-cli-'));
    tree = await makeTree(path.join(dir, 'tree'), {
      count: 292,
      maxSize: 2 * MiB,
      duplicates: 5,
      extra: [
        { name: 'Überprüfung — 日本語のファイル ✓.txt', size: 1234 },
        { name: `${'long-name-'.repeat(24)}.bin`, size: 4321 },
        { name: 'big/twenty.bin', size: 20 * MiB },
      ],
    });
    report = path.join(dir, 'report.jsonl');
  });
  afterAll(async () => {
    await cw?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('stores every file of a tree, writes one report line per file and JSON lines on a non-TTY', async () => {
    expect(tree).toHaveLength(300);
    const before = await uploadsAccepted();
    const requestsBefore = await uploadRequests();
    const res = await runCli(['ingest', path.join(dir, 'tree'), ...conn(), '--report', report, '--tag', 'cli-test', '--concurrency', '8']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const lines = jsonLines(res.stdout);
    const summary = lines.pop()!.summary as Record<string, number>;
    expect(lines).toHaveLength(tree.length);
    expect(summary).toMatchObject({ files: tree.length, failed: 0, skipped: 0 });
    for (const l of lines) expect(DONE).toContain(l.state);
    // The five copies share content with files sent in the same run: their bytes go once.
    const distinct = new Set(tree.map((f) => f.sha256)).size;
    expect(await uploadsAccepted()).toBe(before + distinct);
    // With a report, files up to 1 MiB share requests (up to 32 a request): far fewer requests than files.
    expect(await uploadRequests() - requestsBefore).toBeLessThanOrEqual(Math.ceil(distinct / 4));
    console.log(
      `ingest of ${tree.length} files (${(summary.bytes! / MiB).toFixed(1)} MiB): ${summary.elapsedMs} ms, ` +
        `${summary.filesPerSecond} files/s, ${summary.megabytesPerSecond} MB/s`,
    );

    // Besides one final line per file, the report holds the `sending` lines that recorded each batch first.
    const reported = (await readReportLines(report)).filter((l) => l.state !== 'sending');
    expect(reported).toHaveLength(tree.length);
    const byPath = new Map(reported.map((l) => [l.path, l]));
    for (const f of tree) expect(byPath.get(f.path)).toMatchObject({ size: f.size, sha256: f.sha256 });
    for (const l of reported) expect(Object.keys(l)).toEqual(expect.arrayContaining(['path', 'size', 'sha256', 'jobId', 'fileId', 'state']));

    // Each distinct content is one file of this owner; names survive, the unicode and the long one included.
    const rows = await cw.world.api.db.file.findMany({ where: { owner, deletedAt: null }, select: { sha256: true, fileName: true, tags: true } });
    expect(rows).toHaveLength(distinct);
    expect(new Set(rows.map((r) => r.sha256)).size).toBe(distinct);
    expect(rows.map((r) => r.fileName)).toContain('Überprüfung — 日本語のファイル ✓.txt');
    expect(rows.map((r) => r.fileName)).toContain(`${'long-name-'.repeat(24)}.bin`);
    expect(rows.every((r) => r.tags.includes('cli-test'))).toBe(true);
  });

  it('reruns with the same report as a no-op: no upload, no job, exit 0', async () => {
    const [uploads, jobs] = [await uploadsAccepted(), await jobRows()];
    const started = Date.now();
    const res = await runCli(['ingest', path.join(dir, 'tree'), ...conn(), '--report', report]);
    expect(res.code).toBe(0);
    const lines = jsonLines(res.stdout);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.summary).toMatchObject({ files: tree.length, skipped: tree.length, failed: 0, uploadedBytes: 0 });
    expect(await uploadsAccepted()).toBe(uploads);
    expect(await jobRows()).toBe(jobs);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('without a report, hashes again but sends no bytes the element already has', async () => {
    const uploads = await uploadsAccepted();
    const res = await runCli(['ingest', path.join(dir, 'tree', 'd1'), ...conn()]);
    expect(res.code).toBe(0);
    const lines = jsonLines(res.stdout);
    lines.pop();
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.state === 'present')).toBe(true);
    expect(await uploadsAccepted()).toBe(uploads);
  });

  it('status shows the jobs of a run; an unknown id exits 1', async () => {
    const jobIds = (await readReportLines(report)).map((l) => l.jobId).filter((id): id is string => typeof id === 'string').slice(0, 3);
    const res = await runCli(['status', ...jobIds, ...conn()]);
    expect(res.code).toBe(0);
    const jobs = jsonLines(res.stdout);
    expect(jobs.map((j) => j.id)).toEqual(jobIds);
    for (const j of jobs) expect(['committed', 'duplicate']).toContain(j.state);
    const unknown = await runCli(['status', '00000000-0000-4000-8000-000000000000', ...conn()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no job');
  });

  it('get resumes a partial download with Range and checks the sha256', async () => {
    const big = tree.find((f) => f.path.endsWith('twenty.bin'))!;
    const line = (await readReportLines(report)).find((l) => l.path === big.path)!;
    const out = path.join(dir, 'got.bin');
    const source = await fs.readFile(big.path);
    await fs.writeFile(`${out}.part`, source.subarray(0, 5 * MiB));
    const res = await runCli(['get', String(line.fileId), '-o', out, ...conn()]);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`resuming at byte ${5 * MiB}`);
    expect(jsonLines(res.stdout)[0]).toMatchObject({ path: out, size: big.size, sha256: big.sha256, resumedFrom: 5 * MiB });
    expect(Buffer.compare(await fs.readFile(out), source)).toBe(0);
    await expect(fs.stat(`${out}.part`)).rejects.toThrow();

    // A partial file whose bytes are not this file's: the check fails, the part is removed, exit 1.
    const bad = path.join(dir, 'bad.bin');
    await fs.writeFile(`${bad}.part`, Buffer.alloc(MiB));
    const wrong = await runCli(['get', String(line.fileId), '-o', bad, ...conn()]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('checksum mismatch');
    await expect(fs.stat(`${bad}.part`)).rejects.toThrow();
  });

  it('search finds the ingested files as JSON', async () => {
    const res = await runCli(['search', '--owner', owner, '--tag', 'cli-test', '--limit', '5', '--json', ...conn()]);
    expect(res.code).toBe(0);
    const page = JSON.parse(res.stdout) as { items: Array<{ owner: string }>; nextCursor: string | null };
    expect(page.items).toHaveLength(5);
    expect(page.items.every((i) => i.owner === owner)).toBe(true);
    expect(page.nextCursor).not.toBeNull();
  });

  it('fails the one file changed between hash and upload with checksum_mismatch, exit 1, the rest succeed', async () => {
    // Above 64 KiB a file is read again from disk when it is sent, so the change reaches the element.
    const small = await makeTree(path.join(dir, 'corrupt'), { count: 6, maxSize: 1024, duplicates: 0, extra: [{ name: 'victim.bin', size: 100_000 }] });
    const victim = small.find((f) => f.path.endsWith('victim.bin'))!;
    // With a report all seven travel in one batch: the element checks each file against its own declared digest.
    const corruptReport = path.join(dir, 'corrupt-report.jsonl');
    const res = await runCli(['ingest', path.join(dir, 'corrupt'), ...conn(), '--report', corruptReport], { ARTSTORE_CLI_TEST_CORRUPT_AFTER_HASH: victim.path });
    expect(res.code).toBe(1);
    const lines = jsonLines(res.stdout);
    const summary = lines.pop()!.summary as Record<string, number>;
    expect(summary.failed).toBe(1);
    const failed = lines.filter((l) => l.state === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ path: victim.path, error: { code: 'checksum_mismatch' } });
    expect(lines.filter((l) => l.state !== 'failed').every((l) => DONE.includes(String(l.state)))).toBe(true);
    expect(lines).toHaveLength(small.length);
    const recorded = await readReportLines(corruptReport);
    // Everything that was sent (not already present, such as the empty file) went in that one batch.
    expect(recorded.filter((l) => l.state === 'sending')).toHaveLength(lines.filter((l) => l.state !== 'present').length);
    expect(new Set(recorded.filter((l) => l.state === 'sending').map((l) => (l.batch as { key: string }).key)).size).toBe(1);
  });

  it('sends a small file as it was read when hashed, even if it changes before the upload', async () => {
    const small = await makeTree(path.join(dir, 'changed-small'), { count: 1, maxSize: 1024, duplicates: 0, extra: [{ name: 'victim.bin', size: 5000 }] });
    const victim = small.find((f) => f.path.endsWith('victim.bin'))!;
    const res = await runCli(['ingest', victim.path, ...conn(), '--report', path.join(dir, 'changed-small.jsonl')], { ARTSTORE_CLI_TEST_CORRUPT_AFTER_HASH: victim.path });
    expect(res.code).toBe(0);
    const [line] = jsonLines(res.stdout);
    expect(line).toMatchObject({ path: victim.path, state: 'committed', sha256: victim.sha256 });
    const stored = await cw.world.api.db.file.findFirst({ where: { id: String(line!.fileId) } });
    expect(stored?.sha256).toBe(victim.sha256);
  });

  it('exits 2 on usage errors and 1 with a clear message for a bad token or a missing server', async () => {
    const treeDir = path.join(dir, 'tree');
    for (const args of [[], ['nope'], ['ingest'], ['ingest', treeDir], ['ingest', treeDir, ...conn(), '--concurrency', '0'], ['ingest', treeDir, ...conn(), '--batch-files', '0'], ['ingest', treeDir, ...conn(), '--batch-mib', 'x'], ['ingest', treeDir, ...conn(), '--bogus'], ['get', ...conn()]]) {
      const res = await runCli(args);
      expect(res.code, `artstore ${args.join(' ')}`).toBe(2);
      expect(res.stderr).toMatch(/usage: artstore/);
    }
    const badSort = await runCli(['search', '--sort', 'sideways', ...conn()]);
    expect(badSort.code).toBe(2);
    expect(badSort.stderr).toContain('sort');

    const badToken = await runCli(['ingest', treeDir, '--url', cw.url, '--token', 'not-a-jwt']);
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toContain('refused the token (401');
    const port = await freePort();
    const noServer = await runCli(['ingest', treeDir, '--url', `http://127.0.0.1:${port}`, '--token', token, '--retries', '0']);
    expect(noServer.code).toBe(1);
    expect(noServer.stderr).toContain('cannot reach the element');
    const fromEnv = await runCli(['search', '--limit', '1', '--json'], { ARTSTORE_URL: cw.url, ARTSTORE_TOKEN: token });
    expect(fromEnv.code).toBe(0);
  });
});
