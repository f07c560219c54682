// `artstore ingest` on S3 staging: large files go through the resumable endpoint (parts in the bucket). Against an
// element without resumable uploads (one from before they worked on S3 staging answers 501 resumable_unsupported; one
// older than SPEC §9 answers 404 for the route) they go through the ordinary upload instead, and the resumable
// endpoint is asked once per run, not once per file.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3EnvOf, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { createCliWorld, jsonLines, readReportLines, runCli, sha256, type CliWorld } from './cli-harness.js';

const MiB = 1024 * 1024;

/** An HTTP proxy that counts requests to the resumable routes and, when asked, refuses them as an element without them. */
class CountingProxy {
  resumableRequests = 0;
  /** 501: an element on S3 staging before resumable uploads worked there; 404: one from before them. */
  refuse: 501 | 404 | null = null;
  private server?: http.Server;
  url = '';

  constructor(private readonly target: string) {}

  async open(): Promise<this> {
    this.server = http.createServer((req, res) => {
      if (req.url?.startsWith('/api/v1/uploads')) {
        this.resumableRequests++;
        if (this.refuse) {
          req.resume();
          const code = this.refuse === 501 ? 'resumable_unsupported' : 'not_found';
          // A HEAD's answer has no body (the client cannot read the code there).
          const body = req.method === 'HEAD' ? '' : JSON.stringify({ status: this.refuse, code, detail: `refused ${req.method} ${req.url}` });
          res.writeHead(this.refuse, { 'content-type': 'application/problem+json' }).end(body);
          return;
        }
      }
      const upstream = http.request(new URL(req.url ?? '/', this.target), { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

describe('artstore ingest when the element has no resumable uploads', () => {
  let s3: S3TestServer;
  let cw: CliWorld;
  let proxy: CountingProxy;
  let dir: string;
  let token: string;
  const owner = `cli-fallback-${Date.now().toString(36)}`;

  beforeAll(async () => {
    s3 = await startS3Server();
    cw = await createCliWorld(s3EnvOf(s3));
    proxy = await new CountingProxy(cw.url).open();
    token = await cw.world.token('user', owner);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-cli-fallback-'));
  }, 60_000);
  afterAll(async () => {
    await proxy?.close();
    await cw?.close();
    await s3?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const filesOf = (fileName: string) => cw.world.api.db.file.findMany({ where: { owner, fileName, deletedAt: null }, select: { id: true, sha256: true, size: true } });

  it('sends a large file on S3 staging through the resumable endpoint, committed with its sha256', async () => {
    const data = randomBytes(2 * MiB + 3);
    const file = path.join(dir, 'parts.bin');
    await fs.writeFile(file, data);
    proxy.resumableRequests = 0;
    const res = await runCli(['ingest', file, '--url', proxy.url, '--token', token, '--resumable-mib', '1']);
    expect(res.code, res.stderr).toBe(0);
    expect(jsonLines(res.stdout)[0]).toMatchObject({ path: file, state: 'committed', sha256: sha256(data) });
    expect(proxy.resumableRequests).toBeGreaterThanOrEqual(2);
    expect(await cw.world.api.db.resumableUpload.count({ where: { owner, fileName: 'parts.bin' } })).toBe(1);
    expect((await filesOf('parts.bin'))[0]?.sha256).toBe(sha256(data));
  }, 60_000);

  it('resumes a dropped connection on S3 staging from the durable offset within one run', async () => {
    const data = randomBytes(6 * MiB);
    const file = path.join(dir, 'dropped.bin');
    await fs.writeFile(file, data);
    const cutter = await TcpProxy.open({ host: '127.0.0.1', port: Number(new URL(cw.url).port) });
    let cut = false;
    cw.world.api.resumableHooks = {
      afterChunk: (_id, offset) => {
        if (!cut && offset >= 2 * MiB) {
          cut = true;
          cutter.resetConnections();
        }
      },
    };
    try {
      const res = await runCli(['ingest', file, '--url', cutter.url, '--token', token, '--resumable-mib', '1']);
      expect(res.code, res.stderr).toBe(0);
      expect(cut).toBe(true);
      const line = jsonLines(res.stdout)[0]!;
      expect(line).toMatchObject({ path: file, state: 'committed', sha256: sha256(data) });
      // One upload, resumed from the part the cut left in the bucket: not a second upload from byte 0.
      const uploads = await cw.world.api.db.resumableUpload.findMany({ where: { owner, fileName: 'dropped.bin' } });
      expect(uploads.map((u) => ({ offset: Number(u.offset), jobId: u.jobId }))).toEqual([{ offset: data.length, jobId: line.jobId }]);
      expect((await filesOf('dropped.bin'))[0]?.sha256).toBe(sha256(data));
    } finally {
      cw.world.api.resumableHooks = undefined;
      await cutter.close();
    }
  }, 60_000);

  it('commits large files through the ordinary upload when the element answers 501, asking the resumable endpoint once', async () => {
    const a = randomBytes(2 * MiB);
    const b = randomBytes(2 * MiB + 7);
    const sub = path.join(dir, 's3');
    await fs.mkdir(sub);
    await fs.writeFile(path.join(sub, 'a.bin'), a);
    await fs.writeFile(path.join(sub, 'b.bin'), b);
    const report = path.join(dir, 's3.jsonl');
    proxy.resumableRequests = 0;
    proxy.refuse = 501;
    const res = await runCli(['ingest', sub, '--url', proxy.url, '--token', token, '--resumable-mib', '1', '--concurrency', '1', '--report', report]).finally(() => (proxy.refuse = null));
    expect(res.code, res.stderr).toBe(0);
    const lines = jsonLines(res.stdout);
    expect(lines.find((l) => l.path === path.join(sub, 'a.bin'))).toMatchObject({ state: 'committed', sha256: sha256(a) });
    expect(lines.find((l) => l.path === path.join(sub, 'b.bin'))).toMatchObject({ state: 'committed', sha256: sha256(b) });
    // One refused creation for the run; the second file went straight to the ordinary upload.
    expect(proxy.resumableRequests).toBe(1);
    expect(await cw.world.api.db.resumableUpload.count({ where: { owner, fileName: { in: ['a.bin', 'b.bin'] } } })).toBe(0);
    const [stored] = await filesOf('a.bin');
    expect({ sha256: stored?.sha256, size: Number(stored?.size) }).toEqual({ sha256: sha256(a), size: a.length });
    // The bytes in the bucket are the file's.
    const out = path.join(dir, 'a.got');
    const got = await runCli(['get', stored!.id, '-o', out, '--url', proxy.url, '--token', token]);
    expect(got.code, got.stderr).toBe(0);
    expect(sha256(await fs.readFile(out))).toBe(sha256(a));
    // The report ends committed, with no upload URL left to resume.
    const reported = (await readReportLines(report)).filter((l) => l.path === path.join(sub, 'a.bin'));
    expect(reported.at(-1)).toMatchObject({ state: 'committed', sha256: sha256(a) });
    expect(reported.some((l) => l.uploadUrl)).toBe(false);
  }, 60_000);

  it('falls back the same way when the element is older and answers 404 for the resumable route', async () => {
    const data = randomBytes(2 * MiB + 11);
    const file = path.join(dir, 'older.bin');
    await fs.writeFile(file, data);
    proxy.resumableRequests = 0;
    proxy.refuse = 404;
    try {
      const res = await runCli(['ingest', file, '--url', proxy.url, '--token', token, '--resumable-mib', '1']);
      expect(res.code, res.stderr).toBe(0);
      expect(jsonLines(res.stdout)[0]).toMatchObject({ path: file, state: 'committed', sha256: sha256(data) });
      expect(proxy.resumableRequests).toBe(1);
      const [stored] = await filesOf('older.bin');
      expect(stored?.sha256).toBe(sha256(data));
    } finally {
      proxy.refuse = null;
    }
  }, 60_000);

  it('a report line naming an upload URL on an element that refuses it is sent through the ordinary upload', async () => {
    const data = randomBytes(2 * MiB + 13);
    const file = path.join(dir, 'recorded.bin');
    const report = path.join(dir, 'recorded.jsonl');
    await fs.writeFile(file, data);
    const stat = await fs.stat(file);
    // As an earlier run against a local-staging element would have left it.
    const uploadUrl = '/api/v1/uploads/00000000-0000-4000-8000-000000000000';
    await fs.writeFile(report, `${JSON.stringify({ path: file, size: data.length, mtimeMs: stat.mtimeMs, sha256: sha256(data), state: 'sending', uploadUrl })}\n`);
    proxy.resumableRequests = 0;
    proxy.refuse = 501;
    const res = await runCli(['ingest', file, '--url', proxy.url, '--token', token, '--resumable-mib', '1', '--report', report]).finally(() => (proxy.refuse = null));
    expect(res.code, res.stderr).toBe(0);
    expect(jsonLines(res.stdout)[0]).toMatchObject({ path: file, state: 'committed', sha256: sha256(data) });
    // Only the HEAD of the recorded URL: its 501 says there is no resumable upload here at all.
    expect(proxy.resumableRequests).toBe(1);
    expect((await filesOf('recorded.bin'))[0]?.sha256).toBe(sha256(data));
  }, 60_000);
});
