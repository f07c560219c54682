// Private PostgreSQL clusters and Redis servers for fault tests: killed and restarted at will, never the shared ones.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freePort } from './processes.js';
import { pollUntil } from './wait.js';

const run = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Why the fault suite cannot run here (undefined when it can). */
export function faultSuiteSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root: initdb and pg_ctl run as the postgres OS user via runuser';
  for (const bin of [`${PG_BIN}/initdb`, `${PG_BIN}/pg_ctl`, '/usr/sbin/runuser']) {
    if (!existsSync(bin)) return `${bin} is missing`;
  }
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    return 'no postgres OS user';
  }
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'redis-server is not on PATH';
  }
  return undefined;
}

// Servers still running when the test process exits (a crash, a timeout) are stopped here, synchronously.
const exitCleanups = new Set<() => void>();
process.once('exit', () => {
  for (const cleanup of exitCleanups) {
    try {
      cleanup();
    } catch {
      // best effort: the process is going away
    }
  }
});

/** Runs cleanup (synchronously) if this process exits before forget() is called: for children of a test run. */
export function cleanUpAtExit(cleanup: () => void): () => void {
  exitCleanups.add(cleanup);
  return () => exitCleanups.delete(cleanup);
}

export type PgStopMode = 'smart' | 'fast' | 'immediate';

/** A PostgreSQL 15 cluster in a temp dir: trust auth, loopback only, its unix socket in the same dir. */
export class PrivatePostgres {
  private readonly forget: () => void;

  private constructor(
    readonly root: string,
    readonly port: number,
  ) {
    const cleanup = () => this.stopSync();
    exitCleanups.add(cleanup);
    this.forget = () => exitCleanups.delete(cleanup);
  }

  private get dataDir() {
    return path.join(this.root, 'data');
  }

  /** postgresql:// URL of database name on this cluster. */
  url(database = 'postgres'): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** initdb into a new temp dir, then start. */
  static async start(): Promise<PrivatePostgres> {
    return PrivatePostgres.open(async (server) => {
      await server.asPostgres(`${PG_BIN}/initdb`, ['-D', server.dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
    });
  }

  /** A new cluster with a copy of this one's data (this one must be shut down), started on its own port. */
  async copy(): Promise<PrivatePostgres> {
    if (existsSync(path.join(this.dataDir, 'postmaster.pid'))) throw new Error('copy: shut the cluster down first');
    return PrivatePostgres.open(async (server) => {
      await run('cp', ['-a', this.dataDir, server.dataDir]);
    });
  }

  private static async open(fill: (server: PrivatePostgres) => Promise<void>): Promise<PrivatePostgres> {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-faults-pg-'));
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    await fs.chown(root, uid, gid);
    const server = new PrivatePostgres(root, await freePort());
    try {
      await fill(server);
      await server.pgCtl('start');
      return server;
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  private asPostgres(bin: string, args: string[]) {
    return run('runuser', ['-u', 'postgres', '--', bin, ...args], { timeout: 120_000 });
  }

  private pgCtl(action: 'start' | 'restart', mode: PgStopMode = 'fast') {
    const options = `-p ${this.port} -k ${this.root} -c listen_addresses=127.0.0.1 -c max_connections=200`;
    const args = ['-D', this.dataDir, '-l', path.join(this.root, 'server.log'), '-w', '-t', '60', '-o', options];
    return this.asPostgres(`${PG_BIN}/pg_ctl`, action === 'restart' ? [...args, '-m', mode, 'restart'] : [...args, 'start']);
  }

  /** pg_ctl restart -m mode; resolves once the server accepts connections again. */
  async restart(mode: PgStopMode): Promise<void> {
    await this.pgCtl('restart', mode);
  }

  /** The server's log (for failure messages). */
  async log(): Promise<string> {
    return fs.readFile(path.join(this.root, 'server.log'), 'utf8').catch(() => '');
  }

  async createDatabase(name: string, template?: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.url() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`);
    } finally {
      await client.end();
    }
    return this.url(name);
  }

  private stopSync(): void {
    if (existsSync(path.join(this.dataDir, 'postmaster.pid'))) {
      execFileSync('runuser', ['-u', 'postgres', '--', `${PG_BIN}/pg_ctl`, '-D', this.dataDir, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore', timeout: 30_000 });
    }
    execFileSync('rm', ['-rf', this.root]);
  }

  /** Stops the server cleanly and keeps its data (to copy it). */
  async shutdown(): Promise<void> {
    await this.asPostgres(`${PG_BIN}/pg_ctl`, ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
  }

  /** Stops the server (immediate: nothing in it is worth keeping) and removes its directory. */
  async stop(): Promise<void> {
    if (existsSync(path.join(this.dataDir, 'postmaster.pid'))) {
      await this.asPostgres(`${PG_BIN}/pg_ctl`, ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    }
    await fs.rm(this.root, { recursive: true, force: true });
    this.forget();
  }
}

/** A redis-server on a free loopback port with AOF (fsync always) in a temp dir; kill -9 and restart keep both. */
export class PrivateRedis {
  private child?: ChildProcess;
  private exited?: Promise<unknown>;
  private readonly forget: () => void;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly unixSocket: boolean,
  ) {
    const cleanup = () => {
      this.child?.kill('SIGKILL');
      execFileSync('rm', ['-rf', dir]);
    };
    exitCleanups.add(cleanup);
    this.forget = () => exitCleanups.delete(cleanup);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Its Unix socket (started with unixSocket), as REDIS_URL names one. */
  get socketUrl(): string {
    return `unix://${this.socketPath}`;
  }

  private get socketPath(): string {
    return path.join(this.dir, 'redis.sock');
  }

  /** unixSocket: it also listens on a Unix socket in its dir (socketUrl). */
  static async start(options: { unixSocket?: boolean } = {}): Promise<PrivateRedis> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-faults-redis-'));
    const server = new PrivateRedis(dir, await freePort(), options.unixSocket ?? false);
    try {
      await server.launch();
      return server;
    } catch (err) {
      await server.stop();
      throw err;
    }
  }

  private async launch(): Promise<void> {
    const args = [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
      '--appendonly', 'yes', '--appendfsync', 'always', '--save', '',
      '--maxmemory-policy', 'noeviction', '--logfile', path.join(this.dir, 'redis.log'),
      ...(this.unixSocket ? ['--unixsocket', this.socketPath, '--unixsocketperm', '700'] : []),
    ];
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', resolve));
    await pollUntil(`redis on ${this.port} answering PING`, 30_000, async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${await this.log()}`);
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        // While it loads the AOF, PING answers -LOADING.
        return (await probe.ping()) === 'PONG';
      } finally {
        probe.disconnect();
      }
    });
  }

  /** kill -9: no shutdown, no final fsync beyond what appendfsync always already did. */
  async kill9(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  /** Starts again on the same port and dir (loading the AOF); resolves once it answers PING. */
  async restart(): Promise<void> {
    if (this.child) await this.kill9();
    await this.launch();
  }

  async log(): Promise<string> {
    return fs.readFile(path.join(this.dir, 'redis.log'), 'utf8').catch(() => '');
  }

  async stop(): Promise<void> {
    if (this.child) await this.kill9();
    await fs.rm(this.dir, { recursive: true, force: true });
    this.forget();
  }
}
