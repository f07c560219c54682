// An append's chunks are gathered into larger writes only while more bytes are buffered behind them; every write
// lands at its place with no hole, the hash sees the bytes written in order, and after an error nothing gathered
// is written (the lease may be gone). On a real file in a temp directory.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppendWrites, WRITE_BYTES } from '../../src/shared/domain/append-writes.js';
import { ResumableBytes, unwritten } from '../../src/shared/domain/resumable-bytes.js';

describe('AppendWrites', () => {
  let dir: string;
  let bytes: ResumableBytes;
  let n = 0;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'append-writes-'));
    bytes = new ResumableBytes(dir);
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function sinkFor(): Promise<{ id: string; file: string; sink: Awaited<ReturnType<ResumableBytes['openAppend']>> }> {
    const id = `u${n++}`;
    await bytes.create(id);
    return { id, file: path.join(dir, 'resumable', `${id}.upload`), sink: await bytes.openAppend(id) };
  }

  it('writes a chunk with nothing behind it at once, and gathers buffered chunks into writes of WRITE_BYTES', async () => {
    const { file, sink } = await sinkFor();
    const ends: number[] = [];
    const hash = createHash('sha256');
    const writes = new AppendWrites(sink, 0, (b) => hash.update(b), (end) => void ends.push(end));
    const lone = randomBytes(1000);
    await writes.push(lone, false);
    await writes.drain();
    expect(ends).toEqual([1000]);
    const chunks = Array.from({ length: 40 }, () => randomBytes(64 * 1024));
    for (const [i, c] of chunks.entries()) await writes.push(c, i < chunks.length - 1);
    await writes.drain();
    const all = Buffer.concat([lone, ...chunks]);
    // 16 chunks of 64 KiB make a write; the rest goes as one when nothing is buffered behind it.
    expect(ends).toEqual([1000, 1000 + WRITE_BYTES, 1000 + 2 * WRITE_BYTES, all.length]);
    expect(writes.written).toBe(all.length);
    await sink.close();
    expect((await fs.readFile(file)).equals(all)).toBe(true);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(all).digest('hex'));
  });

  it('drops what is gathered after an error: the sink holds exactly the writes that completed', async () => {
    const { file, sink } = await sinkFor();
    const writes = new AppendWrites(sink, 0);
    const first = randomBytes(WRITE_BYTES);
    await writes.push(first, true);
    await writes.push(randomBytes(4096), true);
    await writes.abandon();
    expect(writes.written).toBe(WRITE_BYTES);
    await sink.close();
    expect((await fs.readFile(file)).equals(first)).toBe(true);
  });

  it('after a short write goes on with exactly the bytes not written, across chunk boundaries', () => {
    const chunks = [Buffer.from('abc'), Buffer.from('defg'), Buffer.from('hi')];
    const rest = (n: number) => Buffer.concat(unwritten(chunks, n)).toString();
    expect(rest(0)).toBe('abcdefghi');
    expect(rest(2)).toBe('cdefghi');
    expect(rest(3)).toBe('defghi');
    expect(rest(5)).toBe('fghi');
    expect(rest(9)).toBe('');
    expect(unwritten(chunks, 3)).toHaveLength(2);
  });
});
