// WAL compaction (SPEC §11): settled entries past WAL_RETENTION_DAYS go in bounded batches; pending and recent stay.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactWal, WAL_COMPACTION_BATCH } from '../../src/shared/domain/wal-compaction.js';
import { Prisma } from '../../src/shared/records/database.js';
import { PENDING_WAL_ENTRIES } from '../../src/shared/records/wal.js';
import { createWorld, type World } from '../helpers/world.js';

describe('WAL compaction', () => {
  let world: World;
  beforeAll(async () => {
    world = await createWorld({ isolatedDatabase: true, env: { WAL_RETENTION_DAYS: '30' } });
  });
  afterAll(async () => world?.close());

  const DAY = 86_400_000;

  async function entries(status: string, ageDays: number, n: number, operation = 'file_update'): Promise<void> {
    const at = new Date(Date.now() - ageDays * DAY);
    await world.api.db.walEntry.createMany({
      data: Array.from({ length: n }, () => ({ txId: randomUUID(), operation, status, startedAt: at, completedAt: status === 'pending' ? null : at })),
    });
  }

  it('removes committed and rolled-back entries older than the retention, in batches, and keeps the rest', async () => {
    await entries('committed', 40, WAL_COMPACTION_BATCH + 250);
    await entries('rolled_back', 31, 10);
    await entries('pending', 90, 3);
    await entries('failed', 90, 2);
    await entries('committed', 5, 7);
    expect(await compactWal(world.api)).toBe(WAL_COMPACTION_BATCH + 260);
    const left = await world.api.db.walEntry.groupBy({ by: ['status'], _count: true, orderBy: { status: 'asc' } });
    expect(left.map((g) => [g.status, g._count])).toEqual([['committed', 7], ['failed', 2], ['pending', 3]]);
    expect(await compactWal(world.api)).toBe(0);
  });

  it('does nothing with WAL_RETENTION_DAYS=0', async () => {
    await entries('committed', 400, 5);
    expect(await compactWal({ db: world.api.db, config: { walRetentionDays: 0 } })).toBe(0);
  });

  it('reads pending entries through the (status, started_at) index', async () => {
    await entries('committed', 1, 3_000);
    await world.api.db.$executeRawUnsafe('ANALYZE wal_entries');
    // The metrics' own statement, not a copy of it.
    const analyzed = await world.api.db.$queryRaw<Array<{ 'QUERY PLAN': string }>>(Prisma.sql`EXPLAIN ${PENDING_WAL_ENTRIES}`);
    expect(analyzed.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/wal_entries_status_started_at_idx/);
  });
});
