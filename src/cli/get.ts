// `artstore get <fileId> [-o PATH]`: download to PATH.part, resume it with Range/If-Range, check sha256, then rename.
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { openCliHashPool } from './hashing.js';
import { clientFrom, CONNECTION_FLAGS, EXIT_FAILED, EXIT_OK, parseFlags, UsageError } from './usage.js';

export const GET_USAGE = `usage: artstore get <fileId> [-o PATH] [--url URL] [--token TOKEN]
  Saves the file as PATH (default: its name, in the current directory). An interrupted download is kept as
  PATH.part and resumed by the next run; the sha256 is checked before the file gets its name.`;

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

async function sha256Of(file: string): Promise<string> {
  const pool = openCliHashPool(1);
  try {
    return (await pool.hashFile(file)).sha256;
  } finally {
    await pool.close();
  }
}

export async function getCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...CONNECTION_FLAGS, output: { type: 'string', short: 'o' } }, GET_USAGE);
  if (positionals.length !== 1) throw new UsageError('give exactly one file id', GET_USAGE);
  const fileId = positionals[0]!;
  const client = clientFrom(values, GET_USAGE);
  const meta = await client.metadata(fileId);
  let out = path.resolve(values.output ?? (path.basename(meta.fileName) || fileId));
  if ((await fs.stat(out).catch(() => undefined))?.isDirectory()) out = path.join(out, path.basename(meta.fileName) || fileId);
  const part = `${out}.part`;
  let have = await sizeOf(part);
  if (have > meta.size) {
    await fs.truncate(part, 0);
    have = 0;
  }
  let resumedFrom = 0;
  if (have < meta.size || meta.size === 0) {
    const res = await client.download(fileId, have > 0 ? { range: { start: have }, ifRange: `"${meta.sha256}"` } : {});
    // 206: the element honoured the range for this very content; 200: it sent the whole file, so start over.
    const append = res.status === 206;
    if (append) resumedFrom = have;
    if (append) process.stderr.write(`artstore get: resuming at byte ${have} of ${meta.size}\n`);
    const sink = createWriteStream(part, { flags: append ? 'a' : 'w' });
    if (res.body) await pipeline(Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>), sink);
    else await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
  const sha256 = await sha256Of(part);
  if (sha256 !== meta.sha256) {
    await fs.rm(part, { force: true });
    process.stderr.write(`artstore get: checksum mismatch: got ${sha256}, the element says ${meta.sha256}; the partial file was removed\n`);
    return EXIT_FAILED;
  }
  await fs.rename(part, out);
  process.stdout.write(`${JSON.stringify({ fileId, path: out, size: meta.size, sha256, resumedFrom })}\n`);
  return EXIT_OK;
}
