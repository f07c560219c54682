// The local blob store: content-addressed layout, no overwrite, ranges, refusal of non-hash keys.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../src/shared/storage/blob-store.js';
import { LocalBlobStore } from '../../src/shared/storage/local-blob-store.js';

describe('LocalBlobStore', () => {
  let root: string;
  let store: LocalBlobStore;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'blobstore-'));
    store = new LocalBlobStore(path.join(root, 'storage'));
  });
  afterAll(async () => fs.rm(root, { recursive: true, force: true }));

  async function staged(content: string | Buffer) {
    const p = path.join(root, `${randomBytes(6).toString('hex')}.part`);
    await fs.writeFile(p, content);
    return { p, sha: createHash('sha256').update(content).digest('hex') };
  }

  it('stores under blobs/<aa>/<bb>/<sha256> and reports a second put as existing', async () => {
    const a = await staged('hello blob');
    expect(await store.put(a.sha, a.p)).toEqual({ created: true, repaired: false, storageKey: `blobs/${a.sha.slice(0, 2)}/${a.sha.slice(2, 4)}/${a.sha}` });
    const b = await staged('hello blob');
    expect((await store.put(b.sha, b.p)).created).toBe(false);
    expect(await fs.readFile(path.join(root, 'storage', store.keyFor(a.sha)), 'utf8')).toBe('hello blob');
    expect(await store.stat(a.sha)).toEqual({ size: 10 });
  });

  it('offers the localPath capability: the file of each blob, present or not, for readers that take a path', async () => {
    const a = await staged('local path');
    await store.put(a.sha, a.p);
    const backend: BlobStore = store;
    const localPath = backend.localPath?.(a.sha);
    expect(localPath).toBe(path.join(root, 'storage', store.keyFor(a.sha)));
    expect(await fs.readFile(localPath!, 'utf8')).toBe('local path');
    expect(() => backend.localPath?.('../etc/passwd')).toThrow(/not a lowercase sha256/);
  });

  it('never overwrites an existing blob, even with other bytes under the same name', async () => {
    const a = await staged('original');
    await store.put(a.sha, a.p);
    const liar = await staged('impostor');
    expect((await store.put(a.sha, liar.p)).created).toBe(false);
    expect(await text(await store.openRead(a.sha))).toBe('original');
  });

  it('reads inclusive byte ranges', async () => {
    const a = await staged('0123456789');
    await store.put(a.sha, a.p);
    expect(await text(await store.openRead(a.sha, { start: 2, end: 5 }))).toBe('2345');
  });

  it('lists and deletes blobs', async () => {
    const a = await staged(randomBytes(100));
    await store.put(a.sha, a.p);
    const listed: string[] = [];
    for await (const sha of store.list()) listed.push(sha);
    expect(listed).toContain(a.sha);
    expect(await store.delete(a.sha)).toBe(true);
    expect(await store.delete(a.sha)).toBe(false);
    expect(await store.stat(a.sha)).toBeNull();
  });

  it('refuses keys that are not sha256 digests (no path can escape the root)', async () => {
    const a = await staged('x');
    await expect(store.put('../../etc/passwd', a.p)).rejects.toThrow(/sha256/);
    await expect(store.openRead('ABC')).rejects.toThrow(/sha256/);
  });
  it('puts again after its directory was removed behind its back (the created-directory cache is not trusted blindly)', async () => {
    const a = await staged(`dir gone ${Date.now()}`);
    expect((await store.put(a.sha, a.p)).created).toBe(true);
    await fs.rm(path.join(root, 'storage', 'blobs', a.sha.slice(0, 2)), { recursive: true });
    const b = await staged(`dir gone ${Date.now()}`);
    expect((await store.put(b.sha, b.p)).created).toBe(true);
    expect(await text(await store.openRead(b.sha))).toBe(await fs.readFile(b.p, 'utf8'));
  });

  it('gives every concurrent put of distinct blobs in one directory its file (shared directory fsyncs)', async () => {
    const items = await Promise.all(Array.from({ length: 40 }, (_, i) => staged(`same-dir ${i} ${Date.now()}`)));
    const results = await Promise.all(items.map((it) => store.put(it.sha, it.p)));
    expect(results.every((r) => r.created)).toBe(true);
    for (const it of items) expect((await store.stat(it.sha))?.size).toBe((await fs.stat(it.p)).size);
  });
});
