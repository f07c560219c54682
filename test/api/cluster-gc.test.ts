// The GC interface (SPEC §10): DELETE /api/v1/gc/{fileId} and GET /api/v1/gc/{fileId}/exists for service accounts
// and admins, in rw and ar modes, idempotent, through the WAL delete path. The mode is element-wide: own database.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

describe('GC interface', () => {
  let world: World;
  let user: string;
  let service: string;
  let admin: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { APP_MODE: 'rw', SCRUB_INTERVAL_HOURS: '0' } });
    user = await world.token('user', 'alice');
    service = await world.token('operator', 'admin-module', { type: 'service_account' });
    admin = await world.token('admin', 'root', { type: 'admin_user' });
  });
  afterAll(async () => world?.close());

  const upload = async () => {
    const res = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${user}`).attach('file', randomBytes(500), 'g.bin');
    expect(res.status).toBe(201);
    return res.body.jobs[0].fileId as string;
  };
  const gc = (fileId: string, token: string, body?: Record<string, unknown>) => {
    const req = request(world.app).delete(`/api/v1/gc/${fileId}`).set('Authorization', `Bearer ${token}`);
    return body ? req.send(body) : req;
  };
  const exists = (fileId: string, token: string) => request(world.app).get(`/api/v1/gc/${fileId}/exists`).set('Authorization', `Bearer ${token}`);
  const attrOf = async (fileId: string) => {
    const [row] = await world.api.db.$queryRaw<Array<{ attr_path: string }>>`SELECT attr_path FROM files WHERE id = ${fileId}::uuid`;
    return JSON.parse(await fs.readFile(path.join(world.config.storagePath, row!.attr_path), 'utf8')) as Record<string, unknown>;
  };
  const deleteFinished = (fileId: string) =>
    until(`the delete job of ${fileId} to commit`, async () => {
      const rows = await world.api.db.fileJob.findMany({ where: { fileId, kind: 'delete' } });
      return rows.length === 1 && rows[0]!.state === 'committed';
    });

  it('refuses a plain user, an operator that is no service account and a service account whose role is only user, with 403', async () => {
    const fileId = await upload();
    const weakService = await world.token('user', 'ingester', { type: 'service_account' });
    // An operator without the service-account type, or with a type this element does not know, is no service account.
    const unknownType = await world.token('operator', 'robot', { type: 'robot' });
    for (const token of [user, weakService, await world.token('operator', 'ops'), unknownType]) {
      expect((await gc(fileId, token)).status).toBe(403);
      expect((await exists(fileId, token)).status).toBe(403);
    }
    expect((await exists(fileId, service)).body).toEqual({ exists: true, fileId });
  });

  it('lets a service account delete in rw (where DELETE /files is refused), recording reason and cleanup type', async () => {
    const fileId = await upload();
    const plain = await request(world.app).delete(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${admin}`);
    expect(plain.body.code).toBe('mode_forbids');

    const res = await gc(fileId, service, { reason: 'ttl of the upload session passed', cleanupType: 'ttl_expired' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'deleted', fileId, deletedAt: expect.any(String), deletedBy: 'admin-module', reason: 'ttl of the upload session passed' });
    // Gone for readers at once; the delete job then tombstones attr.json and commits its WAL entry.
    expect((await request(world.app).get(`/api/v1/files/${fileId}/metadata`).set('Authorization', `Bearer ${user}`)).status).toBe(404);
    expect((await exists(fileId, service)).body).toEqual({ exists: false, fileId });
    await deleteFinished(fileId);
    expect((await attrOf(fileId)).deletedAt).toEqual(expect.any(String));
    const wal = await world.api.db.walEntry.findFirst({ where: { fileId, operation: 'file_delete' } });
    expect(wal).toMatchObject({ status: 'committed', actor: 'admin-module' });
    expect(wal!.payload).toMatchObject({ source: 'gc', reason: 'ttl of the upload session passed', cleanupType: 'ttl_expired' });
  });

  it('answers already_deleted for a file deleted before, with that deletion, and 404 for a file never stored', async () => {
    const fileId = await upload();
    const first = await gc(fileId, admin, { reason: 'finalized elsewhere', cleanupType: 'finalized' });
    expect(first.body.status).toBe('deleted');
    const again = await gc(fileId, service, { reason: 'second try' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ status: 'already_deleted', fileId, deletedAt: first.body.deletedAt, deletedBy: 'root', reason: 'finalized elsewhere' });

    const never = await gc('3b9c1a2e-0000-4000-8000-000000000000', service);
    expect(never.status).toBe(404);
    expect(never.body.code).toBe('not_found');
    expect((await gc('not-a-uuid', service)).status).toBe(404);
    expect((await exists('not-a-uuid', service)).body).toEqual({ exists: false, fileId: 'not-a-uuid' });
    expect((await gc(fileId, service, { cleanupType: 'whenever' })).body.code).toBe('validation_failed');
  });

  it('two concurrent GC calls for one file delete it once', async () => {
    const fileId = await upload();
    const answers = await Promise.all([gc(fileId, service), gc(fileId, service)]);
    expect(answers.map((a) => a.body.status).sort()).toEqual(['already_deleted', 'deleted']);
    expect(await world.api.db.fileJob.count({ where: { fileId, kind: 'delete' } })).toBe(1);
  });

  it('inherits the retention rules of the delete path: a legal hold answers 409 retention_active until released', async () => {
    const fileId = await upload();
    const hold = (on: boolean) => request(world.app).put(`/api/v1/files/${fileId}/legal-hold`).set('Authorization', `Bearer ${admin}`).send({ on });
    expect((await hold(true)).status).toBe(200);
    const refused = await gc(fileId, service, { cleanupType: 'finalized' });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('retention_active');
    expect((await exists(fileId, service)).body.exists).toBe(true);
    expect((await hold(false)).status).toBe(200);
    expect((await gc(fileId, service, { cleanupType: 'finalized' })).body.status).toBe('deleted');
  });

  it('deletes in ar too, where nothing else may delete', async () => {
    const fileId = await upload();
    for (const mode of ['ro', 'ar']) {
      expect((await request(world.app).put('/api/v1/mode').set('Authorization', `Bearer ${admin}`).send({ mode })).status).toBe(200);
    }
    const res = await gc(fileId, service, { cleanupType: 'orphaned' });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('deleted');
    await deleteFinished(fileId);
    const job = await world.api.db.fileJob.findFirst({ where: { fileId, kind: 'delete' } });
    expect(job!.params).toMatchObject({ source: 'gc', reason: null, cleanupType: 'orphaned' });
    // The audit trail names it a gc_delete by the service account, with the request that asked for it.
    const events = await world.api.db.auditEvent.findMany({ where: { fileId, action: { in: ['delete', 'gc_delete'] } } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ action: 'gc_delete', actorTokenType: 'service_account', jobId: job!.id });
    expect(events[0]!.requestId).toBeTruthy();
    expect(events[0]!.details).toMatchObject({ source: 'gc', cleanupType: 'orphaned' });
  });
});
