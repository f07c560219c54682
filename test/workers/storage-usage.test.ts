// The stored-bytes running total (storage_usage, kept by triggers on blobs) under concurrent commits: uploads of
// the same bytes racing each other, then deletions and blob GC, leave it equal to the sum over the blob rows.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

describe('storage usage running total', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true, env: { GC_GRACE_SECONDS: '0', SCRUB_INTERVAL_HOURS: '0', MAX_CONCURRENT_UPLOADS_PER_PRINCIPAL: '64', MAX_STREAMS_PER_PRINCIPAL: '64' } });
  });
  afterAll(async () => world?.close());

  const totals = async () => {
    const [row] = await world.api.db.$queryRaw<Array<{ counted: bigint | null; blobs: bigint | null; summed: bigint | null; rows: bigint }>>`
      SELECT (SELECT sum(used_bytes) FROM storage_usage)::bigint AS counted, (SELECT sum(blob_count) FROM storage_usage)::bigint AS blobs,
             (SELECT sum(size) FROM blobs)::bigint AS summed, (SELECT count(*) FROM blobs)::bigint AS rows`;
    return { counted: Number(row!.counted ?? 0n), blobs: Number(row!.blobs ?? 0n), summed: Number(row!.summed ?? 0n), rows: Number(row!.rows) };
  };

  it('matches the blob rows after racing duplicate uploads, and drops to 0 once every blob is collected', async () => {
    const token = await world.token('user', 'alice');
    const admin = await world.token('admin', 'root');
    const contents = Array.from({ length: 8 }, (_, i) => randomBytes(1000 + i * 100));
    // Each content three times, all at once: commits of the same blob race in different transactions.
    const answers = await Promise.all(
      contents.flatMap((bytes) => [0, 1, 2].map(() =>
        request(world.app).post('/api/v1/files/upload?wait=30').set('Authorization', `Bearer ${token}`).attach('file', bytes, 'u.bin'))),
    );
    expect(answers.every((a) => a.status === 201)).toBe(true);
    const expected = contents.reduce((n, b) => n + b.length, 0);
    expect(await totals()).toEqual({ counted: expected, blobs: 8, summed: expected, rows: 8 });

    const deletions = await Promise.all(
      answers.map((a) => request(world.app).delete(`/api/v1/files/${a.body.jobs[0].fileId}`).set('Authorization', `Bearer ${admin}`)),
    );
    expect(deletions.every((d) => d.status === 202)).toBe(true);
    await until('every blob to be collected', async () => (await totals()).rows === 0, 30_000, 100);
    expect(await totals()).toEqual({ counted: 0, blobs: 0, summed: 0, rows: 0 });
  });
});
