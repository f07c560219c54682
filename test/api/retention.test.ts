// Retention and legal hold (SPEC §10) through the API with a real worker: upload fields, 409 retention_active on
// DELETE and on the delete path GC uses, compliance and governance changes, legal holds, bad input.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestDelete } from '../../src/shared/domain/file-requests.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

const DAY_MS = 86_400_000;
const inDays = (days: number) => new Date(Date.now() + days * DAY_MS).toISOString();

describe('retention and legal hold', () => {
  let world: World;
  let alice: string;
  let operator: string;
  let admin: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { LIFECYCLE_INTERVAL_SECONDS: '0' } });
    alice = await world.token('user', 'alice');
    operator = await world.token('operator', 'olga');
    admin = await world.token('admin', 'adam');
  });
  afterAll(async () => world?.close());

  const upload = (fields: Record<string, string>, token = alice) => {
    let req = request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${token}`);
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    return req.attach('file', randomBytes(300), 'r.bin');
  };
  async function store(fields: Record<string, string>, token = alice): Promise<Record<string, unknown>> {
    const res = await upload(fields, token);
    expect(res.status, res.text).toBe(201);
    return res.body.jobs[0].file as Record<string, unknown>;
  }
  const del = (id: string, token = admin) => request(world.app).delete(`/api/v1/files/${id}`).set('Authorization', `Bearer ${token}`);
  const setRetention = (id: string, body: object, token = admin, bypass?: string) => {
    const req = request(world.app).put(`/api/v1/files/${id}/retention`).set('Authorization', `Bearer ${token}`);
    return (bypass === undefined ? req : req.set('X-Bypass-Governance-Retention', bypass)).send(body);
  };
  const setHold = (id: string, on: boolean, token = operator) =>
    request(world.app).put(`/api/v1/files/${id}/legal-hold`).set('Authorization', `Bearer ${token}`).send({ on });
  const readAttr = async (id: string) => {
    const row = await world.api.db.file.findUniqueOrThrow({ where: { id } });
    return JSON.parse(await fs.readFile(path.join(world.config.storagePath, row.attrPath), 'utf8')) as Record<string, unknown>;
  };

  it('stores the upload retention in FileMetadata and attr.json: a temporary file expires ttlDays after upload', async () => {
    const until = inDays(30);
    const file = await store({ retentionPolicy: 'temporary', ttlDays: '7', retainUntil: until, retentionMode: 'compliance' });
    expect(file).toMatchObject({ retentionPolicy: 'temporary', retainUntil: until, retentionMode: 'compliance', legalHold: false });
    expect(Date.parse(file.expiresAt as string) - Date.parse(file.createdAt as string)).toBe(7 * DAY_MS);
    expect(await readAttr(file.id as string)).toMatchObject({ retentionPolicy: 'temporary', expiresAt: file.expiresAt, retainUntil: until, retentionMode: 'compliance' });
    const plain = await store({});
    expect(plain).toMatchObject({ retentionPolicy: 'permanent', expiresAt: null, retainUntil: null, retentionMode: null, legalHold: false });
  });

  it('answers 400 validation_failed naming the field for bad retention input, and keeps no staged file', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ ttlDays: '3' }, 'ttlDays'],
      [{ retentionPolicy: 'temporary' }, 'ttlDays'],
      [{ retentionPolicy: 'temporary', ttlDays: '0' }, 'ttlDays'],
      [{ retentionPolicy: 'temporary', ttlDays: '1.5' }, 'ttlDays'],
      [{ retentionPolicy: 'forever' }, 'retentionPolicy'],
      [{ retainUntil: '2001-01-01T00:00:00Z' }, 'retainUntil'],
      [{ retainUntil: 'next tuesday' }, 'retainUntil'],
      [{ retainUntil: inDays(1), retentionMode: 'strict' }, 'retentionMode'],
      [{ retentionMode: 'governance' }, 'retentionMode'],
      [{ legalHold: 'yes' }, 'legalHold'],
    ];
    for (const [fields, parameter] of cases) {
      const res = await upload(fields);
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(res.body, JSON.stringify(fields)).toMatchObject({ code: 'validation_failed', parameter });
    }
    const put = await setRetention((await store({})).id as string, { retainUntil: '2001-01-01T00:00:00Z' });
    expect(put.status).toBe(400);
    expect(put.body).toMatchObject({ code: 'validation_failed', parameter: 'retainUntil' });
    expect(await world.stagedFiles()).toEqual([]);
  });

  it('lets only operators and admins set a legal hold, at upload too', async () => {
    const refused = await upload({ legalHold: 'true' });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('forbidden');
    const held = await store({ legalHold: 'true' }, operator);
    expect(held.legalHold).toBe(true);
    const mine = await store({});
    expect((await setHold(mine.id as string, true, alice)).status).toBe(403);
  });

  it('compliance refuses DELETE, the GC delete path and any shortening for everyone including admin; extending works', async () => {
    const until = inDays(10);
    const file = await store({ retainUntil: until, retentionMode: 'compliance' });
    const id = file.id as string;
    for (const token of [admin, operator]) {
      const res = await del(id, token);
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('retention_active');
    }
    // DELETE /api/v1/gc/{id} goes through this same function.
    await expect(requestDelete(world.api, { sub: 'admin-module', role: 'admin' }, id)).rejects.toMatchObject({ code: 'retention_active' });
    for (const [body, bypass] of [
      [{ retainUntil: inDays(5), retentionMode: 'compliance' }, 'true'],
      [{ retainUntil: null }, 'true'],
      [{ retainUntil: inDays(20), retentionMode: 'governance' }, 'true'],
      [{ retainUntil: inDays(20) }, undefined],
    ] as const) {
      const res = await setRetention(id, body, admin, bypass);
      expect(res.status, JSON.stringify(body)).toBe(409);
      expect(res.body.code).toBe('retention_active');
    }
    const later = inDays(40);
    const extended = await setRetention(id, { retainUntil: later, retentionMode: 'compliance' }, alice);
    expect(extended.status, extended.text).toBe(200);
    expect(extended.body).toMatchObject({ retainUntil: later, retentionMode: 'compliance', revision: 2 });
    expect(await readAttr(id)).toMatchObject({ retainUntil: later, retentionMode: 'compliance', revision: 2 });
    const wal = await world.api.db.walEntry.findMany({ where: { fileId: id, operation: 'file_update' } });
    expect(wal.map((w) => w.status)).toEqual(['committed']);
    expect((await request(world.app).get(`/api/v1/files/${id}/metadata`).set('Authorization', `Bearer ${alice}`)).status).toBe(200);
  });

  it('governance is extended by the owner, shortened or removed only by an admin with the bypass header', async () => {
    const file = await store({ retainUntil: inDays(10) });
    const id = file.id as string;
    expect(file.retentionMode).toBe('governance');
    expect((await del(id)).body.code).toBe('retention_active');
    expect((await setRetention(id, { retainUntil: inDays(12) }, alice)).status).toBe(200);
    expect((await setRetention(id, { retainUntil: inDays(1) }, alice)).body.code).toBe('retention_active');
    expect((await setRetention(id, { retainUntil: null }, operator, 'true')).status).toBe(403);
    expect((await setRetention(id, { retainUntil: null }, admin)).body.code).toBe('retention_active');
    expect((await setRetention(id, { retainUntil: null }, admin, 'false')).body.code).toBe('retention_active');
    expect((await setRetention(id, { retainUntil: null }, admin, 'maybe')).status).toBe(400);
    const other = await store({}, await world.token('user', 'bob'));
    expect((await setRetention(other.id as string, { retainUntil: inDays(1) }, alice)).status).toBe(403);
    const removed = await setRetention(id, { retainUntil: null }, admin, 'true');
    expect(removed.status, removed.text).toBe(200);
    expect(removed.body).toMatchObject({ retainUntil: null, retentionMode: null, revision: 3 });
    const deleted = await del(id);
    expect(deleted.status).toBe(202);
    expect((await world.waitForJob(deleted.body.id, admin)).state).toBe('committed');
  });

  it('a legal hold blocks deletion until it is released', async () => {
    const id = (await store({})).id as string;
    const held = await setHold(id, true);
    expect(held.status, held.text).toBe(200);
    expect(held.body).toMatchObject({ legalHold: true, revision: 2 });
    expect(await readAttr(id)).toMatchObject({ legalHold: true });
    const refused = await del(id);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('retention_active');
    await expect(requestDelete(world.api, { sub: 'admin-module', role: 'admin' }, id)).rejects.toMatchObject({ code: 'retention_active' });
    const released = await setHold(id, false, admin);
    expect(released.body).toMatchObject({ legalHold: false, revision: 3 });
    const deleted = await del(id);
    expect(deleted.status).toBe(202);
    expect((await world.waitForJob(deleted.body.id, admin)).state).toBe('committed');
  });

  it('a hold committed while a DELETE waits on the row is seen by that DELETE (the check is inside its transaction)', async () => {
    const id = (await store({})).id as string;
    let locked!: () => void;
    let release!: () => void;
    const rowLocked = new Promise<void>((r) => (locked = r));
    const gate = new Promise<void>((r) => (release = r));
    // The hold's writer, paused between its UPDATE (row lock taken) and its COMMIT.
    const hold = world.api.db.$transaction(async (tx) => {
      await tx.$executeRaw`UPDATE files SET legal_hold = true WHERE id = ${id}::uuid`;
      locked();
      await gate;
    }, { timeout: 20_000 });
    await rowLocked;
    const pending = del(id).then((r) => r);
    await until('the DELETE to wait for the row lock', async () => {
      const [row] = await world.api.db.$queryRaw<Array<{ n: number }>>`
        SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%SET deleted_at = now()%'`;
      return row!.n > 0;
    });
    release();
    await hold;
    const res = await pending;
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('retention_active');
    expect((await world.api.db.file.findUniqueOrThrow({ where: { id } })).deletedAt).toBeNull();
  });

  it('an expired retain-until no longer blocks deletion', async () => {
    const id = (await store({ retainUntil: inDays(1), retentionMode: 'compliance' })).id as string;
    // Time passing, as the database sees it.
    await world.api.db.file.update({ where: { id }, data: { retainUntil: new Date(Date.now() - 1_000) } });
    expect((await del(id)).status).toBe(202);
  });

  it('filters a search by expiresBefore and legalHold', async () => {
    const tag = `t${randomBytes(4).toString('hex')}`;
    const soon = await store({ tags: tag, retentionPolicy: 'temporary', ttlDays: '2' });
    const late = await store({ tags: tag, retentionPolicy: 'temporary', ttlDays: '9' });
    const held = await store({ tags: tag, legalHold: 'true' }, operator);
    await store({ tags: tag });
    const search = async (query: Record<string, string>) => {
      const res = await request(world.app).get('/api/v1/files/search').query({ tag, ...query }).set('Authorization', `Bearer ${alice}`);
      expect(res.status, res.text).toBe(200);
      return (res.body.items as Array<{ id: string }>).map((i) => i.id).sort();
    };
    expect(await search({ expiresBefore: inDays(5) })).toEqual([soon.id]);
    expect(await search({ expiresBefore: inDays(10) })).toEqual([soon.id, late.id].sort());
    expect(await search({ legalHold: 'true' })).toEqual([held.id]);
    expect(await search({ legalHold: 'false' })).toHaveLength(3);
    const bad = await request(world.app).get('/api/v1/files/search').query({ legalHold: 'maybe' }).set('Authorization', `Bearer ${alice}`);
    expect(bad.body).toMatchObject({ code: 'validation_failed', parameter: 'legalHold' });
  });
});
