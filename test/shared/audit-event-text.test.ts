// Texts an audit event clips (a failed job's message, a scrub finding's detail) are cut without splitting a
// surrogate pair: jsonb refuses an unpaired half, and the append (with the change it records) would fail with it.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixityFailureEvent } from '../../src/shared/domain/audit-events.js';
import { appendAuditEventsAlone } from '../../src/shared/records/audit-events.js';
import { jobFailureEvent } from '../../src/shared/records/audit-job-events.js';
import { createWorld, type World } from '../helpers/world.js';

describe('audit event texts', () => {
  let world: World;
  beforeAll(async () => {
    world = await createWorld({ isolatedDatabase: true });
  });
  afterAll(async () => world?.close());

  it('records a failure whose message has an emoji across the 500-character cut', async () => {
    const message = `${'x'.repeat(499)}\u{1F600} and more`;
    const job = { id: randomUUID(), fileId: randomUUID(), principal: 'alice', principalName: null, params: {} };
    const scrub = fixityFailureEvent('a'.repeat(64), 'unreadable', message, []);
    await appendAuditEventsAlone(world.api.db, [jobFailureEvent(job, 'file_create', 'internal', message), scrub]);
    const rows = await world.api.db.auditEvent.findMany({ orderBy: { seq: 'asc' } });
    expect(rows.map((r) => (r.details as { message?: string; detail?: string }).message ?? (r.details as { detail: string }).detail)).toEqual(['x'.repeat(499), 'x'.repeat(499)]);
  });
});
