// multipart/form-data bodies built by hand: for requests supertest cannot make (streamed slowly, cut off, malformed).

/** The Content-Type header value for a body delimited by boundary. */
export function multipartType(boundary: string): string {
  return `multipart/form-data; boundary=${boundary}`;
}

/** The Content-Disposition line of a file part. */
export function fileDisposition(filename: string, name = 'file'): string {
  return `Content-Disposition: form-data; name="${name}"; filename="${filename}"`;
}

/** What comes before a part's content: its delimiter line and header lines (default: a file part named file.bin). */
export function partHead(boundary: string, headers: string[] = [fileDisposition('file.bin')]): string {
  return `--${boundary}\r\n${headers.join('\r\n')}\r\n\r\n`;
}

/** What comes after the last part's content: its line end and the closing delimiter. */
export function multipartEnd(boundary: string): string {
  return `\r\n--${boundary}--\r\n`;
}

/** A multipart/form-data body from parts given as raw header lines and content; `close` false leaves it cut off. */
export function multipart(boundary: string, parts: Array<{ headers: string[]; content: Buffer | string }>, close = true): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(partHead(boundary, part.headers), 'latin1'), Buffer.from(part.content), Buffer.from('\r\n'));
  }
  if (close) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}
