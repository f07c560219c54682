// multer storage engine for one upload: each file part streams into STAGING_PATH under our own name, every chunk
// passing the upload's capacity reservation first; a refused chunk or a failed write leaves no partial file behind.
import fs from 'node:fs';
import path from 'node:path';
import { pipeline, Transform } from 'node:stream';
import type { StorageEngine } from 'multer';
import type { StagingReservation } from '../shared/domain/capacity.js';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
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

export function stagingEngine(stagingPath: string, reservation: StagingReservation, log: Logger, writerId?: string): StorageEngine {
  const open = new WeakMap<object, fs.WriteStream>();

  const remove = async (file: Express.Multer.File): Promise<void> => {
    const out = open.get(file);
    if (out) await released(out);
    if (file.path) await removeIfExists(file.path);
  };

  return {
    _handleFile(_req, file, cb) {
      const stagedPath = path.join(stagingPath, newStagedName(writerId));
      // Set before the first byte, so multer's abort cleanup (a client gone mid-file) finds and removes it.
      file.path = stagedPath;
      // flush: fsync before close. The 202 acknowledges these bytes, so they must survive a power loss before it.
      const out = fs.createWriteStream(stagedPath, { flags: 'wx', mode: 0o640, flush: true });
      open.set(file, out);
      let size = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _encoding, next) {
          try {
            reservation.take(chunk.length);
          } catch (err) {
            next(err as Error);
            return;
          }
          size += chunk.length;
          next(null, chunk);
        },
      });
      // Not one pipeline from file.stream: it would destroy the part's stream with the raw write error, which
      // multer reports before our callback can say what it means (ENOSPC -> 507).
      const source = file.stream;
      const onSourceError = (err: Error) => meter.destroy(err);
      source.once('error', onSourceError);
      source.pipe(meter);
      pipeline(meter, out, (err) => {
        source.off('error', onSourceError);
        if (!err) {
          open.delete(file);
          cb(null, { destination: stagingPath, filename: path.basename(stagedPath), path: stagedPath, size });
          return;
        }
        // Discard the rest of this part; multer aborts the request on our error.
        source.unpipe(meter);
        source.resume();
        // multer removes files that were stored or are still being written, not one whose engine failed: ours.
        void remove(file)
          .catch((removeErr: unknown) => log.error({ err: removeErr, stagedPath }, 'could not remove a partly staged file'))
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
