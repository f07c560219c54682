// How the error mapper logs: an upload its client aborts is an info line (not an unhandled 500), an unexpected
// error is logged once, and an outage is a warning answered 503 with Retry-After.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import multer from 'multer';
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { problemHandler } from '../../src/api/http/problem.js';
import { createLogger, type Logger } from '../../src/shared/logger.js';
import { pollUntil } from '../helpers/wait.js';
import { freePort } from '../helpers/processes.js';
import { fileDisposition, multipartType, partHead } from '../helpers/multipart.js';
import { serve, type Served } from '../helpers/serve.js';
import { createWorld, type World } from '../helpers/world.js';

type LogLine = { level: number; msg?: string; [k: string]: unknown };

function capture(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: createLogger({ logLevel: 'debug' }, 'api', sink), lines };
}

describe('error mapper logging', () => {
  let world: World;

  beforeAll(async () => {
    world = await createWorld();
  });
  afterAll(async () => world?.close());

  /** Starts a multipart upload on server, lets part of the file through, then drops the connection. */
  async function abortUpload(server: Served, token: string): Promise<void> {
    const before = new Set(await world.stagedFiles());
    const boundary = 'xBoundaryx';
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.on('error', () => undefined);
    socket.write(
      [
        'POST /api/v1/files/upload HTTP/1.1',
        'Host: localhost',
        `Authorization: Bearer ${token}`,
        `Content-Type: ${multipartType(boundary)}`,
        'Content-Length: 10000000',
        '',
        partHead(boundary, [fileDisposition('cut.bin'), 'Content-Type: application/octet-stream']),
      ].join('\r\n'),
    );
    socket.write(randomBytes(256 * 1024));
    // The upload is being staged: now the client goes away mid-body.
    await pollUntil('the upload is being staged', 10_000, async () => (await world.stagedFiles()).some((f) => !before.has(f)));
    socket.destroy();
  }

  it('maps multer\'s "Request aborted" to an info line and leaves the response unanswered', async () => {
    const { logger, lines } = capture();
    const statuses: number[] = [];
    const app = express();
    app.use((req, res, next) => {
      (req as unknown as { log: Logger }).log = logger.child({ reqId: 'r-abort' });
      res.once('close', () => statuses.push(res.statusCode));
      next();
    });
    app.post('/api/v1/files/upload', multer({ dest: world.config.stagingPath }).single('file'), (_req, res) => {
      res.status(201).end();
    });
    app.use(problemHandler(logger));
    const server = await serve(app);
    try {
      await abortUpload(server, 'unused');
      await pollUntil('the aborted request is logged', 10_000, async () => lines.some((l) => l.msg === 'client closed the request'));
      await pollUntil('the response closed', 10_000, async () => statuses.length === 1);
    } finally {
      await server.close();
    }
    expect(lines.filter((l) => l.level >= 50), JSON.stringify(lines)).toEqual([]);
    expect(lines.find((l) => l.msg === 'client closed the request')!.level).toBe(30);
    expect(statuses).toEqual([200]);
  });

  it('logs an upload aborted by its client without an error line (the whole app)', async () => {
    const { logger, lines } = capture();
    const server = await serve(createApp({ ...world.api, logger }));
    const before = new Set(await world.stagedFiles());
    try {
      await abortUpload(server, await world.token('user', 'alice'));
      await pollUntil('the access log has the request', 10_000, async () => lines.some((l) => l.msg === 'request aborted'));
    } finally {
      await server.close();
    }
    expect(lines.filter((l) => l.level >= 50), JSON.stringify(lines)).toEqual([]);
    await pollUntil('the staged remains are removed', 10_000, async () => (await world.stagedFiles()).every((f) => before.has(f)));
  });

  it('logs an unexpected error once, and an outage as a warning answered 503 with Retry-After', async () => {
    const { logger, lines } = capture();
    const deadPort = await freePort();
    const app = express();
    app.use((req, _res, next) => {
      (req as unknown as { log: Logger }).log = logger.child({ reqId: 'r-1' });
      next();
    });
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.get('/db', async () => {
      const client = new pg.Client({ host: '127.0.0.1', port: deadPort, user: 'postgres' });
      await client.connect();
    });
    app.use(problemHandler(logger));

    const boom = await request(app).get('/boom');
    expect(boom.status).toBe(500);
    expect(boom.body.code).toBe('internal');
    expect(lines.filter((l) => l.msg === 'unhandled error')).toHaveLength(1);

    const db = await request(app).get('/db');
    expect(db.status).toBe(503);
    expect(db.headers['retry-after']).toBe('5');
    expect(db.body.code).toBe('unavailable');
    const outage = lines.filter((l) => l.msg === 'dependency unavailable');
    expect(outage).toHaveLength(1);
    expect(outage[0]!.level).toBe(40);
  });
});
