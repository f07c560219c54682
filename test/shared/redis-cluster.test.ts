// The Redis factories on a Redis Cluster: a Cluster for REDIS_CLUSTER_NODES, any node as first contact, MOVED
// followed after a slot moves, and a readiness probe that notices the prefix's node is gone.
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/shared/config.js';
import { createProducerConnection, createWorkerConnection, probeRedis, waitForRedis, type RedisConnection } from '../../src/shared/redis.js';
import { isOutageError } from '../../src/shared/outage.js';
import { freePort } from '../helpers/processes.js';
import { ownerOfKey, redisClusterUnavailable, startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';

const missing = redisClusterUnavailable();
const PREFIX = '{artstore-unit}';

async function node(port: number): Promise<Redis> {
  return quiet(new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 }));
}

/** Connection errors are expected here (a node is shut down on purpose): the assertions say what matters. */
function quiet<C extends RedisConnection>(connection: C): C {
  connection.on('error', () => undefined);
  return connection;
}

/** Moves slot (and its keys) from one master to another, the way a resharding does, telling every node. */
async function moveSlot(cluster: RedisCluster, slot: number, from: number, to: number): Promise<void> {
  const [source, target] = [await node(from), await node(to)];
  const all = await Promise.all(cluster.ports.map(node));
  try {
    const [sourceId, targetId] = [String(await source.cluster('MYID')), String(await target.cluster('MYID'))];
    await target.cluster('SETSLOT', slot, 'IMPORTING', sourceId);
    await source.cluster('SETSLOT', slot, 'MIGRATING', targetId);
    const keys = (await source.cluster('GETKEYSINSLOT', slot, 1000)) as string[];
    if (keys.length > 0) await source.migrate('127.0.0.1', to, '', 0, 5_000, 'KEYS', ...keys);
    for (const n of all) await n.cluster('SETSLOT', slot, 'NODE', targetId);
  } finally {
    for (const n of [source, target, ...all]) n.disconnect();
  }
}

describe.skipIf(missing)(`Redis factories on a Redis Cluster${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let cluster: RedisCluster;
  let owner: number;
  let others: number[];
  const open: RedisConnection[] = [];
  const configFor = (nodes: string): Config => loadConfig({ NODE_ENV: 'test', REDIS_CLUSTER_NODES: nodes, QUEUE_PREFIX: PREFIX });

  beforeAll(async () => {
    cluster = await startRedisCluster();
    owner = await ownerOfKey(cluster, `${PREFIX}:x`);
    others = cluster.ports.filter((p) => p !== owner);
  });
  afterAll(async () => {
    for (const c of open) c.disconnect();
    await cluster?.close();
  });

  it('returns a plain Redis without REDIS_CLUSTER_NODES and a Cluster with it, on both sides', () => {
    const plain = loadConfig({ NODE_ENV: 'test' });
    const clustered = configFor(cluster.nodes);
    const made = [createProducerConnection(plain), createWorkerConnection(plain), createProducerConnection(clustered), createWorkerConnection(clustered)].map(quiet);
    open.push(...made);
    expect(made.map((c) => c instanceof Cluster)).toEqual([false, false, true, true]);
    expect(made.every((c) => c instanceof Redis || c instanceof Cluster)).toBe(true);
    // BullMQ needs a blocking connection that never gives up a command; producers fail fast.
    expect((made[3] as Cluster).options.redisOptions?.maxRetriesPerRequest).toBeNull();
    expect((made[2] as Cluster).options.enableOfflineQueue).toBe(false);
    expect((made[2] as Cluster).options.redisOptions?.maxRetriesPerRequest).toBe(1);
  });

  it('fails fast with an outage error when no listed node answers', async () => {
    const connection = quiet(createProducerConnection(configFor(`127.0.0.1:${await freePort()}`)));
    open.push(connection);
    const started = Date.now();
    const err = await connection.set(`${PREFIX}:nobody`, '1').then(() => null, (e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(isOutageError(err), String(err)).toBe(true);
  });

  it('works when the only node given is not the one that serves the prefix', async () => {
    const config = configFor(`127.0.0.1:${others[0]}`);
    for (const connection of [createProducerConnection(config), createWorkerConnection(config)].map(quiet)) {
      open.push(connection);
      await waitForRedis(connection);
      await connection.set(`${PREFIX}:first-contact`, 'yes');
      expect(await connection.get(`${PREFIX}:first-contact`)).toBe('yes');
      await probeRedis(connection, PREFIX);
    }
    const direct = await node(owner);
    expect(await direct.get(`${PREFIX}:first-contact`)).toBe('yes');
    direct.disconnect();
  });

  it('follows MOVED when the prefix slot moves to another node after it connected', async () => {
    const connection = quiet(createProducerConnection(configFor(`127.0.0.1:${others[1]}`)));
    open.push(connection);
    await waitForRedis(connection);
    await connection.set(`${PREFIX}:moved`, 'before');
    const slot = Number(await connection.cluster('KEYSLOT', `${PREFIX}:moved`));
    await moveSlot(cluster, slot, owner, others[0]!);
    expect(await ownerOfKey(cluster, `${PREFIX}:moved`)).toBe(others[0]);

    // The client still maps the slot to the old owner: it is answered MOVED and follows.
    expect(await connection.get(`${PREFIX}:moved`)).toBe('before');
    await connection.set(`${PREFIX}:moved`, 'after');
    const target = await node(others[0]!);
    expect(await target.get(`${PREFIX}:moved`)).toBe('after');
    target.disconnect();
    owner = others[0]!;
    others = cluster.ports.filter((p) => p !== owner);
  });

  it('probes the node that serves the prefix: unavailable once it is gone, though other nodes still answer PING', async () => {
    const connection = quiet(createProducerConnection(configFor(cluster.nodes)));
    open.push(connection);
    await waitForRedis(connection);
    await probeRedis(connection, PREFIX);
    const ownerNode = await node(owner);
    await ownerNode.shutdown('NOSAVE').catch(() => undefined);
    ownerNode.disconnect();

    const started = Date.now();
    const err = await probeRedis(connection, PREFIX).then(() => null, (e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    // What a request or job meets then is an outage (503, retried), not an internal error.
    expect(isOutageError(err), String(err)).toBe(true);
    const survivor = await node(others[0]!);
    expect(await survivor.ping()).toBe('PONG');
    survivor.disconnect();
  });
});
