// GET / and GET /api/v1/capacity (SPEC §10): the stored-bytes running total after uploads, a dedup upload,
// deletes and blob GC, and after a rebuild; the health mapping. Capacity is element-wide: a database of its own.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capacityHealth } from '../../src/shared/domain/cluster-status.js';
import { rebuildIndex } from '../../src/shared/domain/index-rebuild.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

describe('cluster discovery and capacity', () => {
  let world: World;
  let user: string;
  let admin: string;

  beforeAll(async () => {
    world = await createWorld({
      worker: true,
      isolatedDatabase: true,
      env: {
        STORAGE_MAX_BYTES: '10000',
        STORAGE_LOCATION: 'dc-east/rack-7',
        STORAGE_PRIORITY: '20',
        GC_GRACE_SECONDS: '0',
        SCRUB_INTERVAL_HOURS: '0',
        CAPACITY_WARNING_PERCENT: '50',
        CAPACITY_WARNING_BYTES: '0',
        CAPACITY_CRITICAL_PERCENT: '20',
        CAPACITY_CRITICAL_BYTES: '0',
        CAPACITY_FULL_PERCENT: '5',
      },
    });
    user = await world.token('user', 'alice');
    admin = await world.token('admin', 'root');
  });
  afterAll(async () => world?.close());

  const capacity = async () => {
    const res = await request(world.app).get('/api/v1/capacity');
    expect(res.status).toBe(200);
    return res.body;
  };
  /** Waits for the capacity answer (read through a cache of up to a second) to show `used` bytes. */
  const usedBecomes = async (used: number) => {
    await until(`capacity used to be ${used}`, async () => (await capacity()).capacity.used === used);
    return capacity();
  };
  const upload = async (bytes: Buffer) => {
    const res = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${user}`).attach('file', bytes, 'c.bin');
    expect(res.status).toBe(201);
    return res.body.jobs[0].fileId as string;
  };
  const remove = async (fileId: string) => {
    const res = await request(world.app).delete(`/api/v1/files/${fileId}`).set('Authorization', `Bearer ${admin}`);
    expect(res.status).toBe(202);
    await world.waitForJob(res.body.id, admin);
  };

  it('GET / names the service, its version, mode and storage type, without a token', async () => {
    const res = await request(world.app).get('/');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      service: 'ArtStore Storage Element',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      mode: 'edit',
      storageType: 'local',
      status: 'ok',
    });
  });

  it('answers the capacity shape of SPEC §10 without a token, with location and priority (also in /info)', async () => {
    const body = await capacity();
    expect(body).toEqual({
      storageId: 'se-01',
      mode: 'edit',
      capacity: { total: 10000, used: 0, available: 10000, percentUsed: 0 },
      health: 'healthy',
      lastUpdate: expect.any(String),
      backend: 'local',
      location: 'dc-east/rack-7',
      priority: 20,
    });
    expect(Date.now() - Date.parse(body.lastUpdate)).toBeLessThan(60_000);
    const info = await request(world.app).get('/api/v1/info').set('Authorization', `Bearer ${user}`);
    expect(info.body).toMatchObject({ location: 'dc-east/rack-7', priority: 20 });
  });

  it('counts stored blob bytes: uploads add, a dedup upload does not, deletes do not until GC removes the blob', async () => {
    const a = randomBytes(3000);
    const aId = await upload(a);
    await upload(randomBytes(2000));
    let body = await usedBecomes(5000);
    expect(body.capacity).toEqual({ total: 10000, used: 5000, available: 5000, percentUsed: 50 });
    // Same bytes again: a second file, no second blob.
    const dupId = await upload(a);
    expect(dupId).not.toBe(aId);
    expect((await capacity()).capacity.used).toBe(5000);
    // One of two references gone: the blob stays.
    await remove(aId);
    expect((await capacity()).capacity.used).toBe(5000);
    // The last one: the blob is collected once its grace (0 s here) has passed, and only then stops counting.
    await remove(dupId);
    body = await usedBecomes(2000);
    expect(body.capacity).toMatchObject({ used: 2000, available: 8000, percentUsed: 20 });
    const [row] = await world.api.db.$queryRaw<Array<{ n: bigint }>>`SELECT count(*)::bigint AS n FROM blobs`;
    expect(Number(row!.n)).toBe(1);
  });

  it('reads the running total, not a sum over blobs, and a full rebuild recomputes it', async () => {
    // A total that drifted (a hand edit, a restore of one table): the answer follows the total...
    await world.api.db.$executeRaw`UPDATE storage_usage SET used_bytes = used_bytes + 777 WHERE slot = 5`;
    await usedBecomes(2777);
    const service = await world.token('operator', 'admin-module', { type: 'service_account' });
    const rebuild = await request(world.app).post('/api/v1/index/rebuild').set('Authorization', `Bearer ${service}`).send({ mode: 'full' });
    expect(rebuild.status).toBe(200);
    expect(rebuild.body.storageUsage).toEqual({ usedBytes: 2000, blobCount: 1 });
    // ...until the rebuild sets it from the blob rows again.
    await usedBecomes(2000);
    // rebuild-index --wipe: TRUNCATE fires no DELETE trigger, yet the total comes back right.
    await world.api.db.$executeRaw`UPDATE storage_usage SET used_bytes = used_bytes + 555 WHERE slot = 9`;
    const report = await rebuildIndex({ db: world.api.db, config: world.config, blobStore: world.api.blobStore, logger: world.api.logger }, { wipe: true });
    // The two deleted files' tombstones name a collected blob: skipped.
    expect(report).toMatchObject({ wiped: true, filesRestored: 1, storageUsage: { usedBytes: 2000, blobCount: 1 } });
    const [usage] = await world.api.db.$queryRaw<Array<{ used: bigint }>>`SELECT sum(used_bytes)::bigint AS used FROM storage_usage`;
    expect(Number(usage!.used)).toBe(2000);
  });

  it('maps the capacity status to health: degraded past warning, unhealthy when full', async () => {
    expect(capacityHealth('ok')).toBe('healthy');
    expect(capacityHealth('warning')).toBe('degraded');
    expect(capacityHealth('critical')).toBe('degraded');
    expect(capacityHealth('full')).toBe('unhealthy');
    // 2000 of 10000 stored: 80 % free, healthy. 7000: 30 % free, under the 50 % warning line.
    expect((await capacity()).health).toBe('healthy');
    await upload(randomBytes(5000));
    const degraded = await usedBecomes(7000);
    expect(degraded.health).toBe('degraded');
    // 9600: 4 % free, under the 5 % full line.
    await upload(randomBytes(2600));
    const full = await usedBecomes(9600);
    expect(full.health).toBe('unhealthy');
  });
});
