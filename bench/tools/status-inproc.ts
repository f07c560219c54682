// JS CPU per status poll, without the kernel: the API app (createApp, in this process, on the bench world's
// database) and an Express hello app (accept-only's /ping) each behind a Node http.Server fed through in-memory
// sockets, 32 keep-alive connections, alternating rounds; CPU time (process.cpuUsage) per request of each. Loopback
// TCP costs the same for both and, on a shared machine, is most of the noise of `status-cpu.ts`; this leaves the
// difference that our code makes. A profiling aid for issue 13: `tsx bench/tools/status-inproc.ts [--requests N]
// [--rounds R]` (node --cpu-prof through NODE_OPTIONS profiles both apps in one file).
import { randomInt } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import express from 'express';
import { createApp } from '../../src/api/app.js';
import { openApiContext } from '../../src/api/context.js';
import { createApiServer } from '../../src/api/server.js';
import { loadConfig } from '../../src/shared/config.js';
import { createLogger } from '../../src/shared/logger.js';
import { closeBenchEnv, openBenchEnv } from '../lib/bench-env.js';
import { uploadSmallFiles } from '../lib/scenario.js';

const CONNECTIONS = 32;

/** One in-memory connection: bytes written to it reach the server; answers are counted by their end. */
class Wire extends Duplex {
  private pending = '';
  private waiting: (() => void) | undefined;

  constructor(private readonly server: http.Server) {
    super();
    server.emit('connection', this);
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.receive(chunk.toString('latin1'));
    done();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: () => void): void {
    for (const { chunk } of chunks) this.receive(chunk.toString('latin1'));
    done();
  }

  /** Sends one request and resolves with the status code of its answer (Content-Length framed). */
  ask(request: string): Promise<number> {
    return new Promise((resolve) => {
      this.waiting = () => resolve(Number(this.pending.slice(9, 12)));
      this.push(request);
    });
  }

  private receive(text: string): void {
    this.pending += text;
    const end = this.pending.indexOf('\r\n\r\n');
    if (end < 0) return;
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(this.pending.slice(0, end))?.[1] ?? 0);
    if (this.pending.length < end + 4 + length) return;
    const done = this.waiting;
    this.waiting = undefined;
    done?.();
    this.pending = this.pending.slice(end + 4 + length);
  }
}

/** n requests over CONNECTIONS wires; CPU microseconds per request and how many were not 200. */
async function drive(server: http.Server, n: number, request: () => string): Promise<{ us: number; bad: number }> {
  const wires = Array.from({ length: CONNECTIONS }, () => new Wire(server));
  let left = n;
  let bad = 0;
  const before = process.cpuUsage();
  await Promise.all(
    wires.map(async (wire) => {
      while (left-- > 0) if ((await wire.ask(request())) !== 200) bad++;
    }),
  );
  const used = process.cpuUsage(before);
  for (const wire of wires) wire.destroy();
  return { us: (used.user + used.system) / n, bad };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { requests: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '6' } } });
  const n = Number(values.requests);
  const env = await openBenchEnv();
  try {
    await uploadSmallFiles(env, 'status-inproc', 100);
    const { rows } = await env.db.query<{ id: string }>('SELECT id FROM file_jobs WHERE principal = $1', ['status-inproc']);
    const token = await env.token('status-inproc');
    const config = loadConfig({
      DATABASE_URL: env.databaseUrl, REDIS_URL: env.redisUrl, QUEUE_PREFIX: env.queuePrefix, STORAGE_PATH: env.storagePath,
      STAGING_PATH: env.stagingPath, DEV_KEYS_PATH: path.join(env.root, 'dev-keys'), LOG_LEVEL: 'warn',
    });
    const ctx = await openApiContext(config, createLogger(config, 'api'));
    const api = createApiServer(createApp(ctx), config);
    const hello = express();
    hello.disable('x-powered-by');
    hello.get('/ping', (_req, res) => {
      res.json({ state: 'committed' });
    });
    const floor = http.createServer(hello);
    const poll = () => `GET /api/v1/jobs/${rows[randomInt(rows.length)]!.id} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer ${token}\r\n\r\n`;
    const ping = () => 'GET /ping HTTP/1.1\r\nHost: bench\r\n\r\n';
    await drive(api, 5000, poll);
    await drive(floor, 5000, ping);
    const diffs: number[] = [];
    for (let round = 0; round < Number(values.rounds); round++) {
      const ours = round % 2 === 0 ? await drive(api, n, poll) : undefined;
      const base = await drive(floor, n, ping);
      const ours2 = ours ?? (await drive(api, n, poll));
      diffs.push(ours2.us - base.us);
      process.stdout.write(
        `round ${round + 1}: api ${ours2.us.toFixed(1)} us/req${ours2.bad ? ` (${ours2.bad} not 200)` : ''}, hello ${base.us.toFixed(1)} us/req, ` +
          `api - hello ${(ours2.us - base.us).toFixed(1)} us, hello/api ${(base.us / ours2.us).toFixed(3)}x\n`,
      );
    }
    diffs.sort((a, b) => a - b);
    process.stdout.write(`median api - hello ${diffs[Math.floor(diffs.length / 2)]!.toFixed(1)} us/req\n`);
    await ctx.close();
  } finally {
    await closeBenchEnv();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
