// GET /api/v1/audit (SPEC §11): who sees which events, filters and keyset paging; auth_denied rate-limited.
import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueue } from '../../src/shared/queues.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

describe('GET /api/v1/audit', () => {
  let world: World;
  let alice: string;
  let bob: string;
  let operator: string;
  let aliceFile: string;
  let bobFile: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { AUDIT_DENIED_PER_SECOND: '3' } });
    [alice, bob, operator] = await Promise.all([world.token('user', 'alice'), world.token('user', 'bob'), world.token('operator', 'olga')]);
    const store = async (token: string) => {
      const res = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${token}`).attach('file', randomBytes(64), 'x.bin');
      expect(res.status).toBe(201);
      return res.body.jobs[0].fileId as string;
    };
    aliceFile = await store(alice);
    bobFile = await store(bob);
    for (let i = 0; i < 4; i++) {
      const res = await request(world.app).patch(`/api/v1/files/${aliceFile}/metadata`).set('Authorization', `Bearer ${alice}`).send({ description: `v${i}` });
      expect(res.status).toBe(200);
    }
  });
  afterAll(async () => world?.close());

  const audit = (token: string, query = '') => request(world.app).get(`/api/v1/audit${query}`).set('Authorization', `Bearer ${token}`);

  it('shows an operator every event, newest first, and filters by file, actor and action', async () => {
    const all = await audit(operator);
    expect(all.status).toBe(200);
    const seqs = (all.body.items as Array<{ seq: string }>).map((e) => BigInt(e.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => (a > b ? -1 : 1)));
    expect((await audit(operator, `?fileId=${bobFile}`)).body.items.map((e: { actorSub: string }) => e.actorSub)).toEqual(['bob']);
    const updates = await audit(operator, '?actor=alice&action=metadata_update');
    expect(updates.body.items).toHaveLength(4);
    expect(await audit(operator, '?action=nope')).toMatchObject({ status: 400 });
  });

  it('pages with a cursor until nextCursor is null, each event once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await audit(operator, `?fileId=${aliceFile}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((e: { seq: string }) => e.seq));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(5);
  });

  it('refuses a cursor past the largest seq with 400, not a database error', async () => {
    expect(await audit(operator, '?cursor=9223372036854775807')).toMatchObject({ status: 200 });
    const res = await audit(operator, '?cursor=9999999999999999999');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'validation_failed', parameter: 'cursor' });
  });

  it('shows a user only the events of its own files, and refuses readonly', async () => {
    const mine = await audit(bob);
    expect(mine.status).toBe(200);
    expect(mine.body.items.map((e: { fileId: string }) => e.fileId)).toEqual([bobFile]);
    expect((await audit(bob, `?fileId=${aliceFile}`)).body.items).toEqual([]);
    expect((await audit(await world.token('readonly', 'rita'))).status).toBe(403);
  });

  it("does not show a user another principal's failed upload that used the same client-chosen file id", async () => {
    const id = randomUUID();
    const failed = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${alice}`)
      .field('fileId', id).field('sha256', '0'.repeat(64)).attach('file', randomBytes(64), 'secret-plan.bin');
    expect((await world.waitForJob(failed.body.jobs[0].id, alice)).state).toBe('failed');
    const stored = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${bob}`)
      .field('fileId', id).attach('file', randomBytes(64), 'mine.bin');
    expect(stored.status).toBe(201);
    expect((await audit(operator, `?fileId=${id}`)).body.items.map((e: { actorSub: string }) => e.actorSub)).toEqual(['bob', 'alice']);
    const mine = await audit(bob, `?fileId=${id}`);
    expect(mine.body.items.map((e: { actorSub: string; outcome: string }) => [e.actorSub, e.outcome])).toEqual([['bob', 'success']]);
  });

  it('records at most AUDIT_DENIED_PER_SECOND refusals a second and counts the rest as dropped', async () => {
    const before = await world.api.db.auditEvent.count({ where: { action: 'auth_denied', requestId: { startsWith: 'flood-' } } });
    expect(before).toBe(0);
    for (let i = 0; i < 12; i++) expect((await request(world.app).get('/api/v1/info').set('X-Request-Id', `flood-${i}`)).status).toBe(401);
    await world.api.audit.flush();
    const recorded = await world.api.db.auditEvent.count({ where: { action: 'auth_denied', requestId: { startsWith: 'flood-' } } });
    const metrics = await world.api.registry.getSingleMetricAsString('artstore_audit_events_dropped_total');
    const dropped = Number(/reason="rate"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0);
    // Twelve refusals within at most a few one-second windows of three each.
    expect(recorded).toBeGreaterThanOrEqual(1);
    expect(recorded).toBeLessThan(12);
    expect(recorded + dropped).toBe(12);
    expect(dropped).toBeGreaterThan(0);
    const head = await world.api.db.auditHead.findUniqueOrThrow({ where: { id: 1 } });
    expect(await world.api.registry.getSingleMetricAsString('artstore_audit_events')).toMatch(new RegExp(`artstore_audit_events\\{[^}]*\\} ${head.seq}\\b`));
  });

  it('signs a checkpoint of the verified chain head when the audit-checkpoint job runs', async () => {
    await enqueue(world.api.queues, world.config, 'audit-checkpoint', [{ id: 'checkpoint-now', payload: { reason: 'manual' } }]);
    await until('a signed checkpoint', async () => (await world.api.db.auditCheckpoint.count()) === 1, 15_000);
    const [checkpoint] = await world.api.db.auditCheckpoint.findMany();
    const head = await world.api.db.auditHead.findUniqueOrThrow({ where: { id: 1 } });
    expect(checkpoint!.seq).toBeLessThanOrEqual(head.seq);
    expect(checkpoint!.jws.split('.')).toHaveLength(3);
    expect(await world.worker!.registry.getSingleMetricAsString('artstore_audit_verifications_total')).toMatch(/result="intact"[^}]*\} 1/);
  });
});
