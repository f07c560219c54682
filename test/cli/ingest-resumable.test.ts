// `artstore ingest` and large files (--resumable-mib): a dropped connection is resumed from the element's durable
// offset within the run, and a killed run's rerun continues the same upload (its URL is in the report).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../helpers/wait.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { createCliWorld, jsonLines, readReportLines, runCli, sha256, startCli, type CliWorld } from './cli-harness.js';

const MiB = 1024 * 1024;

describe('artstore ingest with resumable uploads', () => {
  let cw: CliWorld;
  let dir: string;
  let token: string;
  const owner = `cli-resumable-${Date.now().toString(36)}`;

  beforeAll(async () => {
    cw = await createCliWorld();
    token = await cw.world.token('user', owner);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-cli-resumable-'));
  });
  afterAll(async () => {
    cw.world.api.resumableHooks = undefined;
    await cw?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const uploadsOf = (fileName: string) => cw.world.api.db.resumableUpload.findMany({ where: { owner, fileName } });

  it('resumes a dropped connection from the durable offset within one run', async () => {
    const data = randomBytes(6 * MiB);
    const file = path.join(dir, 'dropped.bin');
    await fs.writeFile(file, data);
    const proxy = await TcpProxy.open({ host: '127.0.0.1', port: Number(new URL(cw.url).port) });
    let cut = false;
    cw.world.api.resumableHooks = {
      afterChunk: (_id, offset) => {
        if (!cut && offset >= 2 * MiB) {
          cut = true;
          proxy.resetConnections();
        }
      },
    };
    try {
      const res = await runCli(['ingest', file, '--url', proxy.url, '--token', token, '--resumable-mib', '1']);
      expect(res.code, res.stderr).toBe(0);
      expect(cut).toBe(true);
      const lines = jsonLines(res.stdout);
      expect(lines[0]).toMatchObject({ path: file, state: 'committed', sha256: sha256(data) });
      // One upload, resumed: not a second upload from byte 0.
      const uploads = await uploadsOf('dropped.bin');
      expect(uploads).toHaveLength(1);
      expect({ offset: Number(uploads[0]!.offset), jobId: uploads[0]!.jobId }).toEqual({ offset: data.length, jobId: lines[0]!.jobId });
    } finally {
      cw.world.api.resumableHooks = undefined;
      await proxy.close();
    }
  }, 60_000);

  it('a killed run leaves the upload URL in the report; the rerun continues that upload', async () => {
    const data = randomBytes(6 * MiB);
    const file = path.join(dir, 'killed.bin');
    const report = path.join(dir, 'killed.jsonl');
    await fs.writeFile(file, data);
    let release!: () => void;
    let paused = false;
    cw.world.api.resumableHooks = {
      afterChunk: async (_id, offset) => {
        if (paused || offset < 3 * MiB) return;
        paused = true;
        await new Promise<void>((resolve) => (release = resolve));
      },
    };
    const args = ['ingest', file, '--token', token, '--resumable-mib', '1', '--report', report];
    // Through a proxy: the kill must also cut the connection, or the bytes already in flight would still arrive.
    const proxy = await TcpProxy.open({ host: '127.0.0.1', port: Number(new URL(cw.url).port) });
    try {
      const first = startCli([...args, '--url', proxy.url]);
      await pollUntil('the first run to be 3 MiB in', 30_000, async () => paused);
      first.child.kill('SIGKILL');
      proxy.resetConnections();
      await first.done;
      release();
      const sending = (await readReportLines(report)).find((l) => l.state === 'sending');
      expect(sending?.uploadUrl).toMatch(/^\/api\/v1\/uploads\/[0-9a-f-]{36}$/);
      // The element recorded what reached its disk before the client vanished.
      const id = String(sending!.uploadUrl).split('/').pop()!;
      await pollUntil('the cut append to be recorded', 10_000, async () => Number((await cw.world.api.db.resumableUpload.findUnique({ where: { id } }))?.offset) >= 3 * MiB);

      cw.world.api.resumableHooks = undefined;
      const second = await runCli([...args, '--url', cw.url]);
      expect(second.code, second.stderr).toBe(0);
      const lines = jsonLines(second.stdout);
      expect(lines[0]).toMatchObject({ path: file, state: 'committed', sha256: sha256(data) });
      const summary = lines.pop()!.summary as Record<string, number>;
      expect(summary.uploadedBytes).toBeLessThanOrEqual(3 * MiB);
      const uploads = await uploadsOf('killed.bin');
      expect(uploads.map((u) => u.id)).toEqual([id]);
    } finally {
      cw.world.api.resumableHooks = undefined;
      await proxy.close();
    }
  }, 90_000);
});
