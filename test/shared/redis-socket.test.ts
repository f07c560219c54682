// The Redis factories on a Unix socket (REDIS_URL=unix:///path/to/redis.sock?db=N; ioredis reads such a URL as the
// socket's path and its query), against a real redis-server that listens on both a socket and a loopback port:
// commands and BullMQ's blocking worker go through the socket.
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/shared/config.js';
import { createProducerConnection, createWorkerConnection, waitForRedis, type RedisConnection } from '../../src/shared/redis.js';
import { PrivateRedis } from '../helpers/fault-services.js';

describe('REDIS_URL on a Unix socket', () => {
  let server: PrivateRedis;
  const opened: RedisConnection[] = [];
  const open = <C extends RedisConnection>(c: C): C => (opened.push(c), c);

  beforeAll(async () => {
    server = await PrivateRedis.start({ unixSocket: true });
  }, 60_000);

  afterAll(async () => {
    for (const c of opened) c.disconnect();
    await server?.stop();
  });

  it('is accepted as unix:///absolute/path, and a relative path is refused', () => {
    expect(loadConfig({ REDIS_URL: 'unix:///run/redis/redis.sock?db=2' }).redisUrl).toBe('unix:///run/redis/redis.sock?db=2');
    expect(() => loadConfig({ REDIS_URL: 'unix://redis.sock' })).toThrow(ConfigError);
  });

  it('connects producers and workers through the socket, in the database the URL names', async () => {
    const redisUrl = `${server.socketUrl}?db=3`;
    const producer = open(createProducerConnection({ redisUrl }));
    const worker = open(createWorkerConnection({ redisUrl }));
    // A producer fails fast instead of queueing commands: it is used once ready, as the API does.
    await waitForRedis(producer);
    await producer.set('written-through-the-socket', 'yes');
    expect(await worker.get('written-through-the-socket')).toBe('yes');
    // The same server over TCP sees the key in database 3 only: the socket and the db both came from REDIS_URL.
    const tcp = open(new Redis(`${server.url}/3`));
    expect(await tcp.get('written-through-the-socket')).toBe('yes');
    const clients = String(await tcp.client('LIST'));
    expect(clients).toMatch(/addr=\/[^ ]*redis\.sock/);
    expect(await open(new Redis(`${server.url}/0`)).get('written-through-the-socket')).toBeNull();
  });

  it('carries a BullMQ job from a queue to a blocking worker', async () => {
    const redisUrl = server.socketUrl;
    const queue = new Queue('socket-test', { connection: open(createProducerConnection({ redisUrl }, { enableOfflineQueue: true })), prefix: 'artstore-socket' });
    const done = new Promise<unknown>((resolve) => {
      const worker = new Worker('socket-test', async (job) => `ran ${String(job.data.n)}`, {
        connection: open(createWorkerConnection({ redisUrl })),
        prefix: 'artstore-socket',
      });
      worker.on('completed', (_job, result) => void worker.close().then(() => resolve(result)));
    });
    await queue.add('one', { n: 7 });
    expect(await done).toBe('ran 7');
    await queue.close();
  }, 30_000);
});
