// Redis over TCP against a Unix socket: ioredis client and redis-server CPU per command (HSET + GET, 16 in flight),
// against a private redis-server started here with both listeners (issue 12's "also look at"; not a scenario).
// `tsx bench/tools/redis-socket-cpu.ts [--commands N]`; needs redis-server on PATH.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { readCpu } from '../lib/samplers.js';

const IN_FLIGHT = 16;

interface Sample {
  clientUs: number;
  serverUs: number;
  perSecond: number;
}

/** n rounds of HSET + GET over redis, 16 in flight: CPU per command of this process and of the server. */
async function measure(redis: Redis, serverPid: number, n: number): Promise<Sample> {
  const client0 = process.cpuUsage();
  const server0 = readCpu(serverPid);
  const t0 = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      await redis.hset(`k${i % 1000}`, 'a', 'b');
      await redis.get(`x${i % 50}`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  const seconds = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(client0);
  const server1 = readCpu(serverPid);
  const commands = 2 * n;
  const serverMs = server1.userMs + server1.sysMs - server0.userMs - server0.sysMs;
  return { clientUs: (client.user + client.system) / commands, serverUs: (serverMs * 1000) / commands, perSecond: commands / seconds };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { commands: { type: 'string', default: '40000' }, reps: { type: 'string', default: '3' } } });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-socket-'));
  const socket = path.join(dir, 'redis.sock');
  const port = 20_000 + Math.floor(Math.random() * 10_000);
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir];
  const server = spawn('redis-server', args, { stdio: 'ignore' });
  const tcp = new Redis(`redis://127.0.0.1:${port}`);
  const unix = new Redis(socket);
  // The first connects may come before the server listens: ioredis retries them, and the pings wait.
  for (const redis of [tcp, unix]) redis.on('error', () => undefined);
  try {
    await Promise.all([tcp.ping(), unix.ping()]);
    await measure(tcp, server.pid!, 5_000);
    await measure(unix, server.pid!, 5_000);
    for (let rep = 0; rep < Number(values.reps); rep++) {
      for (const [name, redis] of [['tcp', tcp], ['unix', unix]] as const) {
        const s = await measure(redis, server.pid!, Number(values.commands) / 2);
        process.stdout.write(`${name}: client ${s.clientUs.toFixed(1)} us/command, server ${s.serverUs.toFixed(1)} us/command, ${s.perSecond.toFixed(0)} commands/s\n`);
      }
    }
  } finally {
    await Promise.allSettled([tcp.quit(), unix.quit()]);
    server.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
