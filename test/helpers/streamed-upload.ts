// An upload whose bytes the test sends when it chooses (slowly, cut off, during a shutdown), over node:http.
import http from 'node:http';
import { fileDisposition, multipartEnd, multipartType, partHead } from './multipart.js';

export interface UploadAnswer {
  status: number;
  text: string;
  /** The body as JSON; {} when it is empty or not JSON. */
  body: Record<string, unknown>;
}

export interface StreamedUpload {
  req: http.ClientRequest;
  /** Settles when the answer has been read; rejects when the request fails (never counted as unhandled). */
  answer: Promise<UploadAnswer>;
  write(bytes: Buffer): void;
  /** Sends the end of the part and the closing delimiter (plus `last` before them) and ends the request. */
  finish(last?: Buffer): void;
}

export interface UploadOptions {
  fileName: string;
  boundary?: string;
  /** The part's header lines; default: its Content-Disposition only. */
  partHeaders?: string[];
  /** Content-Length to declare (true or not); none: Node sends the body chunked. */
  contentLength?: number;
}

/** Starts POST /api/v1/files/upload with one file part and sends the part's head at once. */
export function startUpload(port: number, token: string, options: UploadOptions): StreamedUpload {
  const boundary = options.boundary ?? 'STREAMEDBOUNDARY';
  const headers: http.OutgoingHttpHeaders = { Authorization: `Bearer ${token}`, 'Content-Type': multipartType(boundary) };
  if (options.contentLength !== undefined) headers['Content-Length'] = String(options.contentLength);
  const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/files/upload', headers });
  const answer = new Promise<UploadAnswer>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, body: jsonOr(text) }));
      res.on('error', reject);
    });
  });
  answer.catch(() => undefined);
  req.write(partHead(boundary, options.partHeaders ?? [fileDisposition(options.fileName)]));
  return {
    req,
    answer,
    write: (bytes) => void req.write(bytes),
    finish: (last) => void req.end(last ? Buffer.concat([last, Buffer.from(multipartEnd(boundary))]) : multipartEnd(boundary)),
  };
}

/** The Content-Length of a body startUpload sends for a file of fileSize bytes. */
export function uploadLength(fileName: string, fileSize: number, boundary = 'STREAMEDBOUNDARY'): number {
  return Buffer.byteLength(partHead(boundary, [fileDisposition(fileName)])) + fileSize + Buffer.byteLength(multipartEnd(boundary));
}

function jsonOr(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text || '{}') as Record<string, unknown>;
  } catch {
    return {};
  }
}
