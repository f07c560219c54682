// The attr.json store conformance suite: what every backend's AttrStore must do, registered once per backend.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { FileMetadata } from '../../../src/contract/files.js';
import { attrRelativePath, toAttrRecord } from '../../../src/shared/storage/attr-files.js';
import type { AttrRecord } from '../../../src/shared/storage/attr-record.js';
import type { AttrStore } from '../../../src/shared/storage/attr-store.js';

export interface AttrStoreUnderTest {
  store: AttrStore;
  /** Writes bytes under a key relative to the store's root ('files/...'), as something other than the store would. */
  writeRaw(relativeKey: string, bytes: Buffer): Promise<void>;
  /** Releases what the store holds (an S3 client). */
  close?(): Promise<void>;
}

/** A new store of the backend; stores of different namespaces share one container and must not see each other. */
export type MakeAttrStore = (namespace: string) => Promise<AttrStoreUnderTest>;

function record(overrides: Partial<FileMetadata> = {}): { path: string; record: AttrRecord } {
  const meta: FileMetadata = {
    id: randomUUID(),
    fileName: 'Grüße.txt',
    contentType: 'text/plain',
    size: 12,
    sha256: 'ab'.repeat(32),
    description: null,
    version: '1.0',
    tags: ['a', 'b'],
    metadata: { year: 2026, nested: { ok: true } },
    owner: 'alice',
    ownerName: null,
    createdAt: '2026-12-06T01:02:03.004Z',
    updatedAt: '2026-12-06T01:02:03.004Z',
    revision: 1,
    elementId: 'se-test',
    retentionPolicy: 'permanent',
    expiresAt: null,
    retainUntil: null,
    retentionMode: null,
    legalHold: false,
    ...overrides,
  };
  return { path: attrRelativePath(meta.id, new Date(meta.createdAt)), record: toAttrRecord(meta, `blobs/ab/ab/${meta.sha256}`) };
}

export function describeAttrStore(name: string, makeStore: MakeAttrStore): void {
  describe(`attr store conformance: ${name}`, () => {
    let counter = 0;
    const opened: AttrStoreUnderTest[] = [];
    const fresh = async (namespace = `attr${++counter}`) => {
      const made = await makeStore(namespace);
      opened.push(made);
      return made;
    };
    const listAll = async (store: AttrStore) => {
      const out: string[] = [];
      for await (const p of store.list()) out.push(p);
      return out.sort();
    };
    afterAll(async () => {
      for (const made of opened) await made.close?.();
    });

    it('writes a record and reads it back as written; an absent one reads as null', async () => {
      const { store } = await fresh();
      const a = record();
      expect(await store.read(a.path)).toBeNull();
      await store.write(a.path, a.record);
      expect(await store.read(a.path)).toEqual(a.record);
    });

    it('rewrites a record in place', async () => {
      const { store } = await fresh();
      const a = record();
      await store.write(a.path, a.record);
      const next = { ...a.record, revision: 2, description: 'edited', updatedAt: '2026-12-07T00:00:00.000Z' };
      await store.write(a.path, next);
      expect(await store.read(a.path)).toEqual(next);
      expect(await listAll(store)).toEqual([a.path]);
    });

    it('removes a record: true when it was there, false when it was not', async () => {
      const { store } = await fresh();
      const a = record();
      await store.write(a.path, a.record);
      expect(await store.remove(a.path)).toBe(true);
      expect(await store.read(a.path)).toBeNull();
      expect(await store.remove(a.path)).toBe(false);
    });

    it('lists the relative path of every record across hours and days, ignoring foreign keys', async () => {
      const made = await fresh();
      const written = [
        record({ createdAt: '2026-01-01T00:00:00.000Z' }),
        record({ createdAt: '2026-01-01T23:59:59.999Z' }),
        record({ createdAt: '2027-06-15T12:00:00.000Z' }),
      ];
      for (const w of written) await made.store.write(w.path, w.record);
      await made.writeRaw('files/2026/01/01/00/notes.txt', Buffer.from('not a record'));
      await made.writeRaw('files/readme.json', Buffer.from('{}'));
      const listed = await listAll(made.store);
      expect(listed).toEqual(written.map((w) => w.path).sort());
      for (const p of listed) expect(p).toMatch(/^files\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/[0-9a-f-]{36}\.attr\.json$/);
    });

    it('isolates two stores by their namespace (prefix) in one container', async () => {
      const a = await fresh();
      const b = await fresh();
      const r = record();
      await a.store.write(r.path, r.record);
      expect(await b.store.read(r.path)).toBeNull();
      expect(await listAll(b.store)).toEqual([]);
      expect(await b.store.remove(r.path)).toBe(false);
      expect(await listAll(a.store)).toEqual([r.path]);
    });

    it('refuses paths that leave the store', async () => {
      const { store } = await fresh();
      const r = record();
      for (const bad of ['../outside.attr.json', `files/../../${randomUUID()}.attr.json`, `/etc/${randomUUID()}.attr.json`]) {
        await expect(store.write(bad, r.record), bad).rejects.toThrow();
        await expect(store.read(bad), bad).rejects.toThrow();
        await expect(store.remove(bad), bad).rejects.toThrow();
      }
      expect(await listAll(store)).toEqual([]);
    });
  });
}
