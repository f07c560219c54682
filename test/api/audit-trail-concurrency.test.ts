// Audit trail under concurrency (SPEC §11): two API processes and a worker append at once; the chain stays linear
// (every event chained to the one before, seq without gaps) and audit:verify passes after 1,000 mixed operations.
import { randomBytes } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { openApiContext, type ApiContext } from '../../src/api/context.js';
import { verifyAuditTrail } from '../../src/shared/domain/audit-checkpoints.js';
import { createLogger } from '../../src/shared/logger.js';
import { createWorld, type World } from '../helpers/world.js';

/** Runs tasks with at most `limit` in flight. */
async function inParallel(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < tasks.length) await tasks[next++]!();
  }));
}

describe('audit chain with two API processes and a worker', () => {
  let world: World;
  let second: ApiContext;
  let app2: Express;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { AUDIT_READS: 'true', AUDIT_DENIED_PER_SECOND: '100000' } });
    second = await openApiContext(world.config, createLogger(world.config, 'test'));
    app2 = createApp(second);
  });
  afterAll(async () => {
    await second?.close();
    await world?.close();
  });

  it('keeps the chain linear through 1,000 mixed operations', { timeout: 180_000 }, async () => {
    const alice = await world.token('user', 'alice');
    const files: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${alice}`).attach('file', randomBytes(2_000), `f${i}.bin`);
      expect(res.status).toBe(201);
      files.push(res.body.jobs[0].fileId);
    }
    const apps = [world.app, app2];
    const tasks: Array<() => Promise<void>> = [];
    for (let i = 0; i < 1_000; i++) {
      const app = apps[i % 2]!;
      const file = files[i % files.length]!;
      const kind = i % 4;
      tasks.push(async () => {
        if (kind < 2) {
          // Patches of the same files race each other: each still ends (applied or 412) with exactly one event.
          const res = await request(app).patch(`/api/v1/files/${file}/metadata`).set('Authorization', `Bearer ${alice}`).send({ description: `d${i}` });
          expect([200, 412]).toContain(res.status);
        } else if (kind === 2) {
          expect((await request(app).get(`/api/v1/files/${file}`).set('Authorization', `Bearer ${alice}`).set('Range', 'bytes=0-9')).status).toBe(206);
        } else {
          expect((await request(app).get('/api/v1/info')).status).toBe(401);
        }
      });
    }
    await inParallel(tasks, 12);
    await Promise.all([world.api.audit.flush(), second.audit.flush()]);

    const byAction = await world.api.db.auditEvent.groupBy({ by: ['action'], _count: true, orderBy: { action: 'asc' } });
    expect(byAction.map((g) => [g.action, g._count])).toEqual([['auth_denied', 250], ['download', 250], ['ingest', 4], ['metadata_update', 500]]);
    const verdict = await verifyAuditTrail({ db: world.api.db, config: world.config, logger: world.api.logger });
    expect(verdict).toMatchObject({ intact: true, events: 1_004n });
  });
});
