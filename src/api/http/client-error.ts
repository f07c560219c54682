// The server's 'clientError' and 'checkExpectation' handlers: what Node refuses before Express sees a request is
// answered with problem+json, not an empty body.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../../shared/errors.js';

interface ParserAnswer {
  status: number;
  title: string;
  /** Stable snake_case code, as in every other problem body. */
  code: ErrorCode;
  detail: string;
}

/** Node's parser errors carry the llhttp reason beside the code. */
type ParserError = NodeJS.ErrnoException & { reason?: unknown };

// Node's own default answers, the same statuses, with a body that says why.
function answerFor(err: ParserError): ParserAnswer {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      // The request line counts towards the header limit, so an overlong URL lands here too.
      return { status: 431, title: 'Request Header Fields Too Large', code: 'headers_too_large', detail: 'request line or headers exceed the server limit' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, title: 'Content Too Large', code: 'payload_too_large', detail: 'chunk extensions exceed the server limit' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, title: 'Request Timeout', code: 'request_timeout', detail: 'the request was not received in time' };
    default:
      return {
        status: 400,
        title: 'Bad Request',
        code: 'validation_failed',
        // The parser's reason (e.g. "Content-Length can't be present with Transfer-Encoding"), never the raw bytes.
        detail: `malformed HTTP request${typeof err.reason === 'string' ? `: ${err.reason}` : ''}`,
      };
  }
}

/** node:_http_server keeps the ServerResponse in flight on a connection here. */
type HttpSocket = Duplex & { _httpMessage?: { headersSent?: boolean } | null };

/** Gives a socket that will not close itself this long to flush the answer. */
const FLUSH_TIMEOUT_MS = 5_000;

/**
 * server.on('clientError', handleClientError). Writes a raw HTTP/1.1 problem+json answer and closes the
 * connection: after a parser error the stream's framing is lost, so nothing more can be read from it.
 * Like Node's default handler, it stays silent when the peer is gone or a response is already on the wire
 * (a second status line would corrupt it).
 */
export function handleClientError(err: ParserError, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as HttpSocket)._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  const answer = answerFor(err);
  const body = JSON.stringify({ type: 'about:blank', title: answer.title, status: answer.status, detail: answer.detail, code: answer.code });
  const head = [
    `HTTP/1.1 ${answer.status} ${answer.title}`,
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'X-Content-Type-Options: nosniff',
    'Connection: close',
  ].join('\r\n');
  const timer = setTimeout(() => socket.destroy(), FLUSH_TIMEOUT_MS).unref();
  socket.end(`${head}\r\n\r\n${body}`, () => {
    clearTimeout(timer);
    socket.destroy();
  });
}

/**
 * server.on('checkExpectation', handleCheckExpectation): an Expect header other than 100-continue. Without a
 * listener Node answers 417 with an empty body; this says why, in the shape of every other error.
 */
export function handleCheckExpectation(req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify({
    type: 'about:blank',
    title: 'Expectation Failed',
    status: 417,
    detail: `Expect: ${String(req.headers.expect).slice(0, 100)} is not supported (only 100-continue)`,
    code: 'expectation_failed',
  });
  res.shouldKeepAlive = false;
  res.writeHead(417, { 'Content-Type': 'application/problem+json', 'X-Content-Type-Options': 'nosniff', Connection: 'close' }).end(body);
  // The request's body, if any, was never asked for: nothing more can be read from this connection.
  req.resume();
}
