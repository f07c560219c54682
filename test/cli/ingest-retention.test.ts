// `artstore ingest --ttl-days N --retain-until ISO --retention-mode M`: every file of the run gets that retention.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliWorld, jsonLines, runCli, type CliWorld } from './cli-harness.js';

describe('artstore ingest with retention', () => {
  let cw: CliWorld;
  let dir: string;
  let token: string;

  beforeAll(async () => {
    cw = await createCliWorld({ LIFECYCLE_INTERVAL_SECONDS: '0' });
    token = await cw.world.token('user', 'cli-retention');
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-cli-retention-'));
    await fs.writeFile(path.join(dir, 'a.bin'), randomBytes(100));
    await fs.writeFile(path.join(dir, 'b.bin'), randomBytes(200));
  });
  afterAll(async () => {
    await cw?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('uploads temporary files retained until the given time in the given mode', async () => {
    const until = new Date(Date.now() + 5 * 86_400_000).toISOString();
    const args = ['ingest', dir, '--url', cw.url, '--token', token, '--json', '--ttl-days', '3', '--retain-until', until, '--retention-mode', 'compliance'];
    const { code, stdout, stderr } = await runCli(args);
    expect(code, stderr).toBe(0);
    expect(jsonLines(stdout).filter((l) => l.state === 'committed')).toHaveLength(2);
    const rows = await cw.world.api.db.file.findMany({ where: { owner: 'cli-retention' } });
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row).toMatchObject({ retentionPolicy: 'temporary', retainUntil: new Date(until), retentionMode: 'compliance', legalHold: false });
      expect(row.expiresAt!.getTime() - row.createdAt.getTime()).toBe(3 * 86_400_000);
    }
  });

  it('gives a file sent through the resumable endpoint (--resumable-mib) the same retention', async () => {
    const bigDir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-cli-retention-big-'));
    try {
      await fs.writeFile(path.join(bigDir, 'big.bin'), randomBytes(1024 * 1024));
      const until = new Date(Date.now() + 5 * 86_400_000).toISOString();
      const sub = 'cli-retention-big';
      const bigToken = await cw.world.token('user', sub);
      const args = ['ingest', bigDir, '--url', cw.url, '--token', bigToken, '--json', '--resumable-mib', '1', '--ttl-days', '2', '--retain-until', until, '--retention-mode', 'compliance'];
      const { code, stderr } = await runCli(args);
      expect(code, stderr).toBe(0);
      expect(await cw.world.api.db.resumableUpload.count({ where: { owner: sub } })).toBe(1);
      const row = await cw.world.api.db.file.findFirstOrThrow({ where: { owner: sub } });
      expect(row).toMatchObject({ retentionPolicy: 'temporary', retainUntil: new Date(until), retentionMode: 'compliance' });
      expect(row.expiresAt!.getTime() - row.createdAt.getTime()).toBe(2 * 86_400_000);
    } finally {
      await fs.rm(bigDir, { recursive: true, force: true });
    }
  });

  it('refuses --retention-mode without --retain-until and a past --retain-until (exit 2) before sending anything', async () => {
    for (const extra of [['--retention-mode', 'compliance'], ['--retain-until', '2001-01-01T00:00:00Z'], ['--ttl-days', '0']]) {
      const { code, stderr } = await runCli(['ingest', dir, '--url', cw.url, '--token', token, ...extra]);
      expect(code, extra.join(' ')).toBe(2);
      expect(stderr).toMatch(/retention-mode|retain-until|ttl-days/);
    }
  });
});
