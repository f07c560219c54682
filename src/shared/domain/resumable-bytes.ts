// Where a resumable upload's bytes wait (local staging only): STAGING_PATH/resumable/<id>.upload, appended in place.
// The staging janitor lists only STAGING_PATH's own files, so it never takes these; expiry removes them.
// S3 staging cannot append to an object: resumable uploads are refused there (501 resumable_unsupported).
import fs from 'node:fs/promises';
import path from 'node:path';
import { ensureDirDurable, fsyncDir, removeIfExists } from '../storage/durable-fs.js';
import { newStagedName } from '../storage/staging.js';

export const RESUMABLE_DIR = 'resumable';

export class ResumableBytes {
  private readonly dir: string;

  constructor(private readonly stagingPath: string) {
    this.dir = path.join(stagingPath, RESUMABLE_DIR);
  }

  pathOf(uploadId: string): string {
    // uploadId is a UUID we made; the name is never the client's.
    return path.join(this.dir, `${uploadId}.upload`);
  }

  /** An empty file whose directory entry is durable before the upload's row promises it exists. */
  async create(uploadId: string): Promise<void> {
    await ensureDirDurable(this.dir);
    const fh = await fs.open(this.pathOf(uploadId), 'wx', 0o640);
    await fh.close();
    await fsyncDir(this.dir);
  }

  /**
   * The bytes a resume may trust: min(recorded offset, file size). Bytes past the recorded offset were written but
   * never acknowledged (the writer died before its fsync and record): they are cut off here. -1: the file is gone.
   */
  async reconcile(uploadId: string, recordedOffset: number): Promise<number> {
    const file = this.pathOf(uploadId);
    const size = await fs.stat(file).then((s) => s.size, () => -1);
    if (size < 0) return -1;
    if (size > recordedOffset) {
      await fs.truncate(file, recordedOffset);
      return recordedOffset;
    }
    return size;
  }

  /** Opens the file for appends at a known offset (the caller holds the upload's lock). */
  open(uploadId: string): Promise<fs.FileHandle> {
    return fs.open(this.pathOf(uploadId), 'r+');
  }

  /**
   * Hard-links the complete upload into STAGING_PATH under a staged name of this writer: the ingest job owns that
   * name (and removes it), while the upload's own file stays until the job is recorded.
   */
  async linkToStaging(uploadId: string, writerId?: string): Promise<string> {
    const staged = path.join(this.stagingPath, newStagedName(writerId));
    await fs.link(this.pathOf(uploadId), staged);
    return staged;
  }

  async remove(uploadId: string): Promise<void> {
    await removeIfExists(this.pathOf(uploadId));
  }
}
