// The open-file cache (bounded, refcounted handles) and LocalBlobStore's small range reads through it.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBlobStore } from '../../src/shared/storage/local-blob-store.js';
import { OpenFileCache } from '../../src/shared/storage/open-file-cache.js';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'open-file-cache-'));
});
afterAll(async () => fs.rm(dir, { recursive: true, force: true }));

async function fileWith(name: string, content: string): Promise<string> {
  const p = path.join(dir, name);
  await fs.writeFile(p, content);
  return p;
}

const readAll = (cache: OpenFileCache, p: string, since = 0) =>
  cache.withHandle(p, since, async (h) => {
    const buf = Buffer.alloc(64);
    const { bytesRead } = await h.read(buf, 0, 64, 0);
    return buf.subarray(0, bytesRead).toString();
  });

describe('OpenFileCache', () => {
  it('keeps at most maxOpen handles, the least recently used going first', async () => {
    const cache = new OpenFileCache({ maxOpen: 2, idleMs: 60_000 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => fileWith(`lru-${n}`, n)));
    expect(await readAll(cache, a!)).toBe('a');
    expect(await readAll(cache, b!)).toBe('b');
    expect(await readAll(cache, a!)).toBe('a');
    expect(await readAll(cache, c!)).toBe('c');
    expect(cache.size).toBe(2);
    await cache.close();
    expect(cache.size).toBe(0);
  });

  it('never closes a handle a read still holds: an eviction waits for the read to finish', async () => {
    const cache = new OpenFileCache({ maxOpen: 1, idleMs: 60_000 });
    const p = await fileWith('held', 'held bytes');
    const other = await fileWith('other', 'other');
    const got = await cache.withHandle(p, 0, async (h) => {
      cache.forget(p);
      await readAll(cache, other);
      // Forgotten and pushed out of the cache, yet this read's handle still reads.
      const buf = Buffer.alloc(10);
      await h.read(buf, 0, 10, 0);
      return buf.toString();
    });
    expect(got).toBe('held bytes');
    await cache.close();
  });

  it('reopens a handle opened before openedSince, so a file replaced by rename is read anew', async () => {
    const cache = new OpenFileCache({ maxOpen: 4, idleMs: 60_000 });
    const p = await fileWith('replaced', 'old');
    expect(await readAll(cache, p)).toBe('old');
    const fresh = await fileWith('replaced.tmp', 'new');
    await fs.rename(fresh, p);
    // A caller without newer proof may still get the handle it has...
    expect(await readAll(cache, p, 0)).toBe('old');
    // ...one whose records were checked after the rename gets the bytes the name holds now.
    expect(await readAll(cache, p, performance.now())).toBe('new');
    expect(await readAll(cache, p, 0)).toBe('new');
    await cache.close();
  });

  it('does not cache a failed open', async () => {
    const cache = new OpenFileCache({ maxOpen: 4, idleMs: 60_000 });
    await expect(readAll(cache, path.join(dir, 'absent'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(cache.size).toBe(0);
    await cache.close();
  });

  it('closes handles left idle (a removed file does not keep its space)', async () => {
    const cache = new OpenFileCache({ maxOpen: 4, idleMs: 20 });
    const p = await fileWith('idle', 'idle');
    await readAll(cache, p);
    expect(cache.size).toBe(1);
    const deadline = Date.now() + 5_000;
    while (cache.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(cache.size).toBe(0);
    await cache.close();
  });
});

describe('LocalBlobStore.readRange', () => {
  it('reads bytes put under the name after the caller last checked, and after forget()', async () => {
    const store = new LocalBlobStore(path.join(dir, 'store'));
    const first = randomBytes(4096);
    const sha = createHash('sha256').update(first).digest('hex');
    const src1 = path.join(dir, 'src-1');
    await fs.writeFile(src1, first);
    await store.put(sha, src1);
    const range = { start: 100, end: 1123 };
    expect(Buffer.compare(await store.readRange(sha, range, { openedSince: 0 }), first.subarray(100, 1124))).toBe(0);

    // Replace the bytes under the same name (as a repair does: rename over it).
    const second = randomBytes(4096);
    const src2 = path.join(dir, 'src-2');
    await fs.writeFile(src2, second);
    expect((await store.put(sha, src2, { existing: 'replace' })).repaired).toBe(true);
    const checkedAfter = performance.now();
    expect(Buffer.compare(await store.readRange(sha, range, { openedSince: checkedAfter }), second.subarray(100, 1124))).toBe(0);

    const third = randomBytes(4096);
    const src3 = path.join(dir, 'src-3');
    await fs.writeFile(src3, third);
    await store.put(sha, src3, { existing: 'replace' });
    store.forget(sha);
    expect(Buffer.compare(await store.readRange(sha, range, { openedSince: 0 }), third.subarray(100, 1124))).toBe(0);
    await store.close();
  });

  it('answers not_found for a missing blob', async () => {
    const store = new LocalBlobStore(path.join(dir, 'store-empty'));
    await expect(store.readRange('a'.repeat(64), { start: 0, end: 9 })).rejects.toMatchObject({ code: 'not_found' });
    await store.close();
  });
});
