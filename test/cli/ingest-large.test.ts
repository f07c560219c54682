// `artstore ingest` sends a large file (--resumable-mib) while it hashes it, and decides once the digest is known,
// as for any file: content an earlier file of the run leads, or the element has, is not stored twice, and the
// upload begun for it is cancelled, even while the element still holds the cut append.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliWorld, jsonLines, readReportLines, runCli, sha256, type CliWorld } from './cli-harness.js';

const MiB = 1024 * 1024;

describe('artstore ingest of large files sent while hashed', () => {
  let cw: CliWorld;
  let dir: string;
  let token: string;
  const owner = `cli-large-${Date.now().toString(36)}`;

  beforeAll(async () => {
    cw = await createCliWorld();
    token = await cw.world.token('user', owner);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-cli-large-'));
  });
  afterAll(async () => {
    cw.world.api.resumableHooks = undefined;
    await cw?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const conn = () => ['--url', cw.url, '--token', token, '--resumable-mib', '1'];
  const openUploads = () => cw.world.api.db.resumableUpload.findMany({ where: { owner, completedAt: null } });
  const filesWith = (digest: string) => cw.world.api.db.file.count({ where: { sha256: digest, deletedAt: null } });

  it('commits a large file with the digest it sent as a trailer, and its report line has it', async () => {
    const data = randomBytes(5 * MiB + 3);
    const file = path.join(dir, 'one', 'large.bin');
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, data);
    const report = path.join(dir, 'one.jsonl');
    const res = await runCli(['ingest', file, ...conn(), '--report', report]);
    expect(res.code, res.stderr).toBe(0);
    const [line] = jsonLines(res.stdout);
    expect(line).toMatchObject({ path: file, state: 'committed', sha256: sha256(data) });
    // The upload was recorded before its first byte, when no digest was known yet.
    expect((await readReportLines(report)).find((l) => l.state === 'sending')).toMatchObject({ sha256: null });
    const uploads = await cw.world.api.db.resumableUpload.findMany({ where: { owner, fileName: 'large.bin' } });
    expect(uploads.map((u) => (u.fields as { sha256?: string[] }).sha256)).toEqual([[sha256(data)]]);
  });

  it('stores twin large files of one run once: the second is present, no upload of it remains', async () => {
    const data = randomBytes(3 * MiB);
    const twins = path.join(dir, 'twins');
    await fs.mkdir(twins);
    await fs.writeFile(path.join(twins, 'a.bin'), data);
    await fs.writeFile(path.join(twins, 'b.bin'), data);
    const res = await runCli(['ingest', twins, ...conn()]);
    expect(res.code, res.stderr).toBe(0);
    const lines = jsonLines(res.stdout);
    lines.pop();
    expect(lines.map((l) => l.state).sort()).toEqual(['committed', 'present']);
    expect(await filesWith(sha256(data))).toBe(1);
    expect(await openUploads()).toEqual([]);
  });

  it('cancels the upload of content the element has, retrying the cancel while the cut append still holds it', async () => {
    const data = randomBytes(6 * MiB);
    const first = path.join(dir, 'first.bin');
    await fs.writeFile(first, data);
    expect((await runCli(['ingest', first, ...conn()])).code).toBe(0);
    const again = path.join(dir, 'again.bin');
    await fs.writeFile(again, data);
    // The second run's append is held inside the element until its cancel has been refused as busy and asked again.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let cancels = 0;
    cw.world.api.resumableHooks = {
      afterChunk: async (_id, offset) => {
        if (offset >= MiB) await held;
      },
      beforeCancel: () => {
        if (++cancels === 2) release();
      },
    };
    try {
      const res = await runCli(['ingest', again, ...conn()]);
      expect(res.code, res.stderr).toBe(0);
      const [line] = jsonLines(res.stdout);
      expect(line).toMatchObject({ path: again, state: 'present', sha256: sha256(data) });
      expect(cancels).toBeGreaterThanOrEqual(2);
      expect(await openUploads()).toEqual([]);
      expect(await filesWith(sha256(data))).toBe(1);
    } finally {
      release();
      cw.world.api.resumableHooks = undefined;
    }
  }, 60_000);
});
