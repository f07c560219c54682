// Sending hashed files: one upload per large file, small files several per request (with --report; each batch is
// recorded before it is sent), each job followed to its final state, and sending stopped after an error that
// every further request would repeat.
import { ArtstoreError, type Client, type Job, type UploadFields } from '../client/index.js';
import type { IngestSummary } from './ingest-output.js';
import { batchIdempotencyKey, idempotencyKey, type HashedFile } from './ingest-plan.js';
import type { JobTracker } from './job-tracker.js';
import { Limiter } from './limiter.js';
import type { ReportLine, ReportWriter } from './report.js';
import type { LocalFile } from './walk.js';

/** Files up to this size share requests (with --report): per-request work dominates for them, not the bytes. */
export const BATCH_FILE_MAX_BYTES = 1024 * 1024;
const BATCH_MAX_FILES = 32;
const BATCH_MAX_BYTES = 8 * 1024 * 1024;

/** Errors after which every further request would fail the same way: stop sending. */
function isFatal(err: unknown): boolean {
  return err instanceof ArtstoreError && (err.status === 401 || err.status === 403 || err.status === 0 || err.code === 'mode_forbids');
}

export function failedLine(f: LocalFile, sha256: string | null, err: unknown, jobId: string | null = null): ReportLine {
  return {
    path: f.path,
    size: f.size,
    mtimeMs: f.mtimeMs,
    sha256,
    jobId,
    fileId: null,
    state: 'failed',
    error:
      err instanceof ArtstoreError
        ? { code: err.code, message: err.detail }
        : { code: (err as NodeJS.ErrnoException)?.code ?? 'error', message: err instanceof Error ? err.message : String(err) },
  };
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
}

export class UploadSender {
  /** The first error that every further request would repeat (401, 403, unreachable, mode_forbids). */
  fatal: unknown;
  private readonly uploads: Limiter;
  // Small files wait here until a batch is full or the chunk ends; each waits for its own line.
  private open: Array<{ file: HashedFile; resolve: (line: ReportLine) => void }> = [];
  private openBytes = 0;

  constructor(private readonly deps: SenderDeps) {
    this.uploads = new Limiter(deps.concurrency);
  }

  /** Remembers err as the reason to stop sending when it is one every further request would repeat. */
  noteError(err: unknown): void {
    if (isFatal(err)) this.fatal ??= err;
  }

  /** One file in its own request, under its own key. */
  async upload(f: HashedFile): Promise<ReportLine> {
    return (await this.send([f], idempotencyKey(f)))[0]!;
  }

  /** A file's report line once it is sent and its job final: batched when small and a report is kept. */
  enqueue(f: HashedFile): Promise<ReportLine> {
    if (!this.deps.report || f.size > BATCH_FILE_MAX_BYTES) return this.upload(f);
    if (this.open.length >= BATCH_MAX_FILES || (this.open.length > 0 && this.openBytes + f.size > BATCH_MAX_BYTES)) this.flush();
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
    if (!recorded && report) {
      await Promise.all(
        files.map((f, index) =>
          report.append({ path: f.path, size: f.size, mtimeMs: f.mtimeMs, sha256: f.sha256, state: 'sending', batch: { key, index, size: files.length } }),
        ),
      );
    }
    const lines = await this.send(files, key);
    // The request itself failed (no job): keep the batch on the line, so a rerun resends it under the same key.
    return lines.map((l, index) => (l.state === 'failed' && l.jobId === null ? { ...l, batch: { key, index, size: files.length } } : l));
  }

  /** Sends files in one request (one digest each, in order) under key; one report line per file. */
  private async send(files: HashedFile[], key: string): Promise<ReportLine[]> {
    if (this.fatal) return files.map((f) => failedLine(f, f.sha256, this.fatal));
    const { client, fields, summary } = this.deps;
    let jobs: Job[];
    try {
      jobs = await this.uploads.run(async () => {
        if (this.fatal) throw this.fatal;
        const answer = await client.upload(
          files.map((f) => ({ path: f.path })),
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
    }
    return Promise.all(files.map((f, i) => this.follow(f, jobs[i]!)));
  }

  private async follow(f: HashedFile, job: Job): Promise<ReportLine> {
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
