// multer storage engine of the upload route: each file part streams into STAGING_PATH under our own name, every chunk
// passing the upload's capacity reservation first; a refused chunk or a failed write leaves no partial file behind.
import fs from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream';
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
      const source = file.stream;
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
      const onData = (chunk: Buffer) => {
        try {
          reservation.take(chunk.length);
        } catch (err) {
          fail(err as Error);
          return;
        }
        size += chunk.length;
        if (!out.write(chunk)) source.pause();
      };
      const onEnd = () => out.end();
      const onDrain = () => source.resume();
      source.on('data', onData);
      source.once('end', onEnd);
      source.once('error', fail);
      out.on('drain', onDrain);
      // Not before the descriptor is closed, so after the fsync of flush: true (finished waits for 'close').
      finished(out, (streamErr) => {
        source.off('data', onData).off('end', onEnd).off('error', fail);
        out.off('drain', onDrain);
        const err = failure ?? streamErr;
        if (!err) {
          open.delete(file);
          cb(null, { destination: stagingPath, filename: path.basename(stagedPath), path: stagedPath, size });
          return;
        }
        if (!failure) fail(err);
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
