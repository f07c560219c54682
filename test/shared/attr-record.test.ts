// The attr.json record round-trips: what the store writes for a committed (or deleted) file reads back, parses
// with attrRecordSchema, and equals the file's FileMetadata plus its blob fields.
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileMetadataSchema, type FileMetadata } from '../../src/contract/files.js';
import { AttrFileStore, attrRelativePath, toAttrRecord } from '../../src/shared/storage/attr-files.js';
import { ATTR_SCHEMA_VERSION, attrRecordSchema } from '../../src/shared/storage/attr-record.js';
import { createWorld, type World } from '../helpers/world.js';

describe('the attr.json record', () => {
  it('written by the store for a file, reads back and parses to the FileMetadata and its blob', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'attr-record-'));
    try {
      const store = new AttrFileStore(root);
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
      };
      const attrPath = attrRelativePath(meta.id, new Date(meta.createdAt));
      await store.write(attrPath, toAttrRecord(meta, 'blobs/ab/ab/x'));
      const parsed = attrRecordSchema.parse(await store.read(attrPath));
      expect(parsed).toEqual({ ...meta, schemaVersion: ATTR_SCHEMA_VERSION, blob: { sha256: meta.sha256, size: meta.size, storageKey: 'blobs/ab/ab/x' } });
      // And the FileMetadata inside it is a valid wire resource.
      expect(fileMetadataSchema.parse(parsed)).toMatchObject(meta);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  describe('of a file committed through the API', () => {
    let world: World;
    let alice: string;
    let operator: string;
    beforeAll(async () => {
      world = await createWorld({ worker: true });
      alice = await world.token('user', 'alice');
      operator = await world.token('operator', 'olga');
    });
    afterAll(async () => world?.close());

    async function readRecord(fileId: string) {
      const row = await world.api.db.file.findUniqueOrThrow({ where: { id: fileId } });
      return attrRecordSchema.parse(await new AttrFileStore(world.config.storagePath).read(row.attrPath));
    }

    it('equals GET metadata plus the blob fields, and a tombstone adds deletedAt', async () => {
      const bytes = randomBytes(3_000);
      const res = await request(world.app)
        .post('/api/v1/files/upload?wait=20')
        .set('Authorization', `Bearer ${alice}`)
        .field('description', 'a record')
        .field('tags', 'one,two')
        .field('metadata', JSON.stringify({ year: 2026 }))
        .attach('file', bytes, 'record.bin');
      expect(res.status).toBe(201);
      const fileId = res.body.jobs[0].fileId as string;
      const meta = (await request(world.app).get(`/api/v1/files/${fileId}/metadata`).set('Authorization', `Bearer ${alice}`)).body as FileMetadata;
      const blob = { sha256: meta.sha256, size: meta.size, storageKey: world.api.blobStore.keyFor(meta.sha256) };
      expect(await readRecord(fileId)).toEqual({ ...meta, schemaVersion: ATTR_SCHEMA_VERSION, blob });

      const del = await request(world.app).delete(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${operator}`);
      expect((await world.waitForJob(del.body.id, operator)).state).toBe('committed');
      const tombstone = await readRecord(fileId);
      // The deletion is a change of the record: updatedAt moves with it.
      expect(tombstone).toEqual({ ...meta, schemaVersion: ATTR_SCHEMA_VERSION, blob, updatedAt: expect.any(String), deletedAt: expect.any(String) });
      expect(Number.isNaN(Date.parse(tombstone.deletedAt!))).toBe(false);
    });
  });
});
