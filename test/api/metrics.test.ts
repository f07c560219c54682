// GET /metrics: METRICS_TOKEN closes it; the scrape-time gauges read the database once per METRICS_CACHE_MS, shared
// by concurrent scrapes, and count only pending WAL entries through an index.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../../src/shared/records/database.js';
import { sharedRead } from '../../src/shared/metrics.js';
import { PENDING_WAL_ENTRIES } from '../../src/shared/records/wal.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

const TOKEN = 'scrape-token-0123456789abcdef';

function pendingGauge(text: string, operation: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`artstore_wal_entries{operation="${operation}",status="pending"`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('GET /metrics', () => {
  let world: World;
  const walEntry = (status: string, operation = 'file_create') =>
    world.api.db.walEntry.create({ data: { txId: randomUUID(), operation, status, jobId: randomUUID() } });

  beforeAll(async () => {
    // Its own database: the pending count must not see other test files' ingests. A long cache: the test decides.
    world = await createWorld({ isolatedDatabase: true, env: { METRICS_TOKEN: TOKEN, METRICS_CACHE_MS: '300000' } });
    // Before the first scrape, which fills the cache for the rest of the file.
    await walEntry('committed');
    await walEntry('rolled_back', 'file_delete');
    await walEntry('pending');
  });
  afterAll(async () => world?.close());


  it('answers 401 without the METRICS_TOKEN bearer token, and the text with it', async () => {
    for (const auth of [undefined, 'Bearer wrong-token-0123456789abcdef', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      const req = request(world.app).get('/metrics');
      const res = await (auth ? req.set('Authorization', auth) : req);
      expect(res.status, auth ?? 'anonymous').toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.body.code).toBe('unauthorized');
      expect(res.text).not.toContain('artstore_');
    }
    const ok = await request(world.app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('artstore_http_requests_total');
  });

  it('reports pending WAL entries only, and reuses one count for METRICS_CACHE_MS', async () => {
    const scrape = async () => (await request(world.app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`)).text;
    const first = await scrape();
    expect(pendingGauge(first, 'file_create')).toBe(1);
    expect(first).not.toMatch(/artstore_wal_entries\{[^}]*status="(committed|rolled_back)"/);
    expect(first).not.toMatch(/artstore_wal_entries\{operation="file_delete"/);

    // Within the cache window a new entry is not seen: the scrape did not query again.
    await walEntry('pending');
    expect(pendingGauge(await scrape(), 'file_create')).toBe(1);
  });

  it('counts through an index condition on status, not a scan of the table', async () => {
    const plan = await world.api.db.$transaction(async (tx) => {
      // The test table is tiny, where a sequential scan is cheapest; the question is whether an index can serve it.
      await tx.$executeRaw`SET LOCAL enable_seqscan = off`;
      return tx.$queryRaw<Array<{ 'QUERY PLAN': string }>>(Prisma.sql`EXPLAIN ${PENDING_WAL_ENTRIES}`);
    });
    const text = plan.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toMatch(/Index Cond: \(status = 'pending'::text\)/);
    expect(text).not.toMatch(/Seq Scan/);
  });

  it('lets concurrent scrapes share one query', async () => {
    // Whoever scrapes while a count runs waits for that count. The table is locked so the count cannot finish,
    // and PostgreSQL itself shows how many counts are waiting.
    const scraper = await createWorld({ isolatedDatabase: true, env: { METRICS_CACHE_MS: '0' } });
    const locker = new pg.Client({ connectionString: scraper.config.databaseUrl });
    // Outside the locking transaction: inside one, pg_stat_activity would be a snapshot taken at its first read.
    const observer = new pg.Client({ connectionString: scraper.config.databaseUrl });
    await Promise.all([locker.connect(), observer.connect()]);
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE wal_entries IN ACCESS EXCLUSIVE MODE');
      const scrapes = Array.from({ length: 8 }, () => request(scraper.app).get('/metrics').then((r) => r));
      const waitingCounts = async () =>
        Number(
          (
            await observer.query<{ n: string }>(
              `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FROM wal_entries WHERE status = ''pending''%'`,
            )
          ).rows[0]!.n,
        );
      await until('a scrape to wait on the lock', async () => (await waitingCounts()) > 0, 10_000, 20);
      // The other seven scrapes are sent at the same time; give them the moment a second count would need to show up
      // (a fixed window on purpose: the assertion is that nothing more happens within it).
      const window = Date.now() + 500;
      let most = 0;
      while (Date.now() < window) {
        most = Math.max(most, await waitingCounts());
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(most).toBe(1);
      await locker.query('ROLLBACK');
      const answers = await Promise.all(scrapes);
      expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
    } finally {
      await Promise.all([locker.end(), observer.end()]);
      await scraper.close();
    }
  });
});

describe('sharedRead', () => {
  it('runs one read for concurrent callers and reuses it until the time to live passes', async () => {
    let clock = 1_000;
    let reads = 0;
    let release!: () => void;
    const read = sharedRead(
      () =>
        new Promise<number>((resolve) => {
          reads += 1;
          release = () => resolve(reads);
        }),
      5_000,
      () => clock,
    );
    const concurrent = Array.from({ length: 10 }, () => read());
    release();
    expect(await Promise.all(concurrent)).toEqual(Array(10).fill(1));
    clock += 4_999;
    expect(await read()).toBe(1);
    clock += 1;
    const later = read();
    release();
    expect(await later).toBe(2);
    expect(reads).toBe(2);
  });

  it('does not keep a failed read', async () => {
    let calls = 0;
    const read = sharedRead(async () => {
      calls += 1;
      if (calls === 1) throw new Error('database unavailable');
      return calls;
    }, 60_000);
    await expect(read()).rejects.toThrow('database unavailable');
    expect(await read()).toBe(2);
  });
});
