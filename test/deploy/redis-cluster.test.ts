// An element on a Redis Cluster (SPEC §8): an API and a worker process, each given another first-contact node, serve
// an ingest, status polls, a download, a delete, Bull Board, a scrub and a mode change; every key they write lands
// on the cluster under QUEUE_PREFIX (one slot, one node), none on the plain Redis.
import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendModeRow, inModeChangeTx } from '../../src/shared/records/element-state.js';
import { envFor, freePort, startService, type Service } from '../helpers/processes.js';
import { keysOn, ownerOfKey, redisClusterUnavailable, startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

const missing = redisClusterUnavailable();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.skipIf(missing)(`an element on a Redis Cluster${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let cluster: RedisCluster;
  let world: World;
  let prefix: string;
  let owner: number;
  let env: Record<string, string>;
  let base: string;
  let api: Service;
  let worker: Service | undefined;
  let user: string;
  let admin: string;
  const bytes = randomBytes(64 * 1024);
  let fileId: string;

  const call = (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { Authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });

  async function jobOf(jobId: string): Promise<Record<string, unknown>> {
    let body: Record<string, unknown> = {};
    await until(`job ${jobId} to be final`, async () => {
      const res = await call(`/api/v1/jobs/${jobId}`, admin);
      body = (await res.json()) as Record<string, unknown>;
      return ['committed', 'duplicate', 'failed'].includes(String(body.state));
    }, 30_000, 50);
    return body;
  }

  beforeAll(async () => {
    cluster = await startRedisCluster();
    prefix = `{artstore-cluster-${randomBytes(4).toString('hex')}}`;
    owner = await ownerOfKey(cluster, `${prefix}:x`);
    const [first, second] = cluster.ports.filter((p) => p !== owner);
    // The test's own API context knows every node; each child process only one that does not serve the prefix.
    world = await createWorld({ isolatedDatabase: true, env: { REDIS_CLUSTER_NODES: cluster.nodes, QUEUE_PREFIX: prefix, APP_MODE: 'edit' } });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = envFor(world.config, { PORT: String(port), REDIS_CLUSTER_NODES: `127.0.0.1:${first}` });
    api = await startService('api', env, 'api listening');
    env = { ...env, REDIS_CLUSTER_NODES: `127.0.0.1:${second}` };
    user = await world.token('user', 'alice');
    admin = await world.token('admin', 'root');
  }, 120_000);

  afterAll(async () => {
    for (const service of [api, worker]) {
      if (!service || service.child.exitCode !== null) continue;
      service.child.kill('SIGTERM');
      await service.exited;
    }
    await world?.close();
    await cluster?.close();
  });

  it('ingests an upload: queued on the cluster, its queue events followed, its status polled, its bytes served', async () => {
    // Queue events are read from the cluster before the worker starts, so none of the job's moves is missed.
    world.api.jobEvents.subscribe('warm-up', () => undefined);
    await world.api.jobEvents.ready();
    const form = new FormData();
    form.append('file', new Blob([bytes]), 'cluster.bin');
    const res = await call('/api/v1/files/upload', user, { method: 'POST', body: form });
    expect(res.status).toBe(202);
    const jobId = ((await res.json()) as { jobs: Array<{ id: string }> }).jobs[0]!.id;
    let moves = 0;
    // A small file rides its group's 'ingest-batch' BullMQ job: the events are that job's.
    const carrier = (await world.api.db.fileJob.findUniqueOrThrow({ where: { id: jobId } })).queueJobId ?? jobId;
    world.api.jobEvents.subscribe(carrier, () => moves++);

    worker = await startService('workers', env, 'worker started');
    const job = await jobOf(jobId);
    expect(job.state, worker.output()).toBe('committed');
    fileId = String(job.fileId);
    await until('the queue events of the job through the cluster', () => moves > 0);

    const list = await call(`/api/v1/jobs?ids=${jobId},00000000-0000-4000-8000-000000000000`, user);
    expect(list.status).toBe(200);
    expect(((await list.json()) as { jobs: Array<{ id: string; state: string }> }).jobs.map((j) => [j.id, j.state])).toEqual([[jobId, 'committed']]);

    const download = await call(`/api/v1/files/${fileId}`, user);
    expect(download.status).toBe(200);
    expect(sha(Buffer.from(await download.arrayBuffer()))).toBe(sha(bytes));
  });

  it('keeps admin sessions on the cluster and shows the queues in Bull Board', async () => {
    const signIn = await call('/admin/session', admin, { method: 'POST' });
    expect(signIn.status).toBe(204);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const board = await fetch(`${base}/admin/queues/api/queues`, { headers: { Cookie: cookie } });
    expect(board.status).toBe(200);
    const queues = ((await board.json()) as { queues: Array<{ name: string; counts: Record<string, number> }> }).queues;
    expect(queues.map((q) => q.name).sort()).toEqual(['files', 'ingest', 'maintenance']);
    expect(queues.find((q) => q.name === 'ingest')!.counts.completed).toBe(1);
  });

  it('deletes the file and announces it through the cluster to the other API process', async () => {
    const announced: unknown[] = [];
    const invalidate = world.api.servableFiles.invalidate.bind(world.api.servableFiles);
    world.api.servableFiles.invalidate = (change) => {
      announced.push(change);
      invalidate(change);
    };
    const res = await call(`/api/v1/files/${fileId}`, admin, { method: 'DELETE' });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    expect((await jobOf(id)).state).toBe('committed');
    await until('the file-change announcement', () => announced.some((c) => (c as { fileId?: string }).fileId === fileId));
    expect((await call(`/api/v1/files/${fileId}`, user)).status).toBe(404);
  });

  it('runs an integrity scrub, whose lock and checkpoint live on the cluster', async () => {
    const res = await call('/api/v1/admin/scrub', admin, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    let state = '';
    await until('the scrub job to finish', async () => {
      state = (await world.api.queues.maintenance.getJobState(jobId)) as string;
      return state === 'completed' || state === 'failed';
    }, 30_000, 50);
    const job = await world.api.queues.maintenance.getJob(jobId);
    expect(state, job?.failedReason).toBe('completed');
    expect(job!.returnvalue).toMatchObject({ resumeAfter: null });
  });

  it('reports Redis ready through the node that serves the prefix', async () => {
    const res = await fetch(`${base}/health/ready`);
    expect(await res.json()).toMatchObject({ checks: { redis: 'ok' } });
  });

  it('writes every key under QUEUE_PREFIX on the cluster, in one slot on one node, and none on the plain Redis', async () => {
    const byNode = await Promise.all(cluster.ports.map(async (port) => ({ port, keys: await keysOn(port) })));
    const onOwner = byNode.find((n) => n.port === owner)!.keys;
    expect(byNode.filter((n) => n.port !== owner).flatMap((n) => n.keys)).toEqual([]);
    expect(onOwner.filter((k) => !k.startsWith(`${prefix}:`))).toEqual([]);
    for (const family of ['ingest', 'files', 'maintenance', 'writer', 'admin-session']) {
      expect(onOwner.some((k) => k.startsWith(`${prefix}:${family}:`)), family).toBe(true);
    }

    const plain = new Redis(world.config.redisUrl);
    try {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await plain.scan(cursor, 'MATCH', `*${prefix.slice(1, -1)}*`, 'COUNT', 1000);
        cursor = next;
        found.push(...keys);
      } while (cursor !== '0');
      expect(found).toEqual([]);
    } finally {
      plain.disconnect();
    }
  });

  it('rides out an outage of the whole cluster: not ready meanwhile, and the same processes work again after it', async () => {
    const ready = async () => ((await fetch(`${base}/health/ready`).then((r) => r.json())) as { checks: { redis: string } }).checks.redis;
    await cluster.stop();
    await until('readiness to report Redis unavailable', async () => (await ready()) === 'unavailable', 10_000, 100);
    // Nothing persisted: the nodes come back empty, with their slots (as after a restart without persistence).
    await cluster.restart();
    await until('readiness to report Redis ok again', async () => (await ready()) === 'ok', 30_000, 100);

    const again = randomBytes(1024);
    const form = new FormData();
    form.append('file', new Blob([again]), 'after-outage.bin');
    const res = await call('/api/v1/files/upload', user, { method: 'POST', body: form });
    expect(res.status).toBe(202);
    const job = await jobOf(((await res.json()) as { jobs: Array<{ id: string }> }).jobs[0]!.id);
    expect(job.state, worker!.output()).toBe('committed');
    expect(worker!.child.exitCode).toBeNull();
  });

  it('announces a mode change to every API process through cluster pub/sub', async () => {
    // An edit element never changes mode; the operator made this one rw (a row, as APP_MODE's first one is).
    await inModeChangeTx(world.api.db, (tx) => appendModeRow(tx, { mode: 'rw', changedBy: 'test', reason: 'from edit to rw' }));
    await until('the API process to read mode rw', async () => {
      const info = (await (await call('/api/v1/info', admin)).json()) as { mode: string };
      return info.mode === 'rw';
    });
    let heard = 0;
    const invalidate = world.api.modes.invalidate.bind(world.api.modes);
    world.api.modes.invalidate = () => {
      heard++;
      invalidate();
    };
    const res = await call('/api/v1/mode', admin, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ mode: 'ro' }) });
    expect(res.status).toBe(200);
    await until('the mode change message on the other API process', () => heard > 0);
    expect(await world.api.modes.current()).toBe('ro');
    const form = new FormData();
    form.append('file', new Blob([randomBytes(16)]), 'refused.bin');
    const refused = await call('/api/v1/files/upload', user, { method: 'POST', body: form });
    expect(refused.status).toBe(409);
  });

  it('stops both processes cleanly on SIGTERM, closing their cluster connections', async () => {
    for (const service of [api, worker!]) {
      service.child.kill('SIGTERM');
      expect(await service.exited, service.output()).toBe(0);
    }
  });
});
