// Local-filesystem BlobStore: STORAGE_PATH/blobs/<aa>/<bb>/<sha256>, committed by hard link or copy+fsync+rename.
import { createReadStream, read as readAt } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../errors.js';
import { assertSha256, type BlobStore, type ByteRange, type PutOptions, type PutResult } from './blob-store.js';
import { ensureDirDurable, forgetDurableDir, fsyncDir, fsyncFile, removeFilesOlderThan, removeIfExists, tempPathFor, type TempFileOptions } from './durable-fs.js';
import { OpenFileCache } from './open-file-cache.js';
import { storeTempDir } from './store-temp.js';

export class LocalBlobStore implements BlobStore {
  readonly backend = 'local';
  private readonly blobsRoot: string;
  private readonly temp: TempFileOptions;
  /** Blobs kept open for small range reads (made on the first one: the worker never needs it). */
  private openFiles?: OpenFileCache;

  /** writerId (writers.ts) names this process's temp files, so a sweep can remove what a dead process left at once. */
  constructor(storagePath: string, options: { writerId?: string } = {}) {
    this.blobsRoot = path.join(path.resolve(storagePath), 'blobs');
    this.temp = { tempDir: storeTempDir(storagePath), tempTag: options.writerId };
  }

  keyFor(sha256: string): string {
    assertSha256(sha256);
    return `blobs/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
  }

  /** The blob's file (present or not): for readers that take a path, such as the hash pool's threads. */
  localPath(sha256: string): string {
    assertSha256(sha256);
    return path.join(this.blobsRoot, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async put(sha256: string, sourcePath: string, options: PutOptions = {}): Promise<PutResult> {
    const target = this.localPath(sha256);
    const storageKey = this.keyFor(sha256);
    const dir = path.dirname(target);
    const present = await this.sizeOf(target);
    if (present !== null) return this.settleExisting(sourcePath, target, present, options, storageKey);
    await ensureDirDurable(dir);
    // The staged file is the temp file: its bytes must be durable before it gets its content-addressed name.
    if (!options.sourceDurable) await fsyncFile(sourcePath);
    try {
      // link() never overwrites: of two jobs racing with the same bytes, exactly one creates the blob.
      await this.linkRecreatingDir(sourcePath, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        const size = await this.sizeOf(target);
        if (size !== null) return this.settleExisting(sourcePath, target, size, options, storageKey);
        throw err;
      }
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP') throw err;
      // Staging on another filesystem (or no hard links): copy to a temp name, fsync, then rename.
      const created = await this.copyIn(sourcePath, target);
      return { created, repaired: false, storageKey };
    }
    await fs.chmod(target, 0o440).catch(() => undefined);
    await fsyncDir(dir);
    return { created: true, repaired: false, storageKey };
  }

  /**
   * Bytes are stored under the name already. They are reused only when the caller's records vouch for them and
   * their size matches; otherwise the verified source replaces them (rename over the name, atomic for readers).
   * Either way the directory is synced: the name may come from a concurrent job whose own sync has not run yet,
   * and this job must not commit against a link a power loss could still undo.
   */
  private async settleExisting(sourcePath: string, target: string, presentSize: number, options: PutOptions, storageKey: string): Promise<PutResult> {
    const sourceSize = (await fs.stat(sourcePath)).size;
    if ((options.existing ?? 'reuse') === 'reuse' && presentSize === sourceSize) {
      await fsyncDir(path.dirname(target));
      return { created: false, repaired: false, storageKey };
    }
    await fsyncFile(sourcePath);
    const temp = await this.tempPathFor(target);
    try {
      await fs.link(sourcePath, temp).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EXDEV' && err.code !== 'EPERM' && err.code !== 'ENOTSUP') throw err;
        await this.copyTo(sourcePath, temp);
      });
      await fs.chmod(temp, 0o440).catch(() => undefined);
      await fs.rename(temp, target);
    } finally {
      await removeIfExists(temp);
    }
    await fsyncDir(path.dirname(target));
    return { created: false, repaired: true, storageKey };
  }

  /** link(), making the directory again when it was removed behind this process's back. */
  private async linkRecreatingDir(sourcePath: string, target: string): Promise<void> {
    const dir = path.dirname(target);
    await fs.link(sourcePath, target).catch(async (err: NodeJS.ErrnoException) => {
      // ENOENT with the source present: the directory was removed behind this process's back.
      if (err.code !== 'ENOENT' || (await this.sizeOf(sourcePath)) === null) throw err;
      forgetDurableDir(dir);
      await ensureDirDurable(dir);
      await fs.link(sourcePath, target);
    });
  }

  /** A temp name in STORAGE_PATH/tmp (same filesystem: the rename into place is atomic), made sure to exist. */
  private async tempPathFor(target: string): Promise<string> {
    await ensureDirDurable(this.temp.tempDir!);
    return tempPathFor(target, this.temp);
  }

  private async copyTo(sourcePath: string, temp: string): Promise<void> {
    const out = await fs.open(temp, 'wx', 0o440);
    try {
      await pipeline(createReadStream(sourcePath), out.createWriteStream({ autoClose: false }));
      await out.datasync();
    } finally {
      await out.close();
    }
  }

  private async copyIn(sourcePath: string, target: string): Promise<boolean> {
    const temp = await this.tempPathFor(target);
    try {
      await this.copyTo(sourcePath, temp);
      if ((await this.sizeOf(target)) !== null) return false;
      await ensureDirDurable(path.dirname(target));
      await fs.rename(temp, target);
      await fsyncDir(path.dirname(target));
      return true;
    } finally {
      await removeIfExists(temp);
    }
  }

  async openRead(sha256: string, range?: ByteRange): Promise<Readable> {
    const handle = await this.openBlob(sha256);
    return handle.createReadStream({ start: range?.start, end: range?.end, highWaterMark: 256 * 1024 });
  }

  async readRange(sha256: string, range: ByteRange, options: { openedSince?: number } = {}): Promise<Buffer> {
    // At most 256 handles (far below the descriptor limit), each closed after 5 s without a read.
    this.openFiles ??= new OpenFileCache({ maxOpen: 256, idleMs: 5_000 });
    const buffer = Buffer.allocUnsafe(range.end - range.start + 1);
    try {
      await this.openFiles.withHandle(this.localPath(sha256), options.openedSince ?? Infinity, async (handle) => {
        let filled = 0;
        while (filled < buffer.length) {
          const bytesRead = await readFrom(handle.fd, buffer, filled, range.start + filled);
          if (bytesRead === 0) throw new Error(`blob ${sha256} is shorter than the range ${range.start}-${range.end}`);
          filled += bytesRead;
        }
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new AppError('not_found', 'blob is missing from the store');
      throw err;
    }
    return buffer;
  }

  forget(sha256: string): void {
    this.openFiles?.forget(this.localPath(sha256));
  }

  async close(): Promise<void> {
    await this.openFiles?.close();
  }

  async stat(sha256: string): Promise<{ size: number } | null> {
    try {
      const s = await fs.stat(this.localPath(sha256));
      return { size: s.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(sha256: string): Promise<boolean> {
    const file = this.localPath(sha256);
    const removed = await removeIfExists(file);
    if (removed) await fsyncDir(path.dirname(file));
    return removed;
  }

  async *list(): AsyncIterable<string> {
    for await (const dir of this.leafDirs()) {
      for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
        if (/^[0-9a-f]{64}$/.test(name)) yield name;
      }
    }
  }

  async sweepTemporaries(olderThan: Date): Promise<number> {
    let removed = 0;
    for await (const dir of this.leafDirs()) removed += await removeFilesOlderThan(dir, olderThan, (name) => name.endsWith('.tmp'));
    return removed;
  }

  /** blobs/<aa>/<bb> directories. */
  private async *leafDirs(): AsyncIterable<string> {
    for (const a of await fs.readdir(this.blobsRoot).catch(() => [] as string[])) {
      for (const b of await fs.readdir(path.join(this.blobsRoot, a)).catch(() => [] as string[])) yield path.join(this.blobsRoot, a, b);
    }
  }

  /** The blob's file opened for reading; 404 not_found when it is missing. */
  private async openBlob(sha256: string): Promise<fs.FileHandle> {
    return fs.open(this.localPath(sha256), 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new AppError('not_found', 'blob is missing from the store');
      throw err;
    });
  }

  private async sizeOf(file: string): Promise<number | null> {
    try {
      return (await fs.stat(file)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }
}

/**
 * fs.read with a callback on the handle's descriptor: for 1 KiB reads it costs a third of the CPU of
 * FileHandle.read (no promise machinery per call; bench/ download scenario).
 */
function readFrom(fd: number, buffer: Buffer, offset: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    readAt(fd, buffer, offset, buffer.length - offset, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead)));
  });
}
