// The ingest pipeline: walk, skip what the report says is done, hash in a thread pool, ask `exists`, upload the
// rest (declared sha256 + Idempotency-Key, so a rerun never makes a second file), follow the jobs. With --report,
// small files travel several per request; each batch is recorded (`sending` lines) before it is sent, so a rerun
// after a crash resends the very same batch under the same key.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ArtstoreError, type Client, type Job, type UploadFields } from '../client/index.js';
import { CliHashPool } from './hash-pool.js';
import type { IngestOutput, IngestSummary } from './ingest-output.js';
import { JobTracker } from './job-tracker.js';
import { Limiter } from './limiter.js';
import type { BatchRef } from './report.js';
import { isDone, readReport, ReportWriter, resendableBatch, type AnyReportLine, type ReportLine } from './report.js';
import { walkPaths, type LocalFile } from './walk.js';

export interface IngestOptions {
  paths: string[];
  client: Client;
  concurrency: number;
  reportFile?: string;
  include: string[];
  exclude: string[];
  tags: string[];
  description?: string;
  output: IngestOutput;
  /** Test hook (see env.ts): overwrite this file's first bytes right after it is hashed. */
  corruptAfterHash?: string;
}

interface HashedFile extends LocalFile {
  sha256: string;
}

// exists takes up to 1000 digests; a chunk also stops at this many bytes so uploads start while big trees hash.
const CHUNK_FILES = 1000;
const CHUNK_BYTES = 256 * 1024 * 1024;

/** Files up to this size share requests (with --report): per-request work dominates for them, not the bytes. */
export const BATCH_FILE_MAX_BYTES = 1024 * 1024;
const BATCH_MAX_FILES = 32;
const BATCH_MAX_BYTES = 8 * 1024 * 1024;

/** Errors after which every further request would fail the same way: stop sending. */
function isFatal(err: unknown): boolean {
  return err instanceof ArtstoreError && (err.status === 401 || err.status === 403 || err.status === 0 || err.code === 'mode_forbids');
}

function chunked(files: LocalFile[]): LocalFile[][] {
  const out: LocalFile[][] = [];
  let current: LocalFile[] = [];
  let bytes = 0;
  for (const f of files) {
    if (current.length > 0 && (current.length >= CHUNK_FILES || bytes + f.size > CHUNK_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(f);
    bytes += f.size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

export function idempotencyKey(f: HashedFile): string {
  return createHash('sha256').update(`${f.path}|${f.size}|${f.mtimeMs}|${f.sha256}`).digest('hex');
}

/** A batch's key: derived from its members' own keys, in order. */
export function batchIdempotencyKey(files: HashedFile[]): string {
  return createHash('sha256').update(files.map(idempotencyKey).join('\n')).digest('hex');
}

/**
 * Batches an earlier run recorded as `sending` and did not finish, complete and unchanged, in their order:
 * they are sent again first, under their recorded keys. Members of a batch that changed since go the usual way.
 */
function unfinishedBatches(todo: LocalFile[], previous: Map<string, AnyReportLine>): Array<{ key: string; files: HashedFile[] }> {
  const groups = new Map<string, Array<{ file: HashedFile; batch: BatchRef }>>();
  for (const f of todo) {
    const line = previous.get(f.path);
    const batch = resendableBatch(line);
    if (!batch || !line?.sha256 || line.size !== f.size || line.mtimeMs !== f.mtimeMs) continue;
    let group = groups.get(batch.key);
    if (!group) groups.set(batch.key, (group = []));
    group.push({ file: { ...f, sha256: line.sha256 }, batch });
  }
  const out: Array<{ key: string; files: HashedFile[] }> = [];
  for (const [key, members] of groups) {
    const size = members[0]!.batch.size;
    members.sort((a, b) => a.batch.index - b.batch.index);
    const complete = members.length === size && members.every((m, i) => m.batch.index === i && m.batch.size === size);
    if (complete) out.push({ key, files: members.map((m) => m.file) });
  }
  return out;
}

async function corrupt(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    await handle.write(Buffer.from('corrupted after hashing'), 0, undefined, 0);
  } finally {
    await handle.close();
  }
}

export async function runIngest(opts: IngestOptions): Promise<IngestSummary> {
  const started = Date.now();
  const files = await walkPaths(opts.paths, { include: opts.include, exclude: opts.exclude });
  const previous = opts.reportFile ? await readReport(opts.reportFile) : new Map<string, ReportLine>();
  const todo = files.filter((f) => !isDone(previous.get(f.path), f.size, f.mtimeMs));
  const summary: IngestSummary = {
    files: files.length,
    bytes: files.reduce((n, f) => n + f.size, 0),
    committed: 0,
    duplicate: 0,
    present: 0,
    failed: 0,
    skipped: files.length - todo.length,
    uploadedBytes: 0,
    elapsedMs: 0,
    filesPerSecond: 0,
    megabytesPerSecond: 0,
  };
  opts.output.start(todo.length, todo.reduce((n, f) => n + f.size, 0));

  const report = opts.reportFile ? new ReportWriter(opts.reportFile) : undefined;
  await report?.open();
  const pool = new CliHashPool();
  pool.open();
  const tracker = new JobTracker(opts.client);
  const uploads = new Limiter(opts.concurrency);
  const hashing = new Limiter(pool.size * 2);
  const failures: ReportLine[] = [];
  const corruptPath = opts.corruptAfterHash ? path.resolve(opts.corruptAfterHash) : undefined;
  let fatal: unknown;
  const fields: UploadFields = {};
  if (opts.tags.length > 0) fields.tags = opts.tags;
  if (opts.description !== undefined) fields.description = opts.description;

  const finish = async (line: ReportLine): Promise<ReportLine> => {
    if (line.state === 'failed') {
      summary.failed++;
      failures.push(line);
    } else {
      summary[line.state]++;
    }
    await report?.append(line);
    opts.output.fileDone(line);
    return line;
  };
  const failedLine = (f: LocalFile, sha256: string | null, err: unknown, jobId: string | null = null): ReportLine => ({
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
  });

  const follow = async (f: HashedFile, job: Job): Promise<ReportLine> => {
    try {
      const final = await tracker.wait(job);
      if (final.state === 'failed') return failedLine(f, f.sha256, new ArtstoreError({ status: 200, code: final.error?.code ?? 'failed', detail: final.error?.message ?? 'the ingest job failed' }), final.id);
      return { path: f.path, size: f.size, mtimeMs: f.mtimeMs, sha256: f.sha256, jobId: final.id, fileId: final.fileId ?? null, state: final.state === 'duplicate' ? 'duplicate' : 'committed' };
    } catch (err) {
      return failedLine(f, f.sha256, err, job.id);
    }
  };

  /** Sends files in one request (one digest each, in order) under key; one report line per file. */
  const send = async (files: HashedFile[], key: string): Promise<ReportLine[]> => {
    if (fatal) return files.map((f) => failedLine(f, f.sha256, fatal));
    let jobs: Job[];
    try {
      jobs = await uploads.run(async () => {
        if (fatal) throw fatal;
        const answer = await opts.client.upload(
          files.map((f) => ({ path: f.path })),
          { ...fields, sha256: files.map((f) => f.sha256).join(',') },
          { idempotencyKey: key },
        );
        if (!answer.replayed) summary.uploadedBytes += files.reduce((n, f) => n + f.size, 0);
        if (answer.jobs.length !== files.length) throw new Error(`the element answered ${answer.jobs.length} jobs for ${files.length} files`);
        return answer.jobs;
      });
    } catch (err) {
      if (isFatal(err)) fatal ??= err;
      return files.map((f) => failedLine(f, f.sha256, err));
    }
    return Promise.all(files.map((f, i) => follow(f, jobs[i]!)));
  };

  const upload = async (f: HashedFile): Promise<ReportLine> => (await send([f], idempotencyKey(f)))[0]!;

  /** Records the batch in the report, then sends it: a crash in between is resent as the same batch. */
  const sendBatch = async (files: HashedFile[], key = batchIdempotencyKey(files), recorded = false): Promise<ReportLine[]> => {
    if (!recorded && report) {
      await Promise.all(
        files.map((f, index) =>
          report.append({ path: f.path, size: f.size, mtimeMs: f.mtimeMs, sha256: f.sha256, state: 'sending', batch: { key, index, size: files.length } }),
        ),
      );
    }
    const lines = await send(files, key);
    // The request itself failed (no job): keep the batch on the line, so a rerun resends it under the same key.
    return lines.map((l, index) => (l.state === 'failed' && l.jobId === null ? { ...l, batch: { key, index, size: files.length } } : l));
  };

  // Small files wait here until a batch is full or the chunk ends; each waits for its own line.
  let open: Array<{ file: HashedFile; resolve: (line: ReportLine) => void }> = [];
  let openBytes = 0;
  const flush = () => {
    if (open.length === 0) return;
    const members = open;
    open = [];
    openBytes = 0;
    void sendBatch(members.map((m) => m.file)).then(
      (lines) => members.forEach((m, i) => m.resolve(lines[i]!)),
      (err: unknown) => members.forEach((m) => m.resolve(failedLine(m.file, m.file.sha256, err))),
    );
  };
  const batching = report !== undefined;
  const enqueueUpload = (f: HashedFile): Promise<ReportLine> => {
    if (!batching || f.size > BATCH_FILE_MAX_BYTES) return upload(f);
    if (open.length >= BATCH_MAX_FILES || (open.length > 0 && openBytes + f.size > BATCH_MAX_BYTES)) flush();
    const line = new Promise<ReportLine>((resolve) => open.push({ file: f, resolve }));
    openBytes += f.size;
    return line;
  };

  // One upload per distinct content in a run: later files with the same sha256 wait for the first one.
  const leaders = new Map<string, Promise<ReportLine>>();
  const pending: Array<Promise<ReportLine>> = [];

  try {
    // First the batches an earlier run recorded but did not finish, each as it was, under its own key.
    const resumed = unfinishedBatches(todo, previous);
    const resumedPaths = new Set(resumed.flatMap((b) => b.files.map((f) => f.path)));
    for (const b of resumed) {
      const lines = sendBatch(b.files, b.key, true);
      b.files.forEach((f, i) => {
        const line = lines.then((all) => all[i]!);
        leaders.set(f.sha256, leaders.get(f.sha256) ?? line);
        pending.push(line.then(finish));
      });
    }
    for (const chunk of chunked(todo.filter((f) => !resumedPaths.has(f.path)))) {
      if (fatal) {
        for (const f of chunk) pending.push(finish(failedLine(f, null, fatal)));
        continue;
      }
      const hashed = await Promise.all(
        chunk.map((f) =>
          hashing.run(async (): Promise<HashedFile | ReportLine> => {
            try {
              const { sha256 } = await pool.hash(f.path);
              if (corruptPath === f.path) await corrupt(f.path);
              return { ...f, sha256 };
            } catch (err) {
              return failedLine(f, null, err);
            }
          }),
        ),
      );
      const ok = hashed.filter((h): h is HashedFile => !('state' in h));
      for (const h of hashed) if ('state' in h) pending.push(finish(h));
      const unknown = [...new Set(ok.map((f) => f.sha256).filter((s) => !leaders.has(s)))];
      let present = new Set<string>();
      try {
        present = new Set((await opts.client.exists(unknown)).present);
      } catch (err) {
        if (isFatal(err)) fatal ??= err;
        for (const f of ok) pending.push(finish(failedLine(f, f.sha256, err)));
        continue;
      }
      for (const f of ok) {
        const presentLine: ReportLine = { path: f.path, size: f.size, mtimeMs: f.mtimeMs, sha256: f.sha256, jobId: null, fileId: null, state: 'present' };
        const leader = leaders.get(f.sha256);
        if (leader) {
          pending.push(leader.then((first) => (first.state === 'failed' ? upload(f) : { ...presentLine, fileId: first.fileId })).then(finish));
        } else if (present.has(f.sha256)) {
          const line = Promise.resolve(presentLine);
          leaders.set(f.sha256, line);
          pending.push(line.then(finish));
        } else {
          const line = enqueueUpload(f);
          leaders.set(f.sha256, line);
          pending.push(line.then(finish));
        }
      }
      flush();
    }
    flush();
    await Promise.all(pending);
  } finally {
    await tracker.close();
    await pool.close();
    await report?.close();
  }
  summary.elapsedMs = Date.now() - started;
  const seconds = Math.max(0.001, summary.elapsedMs / 1000);
  summary.filesPerSecond = Number((todo.length / seconds).toFixed(2));
  summary.megabytesPerSecond = Number((summary.uploadedBytes / 1e6 / seconds).toFixed(2));
  opts.output.finish(summary, failures);
  return summary;
}
