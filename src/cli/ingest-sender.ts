// Sending hashed files: one upload per large file, small files several per request (with --report; each batch is
// recorded before it is sent), each job followed to its final state, and sending stopped after an error that
// every further request would repeat. Files wait here until sent; the pipeline asks for room() before it hashes
// more, so a big tree is never held in memory at once.
import path from 'node:path';
import { ArtstoreError, type Client, type Job, type UploadFields, type UploadSource } from '../client/index.js';
import { failedLine } from './failed-line.js';
import { sendResumable } from './ingest-large.js';
import type { IngestSummary } from './ingest-output.js';
import { batchIdempotencyKey, idempotencyKey, type HashedFile } from './ingest-plan.js';
import type { JobTracker } from './job-tracker.js';
import { Limiter } from './limiter.js';
import type { ReportLine, ReportWriter } from './report.js';
import type { LocalFile } from './walk.js';

/** Default of --resumable-mib: files from this size on go through the resumable endpoint (SPEC §9). */
export const DEFAULT_RESUMABLE_MIB = 64;
/** Files up to this size share requests (with --report): per-request work dominates for them, not the bytes. */
export const BATCH_FILE_MAX_BYTES = 1024 * 1024;
/**
 * Defaults of --batch-files and --batch-mib: files and bytes per request at most. 100 is the element's default
 * MAX_FILES_PER_UPLOAD (an element that takes fewer answers too_many_files, and the batch is split).
 */
export const DEFAULT_BATCH_FILES = 100;
export const DEFAULT_BATCH_MIB = 16;

/** Errors after which every further request would fail the same way: stop sending. */
function isFatal(err: unknown): boolean {
  return err instanceof ArtstoreError && (err.status === 401 || err.status === 403 || err.status === 0 || err.code === 'mode_forbids');
}

export interface SenderDeps {
  client: Client;
  tracker: JobTracker;
  /** Uploads in flight at most. */
  concurrency: number;
  /** Upload fields every file gets (tags, description); sha256 is added per request. */
  fields: UploadFields;
  /** uploadedBytes grows here. */
  summary: IngestSummary;
  /** With a report, small files are batched. */
  report?: ReportWriter;
  /** Files and bytes per batch at most. */
  batchFiles: number;
  batchBytes: number;
  /** Files of at least this many bytes go through the resumable endpoint (--resumable-mib). */
  resumableBytes: number;
  /** Resumable uploads an earlier run left unfinished, by path (from the report). */
  uploadUrls: Map<string, string>;
}

/** What a request carries of a file: the bytes read when it was hashed, or its hashed size read from disk. */
function sourceOf(f: HashedFile): UploadSource {
  return f.bytes ? { data: f.bytes, name: path.basename(f.path) } : { path: f.path, size: f.hashedSize };
}

export class UploadSender {
  /** The first error that every further request would repeat (401, 403, unreachable, mode_forbids). */
  fatal: unknown;
  /** Requests in flight (the large-file paths of ingest-large.ts take their place here too). */
  readonly uploads: Limiter;
  // Small files wait here until a batch is full or the chunk ends; each waits for its own line.
  private open: Array<{ file: HashedFile; resolve: (line: ReportLine) => void }> = [];
  private openBytes = 0;
  // Files handed over and not yet sent (their request not answered), and who waits for that number to drop.
  private queued = 0;
  private roomWaiters: Array<{ max: number; resolve: () => void }> = [];
  // Lowered for the rest of the run when the element refuses a batch as too many files.
  private batchFiles: number;
  /** Set for the rest of the run once the element answers that it has no resumable uploads (an older element). */
  resumableUnsupported = false;

  constructor(readonly deps: SenderDeps) {
    this.uploads = new Limiter(deps.concurrency);
    this.batchFiles = deps.batchFiles;
  }

  /** Resolves once at most `max` files wait to be sent. */
  room(max: number): Promise<void> {
    if (this.queued <= max) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push({ max, resolve }));
  }

  /** Files handed over are sent (or failed): room for more; ok drops their bytes. */
  sent(files: Array<LocalFile & { bytes?: Buffer }>, ok: boolean): void {
    this.queued -= files.length;
    // Their bytes are not needed any more (a resend after a failed leader reads the file again).
    if (ok) for (const f of files) f.bytes = undefined;
    this.roomWaiters = this.roomWaiters.filter((w) => (this.queued <= w.max ? (w.resolve(), false) : true));
  }

  /** Remembers err as the reason to stop sending when it is one every further request would repeat. */
  noteError(err: unknown): void {
    if (isFatal(err)) this.fatal ??= err;
  }

  /** Counts a file handed over to be sent (room() waits on these). */
  handedOver(): void {
    this.queued++;
  }

  /** One file in its own request, under its own key; a large one through the resumable endpoint. */
  async upload(f: HashedFile): Promise<ReportLine> {
    this.queued++;
    if (f.hashedSize >= this.deps.resumableBytes) return sendResumable(this, f);
    return (await this.send([f], idempotencyKey(f)))[0]!;
  }

  /** A file's report line once it is sent and its job final: batched when small and a report is kept. */
  enqueue(f: HashedFile): Promise<ReportLine> {
    if (!this.deps.report || f.size > BATCH_FILE_MAX_BYTES) return this.upload(f);
    const { batchBytes } = this.deps;
    this.queued++;
    if (this.open.length >= this.batchFiles || (this.open.length > 0 && this.openBytes + f.size > batchBytes)) this.flush();
    const line = new Promise<ReportLine>((resolve) => this.open.push({ file: f, resolve }));
    this.openBytes += f.size;
    return line;
  }

  /** Sends the small files waiting as one batch. */
  flush(): void {
    if (this.open.length === 0) return;
    const members = this.open;
    this.open = [];
    this.openBytes = 0;
    void this.sendBatch(members.map((m) => m.file)).then(
      (lines) => members.forEach((m, i) => m.resolve(lines[i]!)),
      (err: unknown) => members.forEach((m) => m.resolve(failedLine(m.file, m.file.sha256, err))),
    );
  }

  /** Records the batch in the report, then sends it: a crash in between is resent as the same batch. */
  async sendBatch(files: HashedFile[], key = batchIdempotencyKey(files), recorded = false): Promise<ReportLine[]> {
    const report = this.deps.report;
    // Files of a batch that an earlier run recorded come straight here; the others were counted by enqueue.
    if (recorded) this.queued += files.length;
    if (!recorded && report) {
      try {
        await Promise.all(
          files.map((f, index) =>
            report.append({ path: f.path, size: f.size, mtimeMs: f.mtimeMs, sha256: f.sha256, state: 'sending', batch: { key, index, size: files.length } }),
          ),
        );
      } catch (err) {
        this.sent(files, false);
        throw err;
      }
    }
    const lines = await this.send(files, key);
    if (files.length > 1 && lines.every((l) => l.state === 'failed' && l.jobId === null && l.error?.code === 'too_many_files')) {
      // The element takes fewer files per request (MAX_FILES_PER_UPLOAD) than asked for: no job was made, so the
      // halves go as new batches (recorded again, under their own keys), and so do later batches.
      const half = Math.ceil(files.length / 2);
      this.batchFiles = Math.min(this.batchFiles, half);
      this.queued += files.length;
      return [...(await this.sendBatch(files.slice(0, half))), ...(await this.sendBatch(files.slice(half)))];
    }
    // The request itself failed (no job): keep the batch on the line, so a rerun resends it under the same key.
    return lines.map((l, index) => (l.state === 'failed' && l.jobId === null ? { ...l, batch: { key, index, size: files.length } } : l));
  }

  /** Sends files in one request (one digest each, in order) under key; one report line per file. */
  async send(files: HashedFile[], key: string): Promise<ReportLine[]> {
    const { client, fields, summary } = this.deps;
    if (this.fatal) {
      this.sent(files, false);
      return files.map((f) => failedLine(f, f.sha256, this.fatal));
    }
    let jobs: Job[] | undefined;
    try {
      jobs = await this.uploads.run(async () => {
        if (this.fatal) throw this.fatal;
        const answer = await client.upload(
          files.map(sourceOf),
          { ...fields, sha256: files.map((f) => f.sha256).join(',') },
          { idempotencyKey: key },
        );
        if (!answer.replayed) summary.uploadedBytes += files.reduce((n, f) => n + f.size, 0);
        if (answer.jobs.length !== files.length) throw new Error(`the element answered ${answer.jobs.length} jobs for ${files.length} files`);
        return answer.jobs;
      });
    } catch (err) {
      this.noteError(err);
      return files.map((f) => failedLine(f, f.sha256, err));
    } finally {
      this.sent(files, jobs !== undefined);
    }
    return Promise.all(files.map((f, i) => this.follow(f, jobs![i]!)));
  }

  /** The file's line once its job is final. */
  async follow(f: HashedFile, job: Job): Promise<ReportLine> {
    try {
      const final = await this.deps.tracker.wait(job);
      if (final.state === 'failed') {
        const err = new ArtstoreError({ status: 200, code: final.error?.code ?? 'failed', detail: final.error?.message ?? 'the ingest job failed' });
        return failedLine(f, f.sha256, err, final.id);
      }
      const state = final.state === 'duplicate' ? 'duplicate' : 'committed';
      return { path: f.path, size: f.size, mtimeMs: f.mtimeMs, sha256: f.sha256, jobId: final.id, fileId: final.fileId ?? null, state };
    } catch (err) {
      return failedLine(f, f.sha256, err, job.id);
    }
  }
}
