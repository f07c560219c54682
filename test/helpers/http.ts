// supertest helpers: collect a response body as raw bytes.
import type { Readable } from 'node:stream';

/** Parser for supertest's .parse(): buffers the body as a Buffer, whatever its Content-Type. */
// superagent types its response parameter as its own Response class, which is a Readable at run time.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function binaryParser(res: any, cb: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  (res as Readable).on('data', (c: Buffer) => chunks.push(c));
  (res as Readable).on('end', () => cb(null, Buffer.concat(chunks)));
}
