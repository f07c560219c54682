// ioredis connection factories with the settings BullMQ needs on each side: one plain Redis, or a Redis Cluster
// when REDIS_CLUSTER_NODES is set (SPEC §8).
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';

/**
 * Every Redis connection the element holds. Both kinds run the same commands; on a cluster a multi-key command,
 * MULTI or Lua script works only while its keys share a slot, which QUEUE_PREFIX's hash tag guarantees for every
 * key the element writes (they all start with the prefix).
 */
export type RedisConnection = Redis | Cluster;

export type RedisConfig = Pick<Config, 'redisUrl'> & Partial<Pick<Config, 'redisClusterNodes'>>;

/**
 * A Cluster for REDIS_CLUSTER_NODES (any listed node may be the first contact: ioredis asks it for the slot map and
 * follows MOVED/ASK redirects), else a plain Redis on REDIS_URL. `node` holds the options of each node connection,
 * `cluster` those of the Cluster itself, as ioredis splits them: a cluster keeps its own offline queue and its own
 * reconnect strategy, and never reconnects a single node (it reloads the slot map instead).
 */
function connect(config: RedisConfig, node: RedisOptions, cluster: Omit<ClusterOptions, 'redisOptions'>): RedisConnection {
  const nodes = config.redisClusterNodes;
  if (!nodes) return new Redis(config.redisUrl, { ...node, ...cluster });
  return new Cluster(
    nodes.map(({ host, port }) => ({ host, port })),
    { ...cluster, redisOptions: node },
  );
}

/**
 * Workers block on Redis and must survive reconnects: maxRetriesPerRequest null (a finite value can
 * permanently kill a worker after an outage, bullmq#648; BullMQ refuses a blocking Cluster connection whose
 * redisOptions set one). A cluster's default clusterRetryStrategy never gives up either.
 */
export function createWorkerConnection(config: RedisConfig): RedisConnection {
  return connect(config, { maxRetriesPerRequest: null }, { enableReadyCheck: true });
}

/**
 * Producers (the API) fail fast: an upload must not hang while Redis is away. On a cluster the offline queue is the
 * Cluster's (its node connections always queue until they connect), and a command to a slot whose node is down is
 * retried for at most maxRedirections x retryDelayOnFailover/retryDelayOnClusterDown (16 x 100 ms) before it fails.
 */
export function createProducerConnection(config: RedisConfig, extra: RedisOptions = {}): RedisConnection {
  const { enableOfflineQueue = false, ...node } = extra;
  return connect(config, { maxRetriesPerRequest: 1, connectTimeout: 5_000, ...node }, { enableOfflineQueue });
}

/** Resolves once the connection is ready, or rejects after timeoutMs. */
export async function waitForRedis(redis: RedisConnection, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms (${redis.status})`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/**
 * Whether Redis serves the element's keys. PING alone says little on a cluster: it goes to any node, and a node
 * answers it even while the cluster is down. A read of a key under the prefix reaches the node that owns the
 * prefix's slot, and fails (CLUSTERDOWN) while that slot is not served.
 */
export async function probeRedis(redis: RedisConnection, queuePrefix: string): Promise<void> {
  if (redis instanceof Cluster) await redis.exists(`${queuePrefix}:probe`);
  else await redis.ping();
}
