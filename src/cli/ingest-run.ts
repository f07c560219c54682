// The ingest pipeline: walk, skip what the report says is done, hash (small files read once and kept, larger
// ones in a thread pool), ask `exists`, upload the rest (declared sha256 + Idempotency-Key, so a rerun never makes
// a second file), follow the jobs. Large files (--resumable-mib) are sent while they are hashed and decided once
// their digest is known (ingest-large.ts). With --report, small files travel several per request; each batch is recorded
// (`sending` lines) before it is sent, so a rerun after a crash resends the very same batch under the same key
// (ingest-sender.ts). Hashing runs at most a few chunks ahead of sending.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Client, UploadFields } from '../client/index.js';
import { digestFile, KEEP_BYTES_MAX, openCliHashPool, type HashPool } from './hashing.js';
import type { IngestOutput, IngestSummary } from './ingest-output.js';
import { CHUNK_FILES, chunked, unfinishedBatches, type HashedFile } from './ingest-plan.js';
import { sendWhileHashing, type SendDecision } from './ingest-large.js';
import { failedLine } from './failed-line.js';
import { UploadSender } from './ingest-sender.js';
import { JobTracker } from './job-tracker.js';
import { Limiter } from './limiter.js';
import { isDone, readReport, ReportWriter, resumableUploadUrl, type AnyReportLine, type ReportLine } from './report.js';
import { walkPaths, type LocalFile } from './walk.js';

export interface IngestOptions {
  paths: string[];
  client: Client;
  /** Upload requests in flight at most. */
  concurrency: number;
  /** Files and bytes per request at most (batches are made with a report only). */
  batchFiles: number;
  batchBytes: number;
  /** Files of at least this many bytes go through the resumable endpoint. */
  resumableBytes: number;
  reportFile?: string;
  include: string[];
  exclude: string[];
  tags: string[];
  description?: string;
  /** Retention every file gets (SPEC §10): ttlDays makes it temporary; retainUntil with retentionMode. */
  retention?: Pick<UploadFields, 'retentionPolicy' | 'ttlDays' | 'retainUntil' | 'retentionMode'>;
  output: IngestOutput;
  /** Test hook (see env.ts): overwrite this file's first bytes right after it is hashed. */
  corruptAfterHash?: string;
}

/** One run's moving parts, handed to the steps below. */
interface Run {
  opts: IngestOptions;
  summary: IngestSummary;
  report?: ReportWriter;
  pool: HashPool;
  hashing: Limiter;
  reading: Limiter;
  sender: UploadSender;
  failures: ReportLine[];
  corruptPath?: string;
  // One upload per distinct content in a run: later files with the same sha256 wait for the first one.
  leaders: Map<string, Promise<ReportLine>>;
  pending: Array<Promise<ReportLine>>;
}

function emptySummary(files: LocalFile[], todo: LocalFile[]): IngestSummary {
  return {
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
}

async function corrupt(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    await handle.write(Buffer.from('corrupted after hashing'), 0, undefined, 0);
  } finally {
    await handle.close();
  }
}

/** Counts a finished file, appends its report line and shows it. */
async function finish(run: Run, line: ReportLine): Promise<ReportLine> {
  if (line.state === 'failed') {
    run.summary.failed++;
    run.failures.push(line);
  } else {
    run.summary[line.state]++;
  }
  await run.report?.append(line);
  run.opts.output.fileDone(line);
  return line;
}

/** First the batches an earlier run recorded but did not finish, each as it was, under its own key. */
function resendUnfinished(run: Run, todo: LocalFile[], previous: Map<string, AnyReportLine>): Set<string> {
  const resumed = unfinishedBatches(todo, previous);
  for (const b of resumed) {
    const lines = run.sender.sendBatch(b.files, b.key, true);
    b.files.forEach((f, i) => {
      const line = lines.then((all) => all[i]!);
      run.leaders.set(f.sha256, run.leaders.get(f.sha256) ?? line);
      run.pending.push(line.then((l) => finish(run, l)));
    });
  }
  return new Set(resumed.flatMap((b) => b.files.map((f) => f.path)));
}

/** Files hashed but not yet sent at most: hashing waits for the sender beyond this (small files' bytes are held). */
const HASHED_AHEAD_FILES = 2 * CHUNK_FILES;
/** Small files read and hashed at once on the main thread (their reads overlap; the pool takes the larger ones). */
const SMALL_READS_AT_ONCE = 16;

/** The chunk's files with their sha256, or the failed line of a file that could not be read. */
function hashChunk(run: Run, chunk: LocalFile[]): Promise<Array<HashedFile | ReportLine>> {
  return Promise.all(
    chunk.map((f) =>
      (f.size <= KEEP_BYTES_MAX ? run.reading : run.hashing).run(async (): Promise<HashedFile | ReportLine> => {
        try {
          const { sha256, size, bytes } = await digestFile(run.pool, f.path, f.size);
          if (run.corruptPath === f.path) await corrupt(f.path);
          return { ...f, sha256, hashedSize: size, bytes };
        } catch (err) {
          return failedLine(f, null, err);
        }
      }),
    ),
  );
}

const presentLineOf = (f: HashedFile, fileId: string | null = null): ReportLine => ({
  path: f.path,
  size: f.size,
  mtimeMs: f.mtimeMs,
  sha256: f.sha256,
  jobId: null,
  fileId,
  state: 'present',
});

/** A later file with content already sent in this run: present once its leader is; sent itself if that failed. */
function followLeader(run: Run, f: HashedFile, leader: Promise<ReportLine>): Promise<ReportLine> {
  // Sent only if its leader fails, then read again from disk.
  f.bytes = undefined;
  return leader.then((first) => (first.state === 'failed' ? run.sender.upload(f) : presentLineOf(f, first.fileId)));
}

/** Each hashed file: present already, waiting for an earlier file of the same content, or sent. */
function routeHashed(run: Run, ok: HashedFile[], present: Set<string>): void {
  const { leaders, pending, sender } = run;
  const done = (l: ReportLine) => finish(run, l);
  for (const f of ok) {
    const leader = leaders.get(f.sha256);
    if (leader) {
      pending.push(followLeader(run, f, leader).then(done));
    } else if (present.has(f.sha256)) {
      const line = Promise.resolve(presentLineOf(f));
      leaders.set(f.sha256, line);
      pending.push(line.then(done));
    } else {
      const line = sender.enqueue(f);
      leaders.set(f.sha256, line);
      pending.push(line.then(done));
    }
  }
}

/**
 * A large file, sent while the pool hashes it (ingest-large.ts); once its digest is known it is decided as a hashed
 * file is: an earlier file of this run with that content leads it, or the element has it already, or it is sent on.
 */
function sendLarge(run: Run, f: LocalFile): void {
  const digest = run.hashing.run(() => digestFile(run.pool, f.path, f.size));
  const decide = async (hashed: HashedFile): Promise<SendDecision> => {
    const leader = run.leaders.get(hashed.sha256);
    if (leader) return { line: followLeader(run, hashed, leader) };
    // This file leads its content from now on (before the question below, so a twin hashed meanwhile follows it).
    run.leaders.set(hashed.sha256, own);
    const { present } = await run.opts.client.exists([hashed.sha256]);
    return present.includes(hashed.sha256) ? { line: Promise.resolve(presentLineOf(hashed)) } : { send: true };
  };
  const own: Promise<ReportLine> = sendWhileHashing(run.sender, f, digest, decide);
  run.pending.push(own.then((l) => finish(run, l)));
}

/** One chunk: hash it, ask `exists` for the digests not seen yet in this run, route each file. */
async function ingestChunk(run: Run, chunk: LocalFile[]): Promise<void> {
  const { sender, pending } = run;
  if (sender.fatal) {
    for (const f of chunk) pending.push(finish(run, failedLine(f, null, sender.fatal)));
    return;
  }
  // Large files are sent while they are hashed, unless the element turned out to have no resumable uploads.
  const large = sender.resumableUnsupported ? [] : chunk.filter((f) => f.size >= run.opts.resumableBytes);
  for (const f of large) sendLarge(run, f);
  const hashed = await hashChunk(run, large.length > 0 ? chunk.filter((f) => !large.includes(f)) : chunk);
  const ok = hashed.filter((h): h is HashedFile => !('state' in h));
  for (const h of hashed) if ('state' in h) pending.push(finish(run, h));
  const unknown = [...new Set(ok.map((f) => f.sha256).filter((s) => !run.leaders.has(s)))];
  let present: Set<string>;
  try {
    present = new Set((await run.opts.client.exists(unknown)).present);
  } catch (err) {
    sender.noteError(err);
    for (const f of ok) pending.push(finish(run, failedLine(f, f.sha256, err)));
    return;
  }
  routeHashed(run, ok, present);
  sender.flush();
}

/** Uploads the local files under opts.paths that are not done yet and follows their jobs; the run's summary. */
export async function uploadLocalFiles(opts: IngestOptions): Promise<IngestSummary> {
  const started = Date.now();
  const files = await walkPaths(opts.paths, { include: opts.include, exclude: opts.exclude });
  const previous = opts.reportFile ? await readReport(opts.reportFile) : new Map<string, ReportLine>();
  const todo = files.filter((f) => !isDone(previous.get(f.path), f.size, f.mtimeMs));
  const summary = emptySummary(files, todo);
  opts.output.start(todo.length, todo.reduce((n, f) => n + f.size, 0));

  const report = opts.reportFile ? new ReportWriter(opts.reportFile) : undefined;
  await report?.open();
  const pool = openCliHashPool();
  const tracker = new JobTracker(opts.client);
  const fields: UploadFields = {};
  if (opts.tags.length > 0) fields.tags = opts.tags;
  if (opts.description !== undefined) fields.description = opts.description;
  Object.assign(fields, opts.retention);
  const run: Run = {
    opts,
    summary,
    report,
    pool,
    hashing: new Limiter(pool.threads * 2),
    reading: new Limiter(SMALL_READS_AT_ONCE),
    sender: new UploadSender({
      client: opts.client,
      tracker,
      concurrency: opts.concurrency,
      batchFiles: opts.batchFiles,
      batchBytes: opts.batchBytes,
      resumableBytes: opts.resumableBytes,
      uploadUrls: new Map(todo.flatMap((f) => {
        const url = resumableUploadUrl(previous.get(f.path), f.size, f.mtimeMs);
        return url ? [[f.path, url] as const] : [];
      })),
      fields,
      summary,
      report,
    }),
    failures: [],
    corruptPath: opts.corruptAfterHash ? path.resolve(opts.corruptAfterHash) : undefined,
    leaders: new Map(),
    pending: [],
  };
  try {
    const resumedPaths = resendUnfinished(run, todo, previous);
    for (const chunk of chunked(todo.filter((f) => !resumedPaths.has(f.path)))) {
      await run.sender.room(HASHED_AHEAD_FILES);
      await ingestChunk(run, chunk);
    }
    run.sender.flush();
    await Promise.all(run.pending);
  } finally {
    await tracker.close();
    await pool.close();
    await report?.close();
  }
  summary.elapsedMs = Date.now() - started;
  const seconds = Math.max(0.001, summary.elapsedMs / 1000);
  summary.filesPerSecond = Number((todo.length / seconds).toFixed(2));
  summary.megabytesPerSecond = Number((summary.uploadedBytes / 1e6 / seconds).toFixed(2));
  opts.output.finish(summary, run.failures);
  return summary;
}
