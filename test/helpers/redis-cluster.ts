// A throwaway Redis Cluster for tests: three masters on free ports in a temp dir, child processes of the test.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './processes.js';
import { pollUntil } from './wait.js';

export interface RedisCluster {
  /** `host:port,host:port,host:port`, as REDIS_CLUSTER_NODES takes it. */
  nodes: string;
  ports: number[];
  /** Kills every node (an outage of the whole cluster; their data is gone, their cluster config stays). */
  stop(): Promise<void>;
  /** Starts the stopped nodes again on the same ports; resolves once the cluster is ok. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Why a cluster cannot be started here (a tool missing), or null when it can: tests skip with this reason. */
export function redisClusterUnavailable(): string | null {
  for (const tool of ['redis-server', 'redis-cli']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (Debian package redis-server)`;
    }
  }
  return null;
}

async function runCli(args: string[]): Promise<string> {
  const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`redis-cli ${args.join(' ')} exited ${code}:\n${out}`);
  return out;
}

async function nodeAnswers(port: number, check: (redis: Redis) => Promise<boolean>): Promise<boolean> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await check(redis);
  } finally {
    redis.disconnect();
  }
}

/**
 * Starts three cluster-enabled redis-servers (no persistence, a short node timeout so a stopped node is noticed in
 * about a second), joins them with `redis-cli --cluster create` and resolves once every node says cluster_state:ok.
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  const missing = redisClusterUnavailable();
  if (missing) throw new Error(`cannot start a Redis Cluster: ${missing}`);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-redis-cluster-'));
  const children = new Map<number, ChildProcess>();
  // Six distinct ports: each server's and its cluster bus's (cluster-port; the default, port + 10000, may be taken).
  const free = new Set<number>();
  while (free.size < 6) free.add(await freePort());
  const [a, b, c, ...busPorts] = [...free];
  const ports = [a!, b!, c!];

  const startNodes = async () => {
    for (const [i, port] of ports.entries()) {
      // The node keeps its identity and slots in its cluster config file, so a restart rejoins the same cluster.
      const args = ['--port', String(port), '--cluster-port', String(busPorts[i]), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'];
      args.push('--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '1000', '--dir', dir);
      args.push('--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', `redis-${port}.log`);
      children.set(port, spawn('redis-server', args, { stdio: 'ignore' }));
    }
    for (const port of ports) {
      await pollUntil(`redis-server on ${port} to answer`, 10_000, () => nodeAnswers(port, async (r) => (await r.ping()) === 'PONG'));
    }
  };
  const clusterOk = async () => {
    for (const port of ports) {
      await pollUntil(`cluster_state:ok on ${port}`, 20_000, () => nodeAnswers(port, async (r) => (await r.cluster('INFO')).includes('cluster_state:ok')));
    }
  };
  const stop = async () => {
    await Promise.all(
      [...children.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    children.clear();
  };
  const close = async () => {
    await stop();
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await startNodes();
    await runCli(['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    await clusterOk();
  } catch (err) {
    await close();
    throw err;
  }
  return {
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
    ports,
    stop,
    async restart() {
      await startNodes();
      await clusterOk();
    },
    close,
  };
}

/** The port of the master that serves key's slot (CLUSTER KEYSLOT, then CLUSTER SLOTS), asked of any node. */
export async function ownerOfKey(cluster: RedisCluster, key: string): Promise<number> {
  const redis = new Redis({ host: '127.0.0.1', port: cluster.ports[0]!, maxRetriesPerRequest: 1 });
  try {
    const slot = Number(await redis.cluster('KEYSLOT', key));
    const range = (await redis.cluster('SLOTS')).find(([from, to]) => slot >= from && slot <= to);
    const master = range?.[2];
    if (!master) throw new Error(`no node serves slot ${slot}`);
    return master[1];
  } finally {
    redis.disconnect();
  }
}

/** Every key stored on one node (a test cluster holds few). */
export async function keysOn(port: number): Promise<string[]> {
  const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  try {
    return await redis.keys('*');
  } finally {
    redis.disconnect();
  }
}
