// multipart/form-data for uploads, encoded here rather than by fetch's FormData: fields first, then one part per
// file (bytes at hand, or a local file read in 1 MiB slices while sending), with the exact length known up front.
// On Node 20 a FormData of file-backed Blobs went through web streams in small reads and held the file in memory
// (256 MiB: 1.8 s and +300 MiB RSS, against 0.8 s for the same bytes written from 1 MiB reads).
import { randomBytes } from 'node:crypto';
import { readSlices, StreamedBody } from './streamed-body.js';

/** A file part: bytes at hand, or `size` bytes of a local file. */
export type MultipartFile =
  | { name: string; contentType: string; bytes: Uint8Array }
  | { name: string; contentType: string; path: string; size: number };

/** Quotes a name as WHATWG FormData does (so the API sees the same names as from fetch): ", CR and LF escaped. */
function quoted(name: string): string {
  return name.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
}

/** A request body of known length whose chunks are made (and files read) only while it is sent. */
export class MultipartBody extends StreamedBody {
  readonly contentType: string;
  readonly length: number;
  private readonly head: Buffer;
  private readonly fileHeads: Buffer[];
  private readonly tail: Buffer;

  constructor(
    fields: Array<[string, string]>,
    private readonly files: MultipartFile[],
  ) {
    super();
    const boundary = `----artstore-${randomBytes(12).toString('hex')}`;
    this.contentType = `multipart/form-data; boundary=${boundary}`;
    // Line breaks in values become CRLF, as FormData's serialisation does.
    this.head = Buffer.from(
      fields
        .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(k)}"\r\n\r\n${v.replace(/\r\n|\r|\n/g, '\r\n')}\r\n`)
        .join(''),
    );
    this.fileHeads = files.map((f) =>
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoted(f.name)}"\r\nContent-Type: ${f.contentType || 'application/octet-stream'}\r\n\r\n`),
    );
    this.tail = Buffer.from(`--${boundary}--\r\n`);
    let length = this.head.length + this.tail.length;
    files.forEach((f, i) => (length += this.fileHeads[i]!.length + ('bytes' in f ? f.bytes.length : f.size) + 2));
    this.length = length;
  }

  /** The body's chunks in order; a local file is read as it is sent and must still hold its `size` bytes. */
  async *chunks(): AsyncGenerator<Uint8Array> {
    yield this.head;
    const crlf = Buffer.from('\r\n');
    for (const [i, f] of this.files.entries()) {
      yield this.fileHeads[i]!;
      if ('bytes' in f) yield f.bytes;
      else yield* readSlices(f.path, 0, f.size);
      yield crlf;
    }
    yield this.tail;
  }
}
