// The staging engine on its own: a part is reported stored only once its bytes are fsynced and its descriptor
// closed (the 202 vouches for them); a refused chunk or a broken part leaves no staged file behind.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_UNSYNCED_BYTES, stagingEngine, SYNC_EVERY_BYTES } from '../../src/api/staging-engine.js';
import type { StagingReservation } from '../../src/shared/domain/capacity.js';
import { AppError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/logger.js';

type Stored = { path?: string; size?: number; sha256?: string };

describe('stagingEngine', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'staging-engine-'));
  });
  afterAll(async () => fsp.rm(dir, { recursive: true, force: true }));
  afterEach(() => vi.restoreAllMocks());

  function reservation(limit = Infinity): StagingReservation & { taken: number } {
    const r = {
      taken: 0,
      take(bytes: number) {
        if (r.taken + bytes > limit) throw new AppError('insufficient_storage', 'no room');
        r.taken += bytes;
      },
      handOver() {},
      release() {},
    };
    return r;
  }

  /** The multer file object of the last part staged. */
  let lastFile: Express.Multer.File;

  /** Runs one part through the engine as multer would; feed writes the part's bytes (and may fail it). */
  function stage(r: StagingReservation, feed: (part: PassThrough, engine: StorageEngine) => void): Promise<{ err: Error | null; info?: Stored; file: Stored }> {
    const engine = stagingEngine(dir, () => r, 'w1');
    const part = new PassThrough();
    const file = { stream: part } as unknown as Express.Multer.File;
    lastFile = file;
    const req = { log: createLogger({ logLevel: 'silent' }, 'test') } as unknown as Request;
    return new Promise((resolve) => {
      engine._handleFile(req, file, (err, info) => resolve({ err: err ?? null, info, file }));
      feed(part, engine);
    });
  }

  it('reports a part stored only after its bytes were fsynced and its descriptor closed', async () => {
    const fsyncs: number[] = [];
    const closes: number[] = [];
    const realFsync = fs.fsync;
    const realClose = fs.close;
    vi.spyOn(fs, 'fsync').mockImplementation(((fd: number, cb: (err: Error | null) => void) => {
      realFsync(fd, (err) => {
        fsyncs.push(fd);
        cb(err);
      });
    }) as typeof fs.fsync);
    vi.spyOn(fs, 'close').mockImplementation(((fd: number, cb: (err: Error | null) => void) => {
      realClose(fd, (err) => {
        closes.push(fd);
        cb?.(err);
      });
    }) as typeof fs.close);
    const r = reservation();
    const { err, info } = await stage(r, (part) => {
      part.write(Buffer.alloc(70_000, 1));
      part.end(Buffer.alloc(30_000, 2));
    });
    expect(err).toBeNull();
    expect(fsyncs).toHaveLength(1);
    expect(closes).toEqual(fsyncs);
    expect(info).toMatchObject({ size: 100_000 });
    expect(r.taken).toBe(100_000);
    expect((await fsp.stat(info!.path!)).size).toBe(100_000);
    expect(path.basename(info!.path!)).toMatch(/^w1\..*\.part$/);
  });

  it('refuses a chunk the reservation has no room for with 507, leaving no staged file', async () => {
    const { err, file } = await stage(reservation(50_000), (part) => {
      part.write(Buffer.alloc(40_000));
      setImmediate(() => part.end(Buffer.alloc(40_000)));
    });
    expect(err).toMatchObject({ code: 'insufficient_storage' });
    expect(fs.existsSync(file.path!)).toBe(false);
  });

  it('removes the staged file of a part that breaks off', async () => {
    const { err, file } = await stage(reservation(), (part) => {
      part.write(Buffer.alloc(10_000));
      setImmediate(() => part.destroy(new Error('Unexpected end of form')));
    });
    expect(err?.message).toBe('Unexpected end of form');
    expect(fs.existsSync(file.path!)).toBe(false);
  });
  it('reports the sha256 of exactly the bytes it wrote', async () => {
    const chunks = [randomBytes(70_000), randomBytes(1), randomBytes(300_000)];
    const { err, info } = await stage(reservation(), (part) => {
      for (const c of chunks) part.write(c);
      part.end();
    });
    expect(err).toBeNull();
    const whole = Buffer.concat(chunks);
    expect(info?.sha256).toBe(createHash('sha256').update(whole).digest('hex'));
    expect(createHash('sha256').update(await fsp.readFile(info!.path!)).digest('hex')).toBe(info?.sha256);
  });

  it('syncs a large part while it arrives, and fsyncs it once more before reporting it stored', async () => {
    const datasyncs: number[] = [];
    let synced = 0;
    const realDatasync = fs.fdatasync;
    vi.spyOn(fs, 'fdatasync').mockImplementation(((fd: number, cb: (err: Error | null) => void) => {
      datasyncs.push(fd);
      realDatasync(fd, (err) => {
        synced += 1;
        cb(err);
      });
    }) as typeof fs.fdatasync);
    const fsync = vi.spyOn(fs, 'fsync');
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const { err, info } = await stage(reservation(), async (part) => {
      for (let i = 0; i < 3 * 16; i++) {
        // The client waits for each rolling sync, so a slow disk (the first sync outlasting the rest of the part)
        // cannot leave the second unstarted: the first is due from 16 MiB, the second from 32.
        if (i === 24) await waitFor(() => synced >= 1, 30_000);
        if (i === 40) await waitFor(() => synced >= 2, 30_000);
        if (!part.write(chunk)) await new Promise((r) => part.once('drain', r));
      }
      part.end();
    });
    expect(err).toBeNull();
    expect(info?.size).toBe(48 * 1024 * 1024);
    expect(datasyncs.length).toBeGreaterThanOrEqual(2);
    expect(fsync).toHaveBeenCalledTimes(1);
  });

  it('reads no further than MAX_UNSYNCED_BYTES past a sync that does not finish, and goes on once it does', async () => {
    const held: Array<() => void> = [];
    const realDatasync = fs.fdatasync;
    vi.spyOn(fs, 'fdatasync').mockImplementation(((fd: number, cb: (err: Error | null) => void) => {
      held.push(() => realDatasync(fd, cb));
    }) as typeof fs.fdatasync);
    const r = reservation();
    const chunk = Buffer.alloc(1024 * 1024, 3);
    const total = MAX_UNSYNCED_BYTES + 3 * SYNC_EVERY_BYTES;
    const done = stage(r, (part) => {
      // All of it offered at once: only the engine's own pausing can hold it back.
      for (let sent = 0; sent < total; sent += chunk.length) part.write(chunk);
      part.end();
    });
    await waitFor(() => held.length === 1 && r.taken > MAX_UNSYNCED_BYTES);
    // Nothing reads further while the first sync (begun after SYNC_EVERY_BYTES) has not finished.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.taken).toBeLessThanOrEqual(SYNC_EVERY_BYTES + MAX_UNSYNCED_BYTES + chunk.length);
    expect(r.taken).toBeLessThan(total);
    // Every sync released as it comes: the part is read to its end, not left paused.
    const release = setInterval(() => held.splice(0).forEach((go) => go()), 5);
    try {
      const { err, info } = await done;
      expect(err).toBeNull();
      expect(info?.size).toBe(total);
      expect((await fsp.stat(info!.path!)).size).toBe(total);
    } finally {
      clearInterval(release);
    }
  });

  it('reports the sha256 of no bytes for an empty part', async () => {
    const { err, info } = await stage(reservation(), (part) => part.end());
    expect(err).toBeNull();
    expect(info).toMatchObject({ size: 0, sha256: createHash('sha256').digest('hex') });
    expect((await fsp.stat(info!.path!)).size).toBe(0);
  });

  it('fails a part whose rolling sync fails (an I/O error), removes its file and reports no digest', async () => {
    const realDatasync = fs.fdatasync;
    vi.spyOn(fs, 'fdatasync').mockImplementation(((fd: number, cb: (err: Error | null) => void) => {
      realDatasync(fd, () => cb(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })));
    }) as typeof fs.fdatasync);
    const chunk = Buffer.alloc(1024 * 1024, 9);
    const { err, info, file } = await stage(reservation(), (part) => {
      for (let sent = 0; sent < 3 * SYNC_EVERY_BYTES; sent += chunk.length) part.write(chunk);
      part.end();
    });
    expect(err).toMatchObject({ code: 'EIO' });
    expect(info).toBeUndefined();
    expect(fs.existsSync(file.path!)).toBe(false);
  });

  // A rolling sync still in flight when the part ends badly must not see its descriptor closed under it: the number
  // can be reused by the next staged file's open, and a stray fdatasync on that file would take its write-back error
  // from it (errors are reported once per open file), so that file's own fsync could pass and its 202 vouch for bytes
  // the disk never took. Paused at the exact step: the sync is held until the part has failed.
  it.each([
    ['the part breaks off', (_engine: StorageEngine, part: PassThrough) => part.destroy(new Error('Unexpected end of form'))],
    ['multer removes it (the request aborted)', (engine: StorageEngine, _part: PassThrough, file: Express.Multer.File) => engine._removeFile({} as Request, file, () => {})],
  ])('closes no descriptor a rolling sync is using while that sync is in flight, when %s', async (_case, breakOff) => {
    const events: string[] = [];
    const held: Array<() => void> = [];
    const realDatasync = fs.fdatasync;
    vi.spyOn(fs, 'fdatasync').mockImplementation(((fd: number, cb: (err: Error | null) => void) => {
      events.push(`sync ${fd}`);
      held.push(() => realDatasync(fd, (err) => (events.push(`synced ${fd}`), cb(err))));
    }) as typeof fs.fdatasync);
    const realClose = fs.close;
    vi.spyOn(fs, 'close').mockImplementation(((fd: number, cb: (err: Error | null) => void) => {
      events.push(`close ${fd}`);
      realClose(fd, cb);
    }) as typeof fs.close);
    const chunk = Buffer.alloc(1024 * 1024, 5);
    let part!: PassThrough;
    let engine!: StorageEngine;
    const done = stage(reservation(), (p, e) => {
      part = p;
      engine = e;
      for (let sent = 0; sent < 2 * SYNC_EVERY_BYTES; sent += chunk.length) p.write(chunk);
    });
    await waitFor(() => held.length === 1);
    breakOff(engine, part, lastFile);
    // Whatever the engine closes meanwhile, then the sync comes back.
    await waitFor(() => events.some((e) => e.startsWith('close')));
    held.splice(0).forEach((go) => go());
    const { err } = await done;
    expect(err).toBeTruthy();
    const syncedFd = events.find((e) => e.startsWith('sync '))!.slice(5);
    await waitFor(() => events.includes(`close ${syncedFd}`));
    expect(events.indexOf(`close ${syncedFd}`)).toBeGreaterThan(events.indexOf(`synced ${syncedFd}`));
    expect(events.indexOf(`synced ${syncedFd}`)).toBeGreaterThan(-1);
    expect(fs.existsSync(lastFile.path)).toBe(false);
  });
});

/** Polls cond until it holds (5 s at most, or ms). */
async function waitFor(cond: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not reached in ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
