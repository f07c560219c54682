// Real api/worker child processes for signal tests: started with tsx from src/, configured like a test world.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Config } from '../../src/shared/config.js';

export interface Service {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

/**
 * A port free a moment ago: for child processes, which must be told their port before they start (their log says
 * the configured port, not the bound one), and for addresses nothing should answer on. A server in the test's own
 * process listens on port 0 through serve() (helpers/serve.ts) instead.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export function envFor(config: Config, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: config.databaseUrl,
    REDIS_URL: config.redisUrl,
    QUEUE_PREFIX: config.queuePrefix,
    STORAGE_PATH: config.storagePath,
    STAGING_PATH: config.stagingPath,
    DEV_KEYS_PATH: config.devKeysPath,
    HASH_THREADS: '1',
    WORKER_METRICS_PORT: '0',
    // Uploads are refused below the disk's `full` threshold (20 GB by default): a test machine may have less.
    CAPACITY_FULL_PERCENT: '0',
    CAPACITY_FULL_BYTES: '0',
    ...extra,
  };
}

/** Starts src/<entry> and resolves once its log says ready (`readyMessage`), or rejects after 30 s. */
export async function startService(entry: 'api' | 'workers', env: Record<string, string>, readyMessage: string): Promise<Service> {
  const child = spawn(process.execPath, ['--import', 'tsx', `src/${entry}/main.ts`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} not ready after 30 s:\n${out}`)), 30_000);
    const check = () => {
      if (out.includes(readyMessage)) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited (${code}) before it was ready:\n${out}`));
    });
  });
  return { child, output: () => out, exited };
}
