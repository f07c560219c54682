// A full disk on a real (small) tmpfs: ENOSPC and the `full` threshold answer 507, earlier files stay intact.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { CapacityReader } from '../../src/shared/domain/capacity.js';
import { binaryParser } from '../helpers/http.js';
import { createWorld, type World } from '../helpers/world.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

let mountDir = '';
let skipReason: string | undefined;

beforeAll(async () => {
  mountDir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-diskfull-'));
  if (process.getuid?.() !== 0) {
    skipReason = 'needs root to mount a tmpfs';
    return;
  }
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mountDir]);
  } catch (err) {
    skipReason = `mount -t tmpfs failed: ${(err as Error).message}`;
  }
});
afterAll(async () => {
  if (!skipReason) await run('umount', [mountDir]);
  await fs.rm(mountDir, { recursive: true, force: true });
});

function skipUnlessMounted(ctx: TestContext): void {
  if (skipReason) ctx.skip(skipReason);
}

async function freeBytes(dir: string): Promise<number> {
  const s = await fs.statfs(dir);
  return s.bavail * s.bsize;
}

/** A world whose staging and storage live on the tmpfs, in a directory of their own. */
async function tmpfsWorld(name: string, env: Record<string, string>): Promise<World> {
  const root = path.join(mountDir, name);
  return createWorld({
    worker: true,
    env: { STAGING_PATH: path.join(root, 'staging'), STORAGE_PATH: path.join(root, 'storage'), CAPACITY_FULL_PERCENT: '0', ...env },
  });
}

describe('a full disk', () => {
  let world: World | undefined;
  // Each test fills the disk: the next one starts from an empty tmpfs, whatever happened.
  afterEach(async () => {
    await world?.close();
    world = undefined;
    if (!skipReason) for (const entry of await fs.readdir(mountDir)) await fs.rm(path.join(mountDir, entry), { recursive: true, force: true });
  });

  async function expectIntact(w: World, token: string, stored: Array<{ fileId: string; bytes: Buffer }>): Promise<void> {
    for (const { fileId, bytes } of stored) {
      const res = await request(w.app).get(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${token}`).buffer(true).parse(binaryParser);
      expect(res.status).toBe(200);
      expect(Buffer.compare(res.body as Buffer, bytes)).toBe(0);
    }
  }

  it('answers 507 problem+json on ENOSPC mid-upload, leaves no partial staged file and keeps earlier files intact', async (ctx) => {
    skipUnlessMounted(ctx);
    world = await tmpfsWorld('enospc', { CAPACITY_FULL_BYTES: '0' });
    const w = world;
    const token = await w.token('user', 'filler');
    const upload = (bytes: Buffer) =>
      request(w.app).post('/api/v1/files/upload').query({ wait: '30' }).set('Authorization', `Bearer ${token}`).attach('file', bytes, 'f.bin');

    const stored: Array<{ fileId: string; bytes: Buffer }> = [];
    for (let i = 0; i < 2; i++) {
      const bytes = randomBytes(MiB);
      const res = await upload(bytes);
      expect(res.status, res.text).toBe(201);
      stored.push({ fileId: res.body.jobs[0].fileId, bytes });
    }
    // Hook: a capacity reading taken now and never refreshed, so the free-space check believes there is room and
    // the write itself meets the full disk.
    w.api.capacity = new CapacityReader(w.api.db, w.config, Number.POSITIVE_INFINITY);
    await w.api.capacity.assertRoomFor(0);
    const filler = path.join(mountDir, 'enospc', 'filler');
    await fs.writeFile(filler, Buffer.alloc(Math.max(0, (await freeBytes(mountDir)) - MiB / 2)));
    const jobsBefore = await w.api.db.fileJob.count();

    // Two parts: the first fits and is staged whole, the second meets ENOSPC; neither may stay behind.
    const res = await upload(randomBytes(64 * 1024)).attach('file', randomBytes(MiB), 'g.bin');
    expect(res.status, res.text).toBe(507);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 507, code: 'insufficient_storage' });
    expect(res.body.detail).toContain('ENOSPC');
    expect(await w.stagedFiles()).toEqual([]);
    expect(await w.api.db.fileJob.count()).toBe(jobsBefore);

    await fs.rm(filler);
    await expectIntact(w, token, stored);
  });

  it('refuses uploads with 507 once free space would fall below the full threshold, with STORAGE_MAX_BYTES=0', async (ctx) => {
    skipUnlessMounted(ctx);
    const threshold = 3 * MiB;
    world = await tmpfsWorld('threshold', { CAPACITY_FULL_BYTES: String(threshold), STORAGE_MAX_BYTES: '0' });
    const w = world;
    const token = await w.token('user', 'filler');
    const stored: Array<{ fileId: string; bytes: Buffer }> = [];
    let refused: request.Response | undefined;
    // 8 MiB of tmpfs: the disk itself would take seven of these; the threshold stops them well before.
    for (let i = 0; i < 8 && !refused; i++) {
      const bytes = randomBytes(MiB);
      const res = await request(w.app).post('/api/v1/files/upload').query({ wait: '30' }).set('Authorization', `Bearer ${token}`).attach('file', bytes, `f${i}.bin`);
      if (res.status === 507) refused = res;
      else {
        expect(res.status, res.text).toBe(201);
        stored.push({ fileId: res.body.jobs[0].fileId, bytes });
      }
    }
    expect(refused?.body).toMatchObject({ status: 507, code: 'insufficient_storage' });
    expect(refused?.body.detail).toContain("'full' threshold");
    expect(stored.length).toBeGreaterThan(0);
    // Refused while the file would still have fitted on the disk.
    expect(await freeBytes(mountDir)).toBeGreaterThan(2 * MiB);
    expect(await w.stagedFiles()).toEqual([]);
    await expectIntact(w, token, stored);
  });
});
