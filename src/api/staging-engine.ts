// multer storage engine of the upload route: each file part streams into STAGING_PATH under our own name, every chunk
// passing the upload's capacity reservation first and hashed (sha256) as it is written; a large part is synced as it
// arrives; a refused chunk or a failed write leaves no partial file behind.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { finished, type Readable } from 'node:stream';
import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import type { StagingReservation } from '../shared/domain/capacity.js';
import { AppError } from '../shared/errors.js';
import { removeIfExists } from '../shared/storage/durable-fs.js';
import { newStagedName } from '../shared/storage/staging.js';

/** A full disk (or quota) while staging is the client's 507, not our 500 (SPEC §5). */
function stagingError(err: Error): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new AppError('insufficient_storage', `the staging filesystem is full (${code}); the upload was not stored`);
  }
  return err;
}

/** Waits until the write stream's descriptor is closed (or never opened), so an unlink cannot race its open. */
function released(out: fs.WriteStream): Promise<void> {
  if (out.closed) return Promise.resolve();
  return new Promise((resolve) => {
    out.once('close', () => resolve());
    out.destroy();
  });
}

/**
 * A durable part is synced (fdatasync) every SYNC_EVERY_BYTES while it arrives, so that the disk writes it during the
 * receipt rather than all at once in the fsync before the 202 (256 MiB took most of a second there). Whatever was
 * written and not yet synced is bounded by MAX_UNSYNCED_BYTES: past it the part is read no further until the sync in
 * flight is done. The final fsync (flush: true) still covers every byte; these syncs only start the work early.
 */
export const SYNC_EVERY_BYTES = 16 * 1024 * 1024;
export const MAX_UNSYNCED_BYTES = 4 * SYNC_EVERY_BYTES;

/** What the engine reports of a stored part: multer's fields, plus the sha256 of exactly the bytes written. */
export interface StagedPartInfo {
  destination: string;
  filename: string;
  path: string;
  size: number;
  sha256: string;
}

/**
 * The engine of every upload (multer's storage); the upload's reservation comes from its request. Each file part is
 * written straight to its staged file, with no stream between them: a Transform and pipeline() per file cost more
 * CPU than the rest of a 16 KiB file's staging.
 */
export function stagingEngine(
  stagingPath: string,
  reservationOf: (req: Request) => StagingReservation,
  writerId?: string,
  options: { durable?: boolean } = {},
): StorageEngine {
  const durable = options.durable ?? true;
  const open = new WeakMap<object, fs.WriteStream>();

  const remove = async (file: Express.Multer.File): Promise<void> => {
    const out = open.get(file);
    if (out) await released(out);
    if (file.path) await removeIfExists(file.path);
  };

  return {
    _handleFile(req, file, cb) {
      const reservation = reservationOf(req);
      const stagedPath = path.join(stagingPath, newStagedName(writerId));
      // Set before the first byte, so multer's abort cleanup (a client gone mid-file) finds and removes it.
      file.path = stagedPath;
      // flush: fsync before close. The 202 acknowledges these bytes, so they must survive a power loss before it,
      // unless the staging publishes them elsewhere before the 202 (the bucket), when this file is only scratch.
      const out = fs.createWriteStream(stagedPath, { flags: 'wx', mode: 0o640, flush: durable });
      open.set(file, out);
      pumpPart(file.stream, out, reservation, durable, (err, written) => {
        if (!err) {
          open.delete(file);
          const info: StagedPartInfo = { destination: stagingPath, filename: path.basename(stagedPath), path: stagedPath, ...written };
          cb(null, info);
          return;
        }
        // multer removes files that were stored or are still being written, not one whose engine failed: ours.
        void remove(file)
          .catch((removeErr: unknown) => req.log.error({ err: removeErr, stagedPath }, 'could not remove a partly staged file'))
          .then(() => cb(stagingError(err)));
      });
    },
    _removeFile(_req, file, cb) {
      remove(file).then(
        () => cb(null),
        (err: unknown) => cb(err as Error),
      );
    },
  };
}

/**
 * Writes one part's bytes (source) to its staged file (out), each chunk through the reservation first and into the
 * digest; done runs once the descriptor is closed (after the fsync of flush: true), with the first error or with
 * the size and sha256 of exactly the bytes written.
 */
function pumpPart(
  source: Readable,
  out: fs.WriteStream,
  reservation: StagingReservation,
  durable: boolean,
  done: (err: Error | undefined, written: { size: number; sha256: string }) => void,
): void {
  // The digest of exactly the bytes handed to the file, in order: the job records it and the worker does not
  // read a local staged file again to hash it (see the README's durability section).
  const hash = createHash('sha256');
  let size = 0;
  let failure: Error | undefined;
  const fail = (err: Error) => {
    if (failure) return;
    failure = err;
    // Discard the rest of this part; multer aborts the request on our error.
    source.off('data', onData);
    source.resume();
    out.destroy(err);
  };
  const syncer = durable ? new RollingSync(out, fail) : undefined;
  // Reading resumes only when neither the file's buffer nor the unsynced bytes hold it back.
  const resumeIfClear = () => {
    if (!failure && !out.writableNeedDrain && !syncer?.holding(size)) source.resume();
  };
  const onData = (chunk: Buffer) => {
    try {
      reservation.take(chunk.length);
    } catch (err) {
      fail(err as Error);
      return;
    }
    size += chunk.length;
    hash.update(chunk);
    const flowing = out.write(chunk);
    syncer?.wrote(resumeIfClear);
    if (!flowing || syncer?.holding(size)) source.pause();
  };
  // The syncs are over (their own descriptor closed) before the final fsync and close.
  const onEnd = () =>
    void (syncer ? syncer.close() : Promise.resolve()).then(() => {
      if (!failure) out.end();
    });
  source.on('data', onData);
  source.once('end', onEnd);
  source.once('error', fail);
  out.on('drain', resumeIfClear);
  // Not before the descriptor is closed, so after the fsync of flush: true (finished waits for 'close').
  finished(out, (streamErr) => {
    source.off('data', onData).off('end', onEnd).off('error', fail);
    out.off('drain', resumeIfClear);
    const err = failure ?? streamErr ?? undefined;
    if (err && !failure) fail(err);
    // Reported only once no sync is in flight and the syncs' descriptor is closed: nothing of the part stays open.
    void (syncer ? syncer.close() : Promise.resolve()).then(() => done(err, { size, sha256: err ? '' : hash.digest('hex') }));
  });
}

/**
 * The syncs of one staged file while it is written: one fdatasync at a time, started once SYNC_EVERY_BYTES more were
 * written (by the stream: bytesWritten counts completed writes) since the last one began. They run on a descriptor
 * of their own, opened at the first and closed by close() once no sync is in flight: the stream closes its own
 * whenever the part fails, and a sync on a number closed under it could land on the next file opened with that
 * number and take that file's write-back error from it (reported once per open file), so its own fsync passed.
 */
class RollingSync {
  private syncedTo = 0;
  private startedAt = 0;
  private inFlight: Promise<void> | undefined;
  private fd: number | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly out: fs.WriteStream,
    private readonly fail: (err: Error) => void,
  ) {}

  /** Whether reading must wait: more than MAX_UNSYNCED_BYTES of the received bytes are not synced yet. */
  holding(received: number): boolean {
    return received - this.syncedTo > MAX_UNSYNCED_BYTES;
  }

  /**
   * After a write was handed to the stream: starts a sync when one is due; onSynced runs when it ends. A sync that
   * ends starts the next one if due, so a reader held back by holding() always has a sync in flight to wait for.
   */
  wrote(onSynced: () => void): void {
    const written = this.out.bytesWritten;
    if (this.inFlight || this.closing || this.out.destroyed || written - this.startedAt < SYNC_EVERY_BYTES) return;
    this.startedAt = written;
    this.inFlight = new Promise<void>((resolve) => {
      const synced = (err: Error | null) => {
        this.inFlight = undefined;
        // A part that failed meanwhile was destroyed: its sync's outcome no longer matters.
        if (err) this.fail(err);
        else this.syncedTo = written;
        this.wrote(onSynced);
        resolve();
        onSynced();
      };
      if (this.fd !== undefined) return fs.fdatasync(this.fd, synced);
      // The file exists: bytes were written to it.
      fs.open(this.out.path, 'r', (err, fd) => {
        if (err) return synced(err);
        this.fd = fd;
        fs.fdatasync(fd, synced);
      });
    });
  }

  /** Starts no sync any more, waits for the one in flight, and closes the syncs' descriptor (once, however often asked). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.inFlight) await this.inFlight;
      const fd = this.fd;
      this.fd = undefined;
      if (fd !== undefined) await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
    })();
    return this.closing;
  }
}
