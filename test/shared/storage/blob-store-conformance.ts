// The blob store conformance suite (SPEC §8): what every backend must do, registered once per backend by its runner.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../../src/shared/errors.js';
import type { BlobStore } from '../../../src/shared/storage/blob-store.js';
import { MULTIPART_THRESHOLD_BYTES } from '../../../src/shared/storage/s3-objects.js';

/** One store of a backend, as a test gets it. */
export interface BlobStoreUnderTest {
  store: BlobStore;
  /**
   * Writes bytes under a key relative to the store's root ('blobs/aa/bb/<sha256>', or anything else), as something
   * other than the store would: to plant bytes of the wrong size or foreign keys.
   */
  writeRaw(relativeKey: string, bytes: Buffer): Promise<void>;
  /** Leaves what an interrupted put leaves behind (a temp file, an unfinished multipart upload). */
  leaveTemporary(): Promise<void>;
}

/**
 * A new store of the backend. Stores made with different namespaces share one container (a directory, a bucket)
 * and must not see each other's blobs: the namespace becomes a subdirectory or a key prefix.
 */
export type MakeBlobStore = (namespace: string) => Promise<BlobStoreUnderTest>;

/** What a backend may lack; the tests that need it are skipped, saying so in their name. */
export interface BlobStoreCapabilities {
  /** Creation is atomic: of two puts racing with the same bytes, exactly one reports created (If-None-Match: *). */
  conditionalCreate: boolean;
  /** sweepTemporaries removes what interrupted puts left (AbortMultipartUpload). */
  sweepsTemporaries: boolean;
  /** The store answers Range: bytes=0-0 with the first byte (s3rver 3.7.1 sends the whole object). */
  firstByteRange: boolean;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const layoutKey = (h: string) => `blobs/${h.slice(0, 2)}/${h.slice(2, 4)}/${h}`;
const NOT_HASHES = ['../../etc/passwd', 'AB'.repeat(32), 'ab'.repeat(31), `${'ab'.repeat(32)}/../x`, '', 'blobs/ab/cd/x'];

export function describeBlobStore(name: string, makeStore: MakeBlobStore, capabilities: BlobStoreCapabilities): void {
  describe(`blob store conformance: ${name}`, () => {
    let dir: string;
    let counter = 0;
    const opened: BlobStore[] = [];
    const fresh = async (namespace = `ns${++counter}`) => {
      const made = await makeStore(namespace);
      opened.push(made.store);
      return made;
    };
    /** A staged source file with these bytes, and their sha256. */
    const staged = async (bytes: Buffer | string) => {
      const b = Buffer.from(bytes);
      const p = path.join(dir, randomBytes(6).toString('hex'));
      await fs.writeFile(p, b);
      return { path: p, sha256: sha(b), bytes: b };
    };
    const read = async (store: BlobStore, h: string, range?: { start: number; end: number }) => buffer(await store.openRead(h, range));
    const listAll = async (store: BlobStore) => {
      const out: string[] = [];
      for await (const h of store.list()) out.push(h);
      return out.sort();
    };

    beforeAll(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'blob-conformance-'));
    });
    afterAll(async () => {
      for (const store of opened) await store.close?.();
      await fs.rm(dir, { recursive: true, force: true });
    });

    it('stores a blob under blobs/<aa>/<bb>/<sha256>, created once: a second put of the same bytes reuses it', async () => {
      const { store } = await fresh();
      const a = await staged('hello blob');
      const first = await store.put(a.sha256, a.path);
      expect(first).toEqual({ created: true, repaired: false, storageKey: store.keyFor(a.sha256) });
      expect(store.keyFor(a.sha256).endsWith(layoutKey(a.sha256))).toBe(true);
      const again = await staged('hello blob');
      expect(await store.put(again.sha256, again.path)).toEqual({ created: false, repaired: false, storageKey: first.storageKey });
      expect(await store.stat(a.sha256)).toEqual({ size: 10 });
      expect((await read(store, a.sha256)).toString()).toBe('hello blob');
    });

    it('stores the 0-byte blob as a blob of its own', async () => {
      const { store } = await fresh();
      const empty = await staged(Buffer.alloc(0));
      expect((await store.put(empty.sha256, empty.path)).created).toBe(true);
      expect(await store.stat(empty.sha256)).toEqual({ size: 0 });
      expect((await read(store, empty.sha256)).length).toBe(0);
      expect(await listAll(store)).toEqual([empty.sha256]);
    });

    it('reuses bytes of the right size under "reuse" and replaces them with the source under "replace"', async () => {
      const { store } = await fresh();
      const original = await staged('original');
      await store.put(original.sha256, original.path);
      // Same size, other bytes: reuse trusts the caller's records and keeps what is stored.
      const impostor = await staged('impostor');
      expect(await store.put(original.sha256, impostor.path, { existing: 'reuse' })).toMatchObject({ created: false, repaired: false });
      expect((await read(store, original.sha256)).toString()).toBe('original');
      const restored = await staged('original');
      expect(await store.put(original.sha256, restored.path, { existing: 'replace' })).toMatchObject({ created: false, repaired: true });
      expect((await read(store, original.sha256)).toString()).toBe('original');
    });

    it('replaces existing bytes of the wrong size even under "reuse"', async () => {
      const made = await fresh();
      const a = await staged(randomBytes(3_000));
      await made.writeRaw(layoutKey(a.sha256), Buffer.from('truncated'));
      expect(await made.store.stat(a.sha256)).toEqual({ size: 9 });
      expect(await made.store.put(a.sha256, a.path, { existing: 'reuse' })).toEqual({ created: false, repaired: true, storageKey: made.store.keyFor(a.sha256) });
      expect(Buffer.compare(await read(made.store, a.sha256), a.bytes)).toBe(0);
    });

    it('keeps one intact blob when puts of the same bytes race', async () => {
      const { store } = await fresh();
      const bytes = randomBytes(20_000);
      const sources = await Promise.all([staged(bytes), staged(bytes), staged(bytes)]);
      const results = await Promise.all(sources.map((s) => store.put(s.sha256, s.path)));
      expect(results.some((r) => r.created)).toBe(true);
      expect(Buffer.compare(await read(store, sha(bytes)), bytes)).toBe(0);
    });

    it.skipIf(!capabilities.conditionalCreate)('reports exactly one of racing puts as created (conditional create; skipped where the store lacks it)', async () => {
      const { store } = await fresh();
      const bytes = randomBytes(20_000);
      const sources = await Promise.all([staged(bytes), staged(bytes), staged(bytes), staged(bytes)]);
      const results = await Promise.all(sources.map((s) => store.put(s.sha256, s.path)));
      expect(results.filter((r) => r.created)).toHaveLength(1);
    });

    it('reads inclusive ranges: the last byte, a middle span and the whole blob, by stream and at once', async () => {
      const { store } = await fresh();
      const a = await staged(randomBytes(100_000));
      await store.put(a.sha256, a.path);
      const n = a.bytes.length;
      for (const [start, end] of [[n - 1, n - 1], [1_000, 65_535], [1, n - 1], [0, n - 1]] as const) {
        const want = a.bytes.subarray(start, end + 1);
        expect((await read(store, a.sha256, { start, end })).equals(want), `stream ${start}-${end}`).toBe(true);
        if (end - start < 70_000) expect((await store.readRange(a.sha256, { start, end })).equals(want), `readRange ${start}-${end}`).toBe(true);
      }
    });

    it.skipIf(!capabilities.firstByteRange)('reads the first byte alone, by stream and at once (skipped where the store answers bytes=0-0 wrongly)', async () => {
      const { store } = await fresh();
      const a = await staged(randomBytes(1_000));
      await store.put(a.sha256, a.path);
      expect((await read(store, a.sha256, { start: 0, end: 0 })).equals(a.bytes.subarray(0, 1))).toBe(true);
      expect((await store.readRange(a.sha256, { start: 0, end: 0 })).equals(a.bytes.subarray(0, 1))).toBe(true);
      const one = await staged(Buffer.from('x'));
      await store.put(one.sha256, one.path);
      expect((await store.readRange(one.sha256, { start: 0, end: 0 })).toString()).toBe('x');
    });

    it('stores a blob larger than the multipart threshold and reads it back whole and across a part boundary', async () => {
      const { store } = await fresh();
      const a = await staged(randomBytes(MULTIPART_THRESHOLD_BYTES + 5 * 1024 * 1024 + 3));
      expect((await store.put(a.sha256, a.path)).created).toBe(true);
      expect(await store.stat(a.sha256)).toEqual({ size: a.bytes.length });
      expect(sha(await read(store, a.sha256))).toBe(a.sha256);
      const boundary = 8 * 1024 * 1024;
      expect((await store.readRange(a.sha256, { start: boundary - 2, end: boundary + 1 })).equals(a.bytes.subarray(boundary - 2, boundary + 2))).toBe(true);
    });

    it('answers stat with null for an absent blob and with the size for a present one', async () => {
      const { store } = await fresh();
      const a = await staged('present');
      expect(await store.stat(a.sha256)).toBeNull();
      await store.put(a.sha256, a.path);
      expect(await store.stat(a.sha256)).toEqual({ size: 7 });
    });

    it('throws not_found when reading an absent blob, by stream or by range', async () => {
      const { store } = await fresh();
      const absent = sha(randomBytes(16));
      await expect(store.openRead(absent)).rejects.toSatisfy((err: unknown) => isAppError(err, 'not_found'));
      await expect(store.openRead(absent, { start: 0, end: 0 })).rejects.toSatisfy((err: unknown) => isAppError(err, 'not_found'));
      await expect(store.readRange(absent, { start: 0, end: 0 })).rejects.toSatisfy((err: unknown) => isAppError(err, 'not_found'));
    });

    it('deletes a blob: true when it was there, false when it was not', async () => {
      const { store } = await fresh();
      const a = await staged('doomed');
      await store.put(a.sha256, a.path);
      expect(await store.delete(a.sha256)).toBe(true);
      expect(await store.stat(a.sha256)).toBeNull();
      expect(await store.delete(a.sha256)).toBe(false);
      expect(await listAll(store)).toEqual([]);
    });

    it('lists exactly the blobs put, ignoring foreign keys under its root', async () => {
      const made = await fresh();
      const blobs = await Promise.all(['one', 'two', 'three'].map((s) => staged(s)));
      for (const b of blobs) await made.store.put(b.sha256, b.path);
      await made.writeRaw('blobs/ab/cd/readme.txt', Buffer.from('not a blob'));
      await made.writeRaw('blobs/stray.bin', Buffer.from('not a blob'));
      await made.writeRaw(`blobs/ab/cd/${'AB'.repeat(32)}`, Buffer.from('upper-case name'));
      expect(await listAll(made.store)).toEqual(blobs.map((b) => b.sha256).sort());
    });

    it('isolates two stores by their namespace (prefix) in one container', async () => {
      const a = await fresh();
      const b = await fresh();
      const blob = await staged('only in a');
      await a.store.put(blob.sha256, blob.path);
      expect(await b.store.stat(blob.sha256)).toBeNull();
      expect(await listAll(b.store)).toEqual([]);
      expect(await b.store.delete(blob.sha256)).toBe(false);
      await expect(b.store.openRead(blob.sha256)).rejects.toSatisfy((err: unknown) => isAppError(err, 'not_found'));
      expect(await listAll(a.store)).toEqual([blob.sha256]);
    });

    it('never builds a key from anything but a lower-case sha256', async () => {
      const { store } = await fresh();
      const source = await staged('x');
      for (const bad of NOT_HASHES) {
        expect(() => store.keyFor(bad), bad).toThrow(/not a lowercase sha256/);
        await expect(store.put(bad, source.path), bad).rejects.toThrow(/not a lowercase sha256/);
        await expect(store.openRead(bad), bad).rejects.toThrow(/not a lowercase sha256/);
        await expect(store.readRange(bad, { start: 0, end: 0 }), bad).rejects.toThrow(/not a lowercase sha256/);
        await expect(store.stat(bad), bad).rejects.toThrow(/not a lowercase sha256/);
        await expect(store.delete(bad), bad).rejects.toThrow(/not a lowercase sha256/);
      }
      expect(await listAll(store)).toEqual([]);
    });

    it('sweeps nothing young and never a blob', async () => {
      const { store } = await fresh();
      const a = await staged('kept');
      await store.put(a.sha256, a.path);
      expect(await store.sweepTemporaries(new Date(Date.now() - 3_600_000))).toBe(0);
      expect(await store.sweepTemporaries(new Date(Date.now() + 60_000))).toBe(0);
      expect(await store.stat(a.sha256)).toEqual({ size: 4 });
    });

    it.skipIf(!capabilities.sweepsTemporaries)('sweeps what an interrupted put left behind once it is old enough (skipped where the store cannot)', async () => {
      const made = await fresh();
      await made.leaveTemporary();
      expect(await made.store.sweepTemporaries(new Date(Date.now() - 3_600_000))).toBe(0);
      expect(await made.store.sweepTemporaries(new Date(Date.now() + 60_000))).toBe(1);
      expect(await made.store.sweepTemporaries(new Date(Date.now() + 60_000))).toBe(0);
      expect(await listAll(made.store)).toEqual([]);
    });
  });
}
