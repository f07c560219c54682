// Retention survives `rebuild-index --wipe` (SPEC §10): attr.json carries every retention field, so the rebuilt rows
// answer the same FileMetadata and the same 409 retention_active; an attr.json from before retention restores as a
// permanent, unheld file.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildIndex } from '../../src/shared/domain/index-rebuild.js';
import { createWorld, type World } from '../helpers/world.js';

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

describe('retention across rebuild-index --wipe', () => {
  let world: World;
  let operator: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { LIFECYCLE_INTERVAL_SECONDS: '0' } });
    operator = await world.token('operator', 'olga');
  });
  afterAll(async () => world?.close());

  async function store(fields: Record<string, string>): Promise<string> {
    let req = request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${operator}`);
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    const res = await req.attach('file', randomBytes(200), 'k.bin');
    expect(res.status, res.text).toBe(201);
    return res.body.jobs[0].fileId as string;
  }
  const metadata = async (id: string) => {
    const res = await request(world.app).get(`/api/v1/files/${id}/metadata`).set('Authorization', `Bearer ${operator}`);
    expect(res.status).toBe(200);
    return res.body as Record<string, unknown>;
  };
  const rebuildWiped = () =>
    rebuildIndex({ db: world.api.db, config: world.config, blobStore: world.api.blobStore, logger: world.api.logger }, { wipe: true });

  it('restores retentionPolicy, expiresAt, retainUntil, retentionMode and legalHold, and the rules with them', async () => {
    const ids = [
      await store({ retentionPolicy: 'temporary', ttlDays: '3' }),
      await store({ retainUntil: inDays(9), retentionMode: 'compliance' }),
      await store({ retainUntil: inDays(4) }),
      await store({}),
    ];
    // A hold set after the upload: written by the update path (attr.json rewritten), not by the ingest.
    const hold = await request(world.app).put(`/api/v1/files/${ids[3]}/legal-hold`).set('Authorization', `Bearer ${operator}`).send({ on: true });
    expect(hold.status, hold.text).toBe(200);
    const before = await Promise.all(ids.map(metadata));
    expect(before.map((m) => [m.retentionPolicy, m.retentionMode, m.legalHold])).toEqual([
      ['temporary', null, false],
      ['permanent', 'compliance', false],
      ['permanent', 'governance', false],
      ['permanent', null, true],
    ]);

    const report = await rebuildWiped();
    expect(report).toMatchObject({ wiped: true, filesRestored: 4 });
    expect(await Promise.all(ids.map(metadata))).toEqual(before);
    for (const id of ids.slice(1)) {
      const res = await request(world.app).delete(`/api/v1/files/${id}`).set('Authorization', `Bearer ${await world.token('admin', 'adam')}`);
      expect(res.body.code).toBe('retention_active');
    }
  });

  it('restores an attr.json written before retention existed as a permanent, unheld file', async () => {
    const id = await store({});
    const row = await world.api.db.file.findUniqueOrThrow({ where: { id } });
    const attrFile = path.join(world.config.storagePath, row.attrPath);
    const record = JSON.parse(await fs.readFile(attrFile, 'utf8')) as Record<string, unknown>;
    for (const field of ['retentionPolicy', 'expiresAt', 'retainUntil', 'retentionMode', 'legalHold']) delete record[field];
    await fs.writeFile(attrFile, JSON.stringify(record));
    const report = await rebuildWiped();
    expect(report.skipped.invalidRecord).toBe(0);
    expect(await metadata(id)).toMatchObject({ retentionPolicy: 'permanent', expiresAt: null, retainUntil: null, retentionMode: null, legalHold: false });
  });
});
