// ioredis connection factories with the settings BullMQ needs on each side.
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';

/**
 * Workers block on Redis and must survive reconnects: maxRetriesPerRequest null (a finite value can
 * permanently kill a worker after an outage, bullmq#648).
 */
export function createWorkerConnection(config: Pick<Config, 'redisUrl'>): Redis {
  return new Redis(config.redisUrl, { maxRetriesPerRequest: null, enableReadyCheck: true });
}

/** Producers (the API) fail fast: an upload must not hang while Redis is away. */
export function createProducerConnection(config: Pick<Config, 'redisUrl'>, extra: RedisOptions = {}): Redis {
  return new Redis(config.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    ...extra,
  });
}

/** Resolves once the connection is ready, or rejects after timeoutMs. */
export async function waitForRedis(redis: Redis, timeoutMs = 10_000): Promise<void> {
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
