// The hash pool: small files hashed inline, large ones in threads, and a wrong size hint never a wrong digest.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashPool, INLINE_HASH_MAX_BYTES } from '../../src/shared/hashing/hash-pool.js';

describe('HashPool', () => {
  let dir: string;
  let pool: HashPool;
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const file = async (bytes: Buffer) => {
    const p = path.join(dir, randomBytes(6).toString('hex'));
    await fs.writeFile(p, bytes);
    return p;
  };

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'hash-pool-'));
    pool = new HashPool(1);
  });
  afterAll(async () => {
    await pool.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('hashes empty, inline-sized, boundary and pool-sized files to their sha256 and size', async () => {
    for (const size of [0, 1, 16 * 1024, INLINE_HASH_MAX_BYTES, INLINE_HASH_MAX_BYTES + 1, 3 * 1024 * 1024]) {
      const bytes = randomBytes(size);
      expect(await pool.hashFile(await file(bytes), size), `size ${size}`).toEqual({ sha256: sha(bytes), size });
      expect(await pool.hashFile(await file(bytes)), `size ${size}, no hint`).toEqual({ sha256: sha(bytes), size });
    }
  });

  it('describes the bytes on disk when the hint is wrong (a file that grew or shrank)', async () => {
    const grown = randomBytes(INLINE_HASH_MAX_BYTES * 3);
    expect(await pool.hashFile(await file(grown), 10)).toEqual({ sha256: sha(grown), size: grown.length });
    const shrunk = randomBytes(100);
    expect(await pool.hashFile(await file(shrunk), 5_000)).toEqual({ sha256: sha(shrunk), size: 100 });
  });

  it('rejects with ENOENT for a missing file, inline or not', async () => {
    await expect(pool.hashFile(path.join(dir, 'nope'), 10)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(pool.hashFile(path.join(dir, 'nope'), 10 * 1024 * 1024)).rejects.toThrow(/ENOENT/);
  });

  it('hashes a stream in a thread: 0 bytes, 1 byte and several MiB in odd-sized chunks, as node:crypto does', async () => {
    for (const size of [0, 1, 5 * 1024 * 1024 + 7]) {
      const bytes = randomBytes(size);
      // Chunks of 1 byte to 100 KiB, views into one buffer: the pool must copy, never detach, what it is given.
      const chunks: Buffer[] = [];
      for (let at = 0, n = 1; at < size; at += n, n = (n * 7 + 13) % 100_000 || 1) chunks.push(bytes.subarray(at, at + n));
      expect(await pool.hashStream(Readable.from(chunks)), `size ${size}`).toEqual({ sha256: sha(bytes), size });
      expect(sha(bytes), 'the source buffer is left intact').toBe(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'));
    }
  });

  it('hashes a file stream read with backpressure to its digest', async () => {
    const bytes = randomBytes(3 * 1024 * 1024);
    const p = await file(bytes);
    const { createReadStream } = await import('node:fs');
    expect(await pool.hashStream(createReadStream(p, { highWaterMark: 16 * 1024 }))).toEqual({ sha256: sha(bytes), size: bytes.length });
  });

  it('rejects with the stream\'s error and keeps serving the next task', async () => {
    async function* failing() {
      yield randomBytes(300 * 1024);
      throw new Error('the store went away mid-read');
    }
    await expect(pool.hashStream(Readable.from(failing()))).rejects.toThrow('the store went away mid-read');
    const bytes = randomBytes(1000);
    expect(await pool.hashStream(Readable.from([bytes]))).toEqual({ sha256: sha(bytes), size: 1000 });
  });
});
