// The API's HTTP server around the Express app: timeouts and the handlers for what Node refuses before Express.
// main.ts listens with it; tests that speak raw HTTP use the same server.
import http from 'node:http';
import type { Express } from 'express';
import type { Config } from '../shared/config.js';
import { handleCheckExpectation, handleClientError } from './http/client-error.js';

export function createApiServer(app: Express, config: Pick<Config, 'uploadIdleTimeoutMs'>): http.Server {
  // Node's own refusal of a request without Host is an empty 400; the app answers it with problem+json instead.
  const server = http.createServer({ requireHostHeader: false }, app);
  // Large uploads on slow links must not hit Node's default 5-minute request timeout: they are cut for going
  // quiet instead. A connection that neither sends nor is sent a byte for UPLOAD_IDLE_TIMEOUT_MS is closed: a
  // stalled upload (multer removes its staged files), headers whose body never comes, a reader that stopped
  // reading. SSE streams send heartbeats more often; an upload's wait= switches it off while it waits.
  server.requestTimeout = 0;
  server.timeout = config.uploadIdleTimeoutMs;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  server.on('clientError', handleClientError);
  server.on('checkExpectation', handleCheckExpectation);
  return server;
}
