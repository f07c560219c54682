// Child processes of a bench run: free ports, start with an explicit environment, wait until ready, stop in order.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface Service {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The last 64 KiB of its stdout and stderr, for failure messages. */
  output: () => string;
  exited: Promise<number | string>;
}

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

/** BENCH_NODE_ARGS: extra node flags for every child node process, e.g. '--cpu-prof --cpu-prof-dir=/tmp/prof'. */
export function benchNodeArgs(): string[] {
  return (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
}

/** Spawns `node <args>` with exactly env (no inherited variables) and resolves once ready() is true. */
export async function startService(
  name: string,
  args: string[],
  env: Record<string, string>,
  ready: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<Service> {
  const child = spawn(process.execPath, [...benchNodeArgs(), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-65_536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exitedWith: number | string | undefined;
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => {
      exitedWith = code ?? signal ?? -1;
      resolve(exitedWith);
    }),
  );
  const deadline = Date.now() + timeoutMs;
  while (!(await ready().catch(() => false))) {
    if (exitedWith !== undefined) throw new Error(`${name} exited (${exitedWith}) before it was ready:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} not ready after ${timeoutMs} ms:\n${out}`);
    }
    await sleep(200);
  }
  return { name, child, pid: child.pid!, output: () => out, exited };
}

/** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
export async function stopService(service: Service | undefined, graceMs = 30_000): Promise<void> {
  if (!service || service.child.exitCode !== null || service.child.signalCode !== null) return;
  service.child.kill('SIGTERM');
  const timer = setTimeout(() => service.child.kill('SIGKILL'), graceMs);
  await service.exited;
  clearTimeout(timer);
}

export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.ok;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
