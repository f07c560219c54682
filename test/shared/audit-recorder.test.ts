// The API's audit recorder (downloads, refusals): bounded while the database stalls, so memory cannot grow without
// limit behind a slow append (AUDIT_BUFFER_MAX counts the events of flushes still waiting, not only the buffer).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditRecorder } from '../../src/shared/domain/audit-recorder.js';
import { poolOf } from '../../src/shared/records/database.js';
import { createWorld, type World } from '../helpers/world.js';

describe('AuditRecorder', () => {
  let world: World;
  beforeAll(async () => {
    world = await createWorld({ isolatedDatabase: true });
  });
  afterAll(async () => world?.close());

  it('drops events past bufferMax while earlier flushes wait on the chain lock, and writes the rest afterwards', async () => {
    const dropped: string[] = [];
    const recorder = new AuditRecorder(world.api.db, { reads: true, deniedPerSecond: 100, bufferMax: 5 }, world.api.logger, {
      inc: ({ reason }) => dropped.push(reason),
    });
    const by = { sub: 'alice', role: 'user' as const, requestId: 'r', clientAddress: '127.0.0.1' };
    const file = { id: '00000000-0000-4000-8000-000000000001', sha256: 'a'.repeat(64) };
    const download = () => recorder.download(by, file, { status: 200, range: null, bytes: 1 });

    // Another transaction holds the chain head: every append waits, as behind a stalled database.
    const holder = await poolOf(world.api.db).connect();
    await holder.query('BEGIN');
    await holder.query('SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE');
    const flushes: Array<Promise<void>> = [];
    try {
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 5; i++) download();
        flushes.push(recorder.flush());
      }
      // The first five wait in their flush; the fifteen after them find the recorder full.
      expect(dropped).toEqual(Array(15).fill('buffer'));
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    await Promise.all(flushes);
    expect(await world.api.db.auditEvent.count({ where: { action: 'download' } })).toBe(5);
    // Once appended, the room is back.
    download();
    await recorder.close();
    expect(await world.api.db.auditEvent.count({ where: { action: 'download' } })).toBe(6);
  });
});
