// The clientError handler on its own: what it writes, and when it must write nothing.
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { handleClientError } from '../../src/api/http/client-error.js';

/** A socket that records what is written to it and whether it was destroyed. */
class RecordingSocket extends Duplex {
  written = '';
  _httpMessage?: { headersSent: boolean };
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.written += chunk.toString();
    cb();
  }
}

const parserError = (code: string, reason?: string) => Object.assign(new Error(code), { code, reason });
const closed = (socket: Duplex) =>
  new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

describe('handleClientError', () => {
  it('answers 431 problem+json for an oversized header, then closes', async () => {
    const socket = new RecordingSocket();
    handleClientError(parserError('HPE_HEADER_OVERFLOW'), socket);
    await closed(socket);
    const [head, body] = socket.written.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(head).toContain('Content-Type: application/problem+json');
    expect(head).toContain('Connection: close');
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body!)}`);
    expect(JSON.parse(body!)).toMatchObject({ status: 431, code: 'headers_too_large', type: 'about:blank' });
  });

  it("answers 400 validation_failed with the parser's reason for other parse errors", async () => {
    const socket = new RecordingSocket();
    handleClientError(parserError('HPE_UNEXPECTED_CONTENT_LENGTH', "Content-Length can't be present with Transfer-Encoding"), socket);
    await closed(socket);
    const body = JSON.parse(socket.written.split('\r\n\r\n')[1]!);
    expect(body).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(body.detail).toMatch(/Transfer-Encoding/);
  });

  it('writes nothing to a reset connection, to one no longer writable, or under a response already begun', async () => {
    const reset = new RecordingSocket();
    handleClientError(parserError('ECONNRESET'), reset);
    const ended = new RecordingSocket();
    ended.end();
    handleClientError(parserError('HPE_INVALID_METHOD'), ended);
    const midResponse = new RecordingSocket();
    midResponse._httpMessage = { headersSent: true };
    handleClientError(parserError('HPE_INVALID_EOF_STATE'), midResponse);
    for (const socket of [reset, ended, midResponse]) {
      await closed(socket);
      expect(socket.written).toBe('');
    }
  });
});
