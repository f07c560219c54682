// Requests whose body is a StreamedBody (multipart uploads, resumable appends from a file) go over node:http(s)
// with a keep-alive agent, written chunk by chunk with backpressure (a full socket waits for 'drain'), small chunks
// coalesced into fewer writes. The answer comes back as a web Response, so the transport's retry and error handling
// treat it as any fetch answer.
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { StreamedBody } from './streamed-body.js';

/** Small chunks (part headers, small files) are gathered up to this many bytes per socket write. */
const COALESCE_BYTES = 256 * 1024;
/** An idle kept-alive socket is closed after this long (the API keeps its side open for 65 s). */
const IDLE_SOCKET_MS = 30_000;
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export interface StreamedSender {
  send(url: URL, method: string, headers: Record<string, string>, body: StreamedBody, signal?: AbortSignal): Promise<Response>;
}

function toResponse(res: http.IncomingMessage): Response {
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
  }
  const status = res.statusCode ?? 0;
  if (NULL_BODY_STATUSES.has(status)) res.resume();
  const body = NULL_BODY_STATUSES.has(status) ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
  return new Response(body, { status, statusText: res.statusMessage ?? '', headers });
}

/** Resolves once the socket takes more, or the request is gone (then the caller stops writing). */
function drained(req: http.ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

/** Writes body into req; stops early (without ending) once an answer arrived, which makes the rest moot. */
async function writeBody(req: http.ClientRequest, body: StreamedBody, answered: () => boolean): Promise<boolean> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const chunk = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    if (!req.write(chunk)) await drained(req);
  };
  for await (const chunk of body.chunks()) {
    if (answered() || req.destroyed) return false;
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= COALESCE_BYTES) await flush();
  }
  await flush();
  if (body.trailers) req.addTrailers(await body.trailers.values());
  req.end();
  return true;
}

export function createStreamedSender(): StreamedSender {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
    'https:': new https.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
  };
  return {
    send(url, method, headers, body, signal) {
      return new Promise<Response>((resolve, reject) => {
        const transport = url.protocol === 'https:' ? https : http;
        const agent = url.protocol === 'https:' ? agents['https:'] : agents['http:'];
        let response: http.IncomingMessage | undefined;
        const req = transport.request(url, {
          method,
          agent,
          signal,
          // With trailers the body goes chunked (Node's default without a Content-Length), their names announced.
          headers: {
            ...headers,
            'content-type': body.contentType,
            ...(body.trailers ? { trailer: body.trailers.names.join(', ') } : { 'content-length': String(body.length) }),
          },
        });
        req.on('response', (res) => {
          response = res;
          resolve(toResponse(res));
        });
        // Before an answer, an error is the call's (refused, reset, a local file that could not be read); after
        // one, the socket is simply done.
        req.on('error', (err) => {
          if (!response) reject(err);
        });
        writeBody(req, body, () => response !== undefined).then(
          (complete) => {
            // The element answered before it read the whole body (401, 413, 429): this socket cannot be reused.
            if (complete || !response) return;
            if (response.readableEnded) req.destroy();
            else response.once('end', () => req.destroy()).once('close', () => req.destroy());
          },
          (err: unknown) => req.destroy(err as Error),
        );
      });
    },
  };
}
