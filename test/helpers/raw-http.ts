// Raw HTTP/1.1 over node:net: requests no well-behaved client would send, and the answer as the wire carried it.
import net from 'node:net';
import type { Express } from 'express';
import { createApiServer } from '../../src/api/server.js';
import type { Config } from '../../src/shared/config.js';
import { serve } from './serve.js';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything the server wrote, for messages. */
  raw: string;
}

export interface RawServer {
  port: number;
  close(): Promise<void>;
}

/** The API's own server (src/api/server.ts) over the app: Node's own refusals answered with problem+json. */
export async function listen(app: Express, config: Pick<Config, 'uploadIdleTimeoutMs'> = { uploadIdleTimeoutMs: 60_000 }): Promise<RawServer> {
  return serve(createApiServer(app, config));
}

function parse(bytes: Buffer): RawAnswer {
  const raw = bytes.toString('latin1');
  const split = raw.indexOf('\r\n\r\n');
  const head = split < 0 ? raw : raw.slice(0, split);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = split < 0 ? '' : bytes.subarray(Buffer.byteLength(head, 'latin1') + 4).toString('utf8');
  if (headers['transfer-encoding'] === 'chunked') {
    // De-chunk: size line, data, CRLF, until the 0 chunk.
    let out = '';
    let rest = body;
    for (let size = parseInt(rest, 16); size > 0; size = parseInt(rest, 16)) {
      const start = rest.indexOf('\r\n') + 2;
      out += rest.slice(start, start + size);
      rest = rest.slice(start + size + 2);
    }
    body = out;
  }
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body, raw };
}

/**
 * Writes `bytes` and reads until the server closes the connection (every request here says Connection: close,
 * or is one the server must close on). `halfClose` ends our side after writing, as a client that gave up would.
 */
export function sendRaw(port: number, bytes: Buffer | string, options: { halfClose?: boolean; timeoutMs?: number } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${options.timeoutMs ?? 10_000} ms; got: ${Buffer.concat(chunks).toString('latin1').slice(0, 500)}`));
    }, options.timeoutMs ?? 10_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parse(Buffer.concat(chunks)));
    });
    socket.write(bytes, () => {
      if (options.halfClose) socket.end();
    });
  });
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** One well-framed request (Host, Connection: close and Content-Length added unless given). */
export function frame(req: RawRequest): Buffer {
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const headers: Record<string, string> = { Host: '127.0.0.1', Connection: 'close', ...req.headers };
  const named = Object.keys(headers).map((k) => k.toLowerCase());
  if (body && !named.includes('content-length') && !named.includes('transfer-encoding')) headers['Content-Length'] = String(body.length);
  const head = [`${req.method ?? 'GET'} ${req.path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), body ?? Buffer.alloc(0)]);
}

/** Milliseconds /health/live takes to answer 200 (throws on anything else). */
export async function liveLatency(port: number): Promise<number> {
  const started = performance.now();
  const answer = await sendRaw(port, frame({ path: '/health/live' }), { timeoutMs: 30_000 });
  if (answer.status !== 200) throw new Error(`/health/live answered ${answer.status}: ${answer.raw.slice(0, 300)}`);
  return performance.now() - started;
}
