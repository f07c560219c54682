// The --report file: one JSON line per finished file, appended as files finish and read back to resume; and,
// before a batch of small files is sent, one `sending` line per member, so a rerun resends that same batch.
import fs from 'node:fs/promises';

export type FileState = 'committed' | 'duplicate' | 'present' | 'failed';

export interface ReportLine {
  path: string;
  size: number;
  /** Not in the line shape, but needed to skip a file on resume without hashing it again. */
  mtimeMs: number;
  sha256: string | null;
  jobId: string | null;
  fileId: string | null;
  state: FileState;
  error?: { code: string; message: string };
  /** On a failed line of a batch whose request itself failed (no job): the batch, so a rerun resends it as it was. */
  batch?: BatchRef;
}

export interface BatchRef {
  key: string;
  index: number;
  size: number;
}

/**
 * Written before a batch upload is sent: the batch's Idempotency-Key and the member's place in it. A rerun after a
 * crash sends the same members in the same order with the same key, so the element answers with the jobs it made
 * the first time (if the request had reached it) instead of making new ones.
 */
export interface SendingLine {
  path: string;
  size: number;
  mtimeMs: number;
  /** null for a large file sent while it was hashed (its digest goes with the upload's last bytes). */
  sha256: string | null;
  state: 'sending';
  /** A batch of small files, recorded before it is sent. */
  batch?: BatchRef;
  /** A large file's resumable upload, recorded once it exists: a rerun continues it from the element's offset. */
  uploadUrl?: string;
}

export type AnyReportLine = ReportLine | SendingLine;

export const DONE_STATES: ReadonlySet<FileState> = new Set<FileState>(['committed', 'duplicate', 'present']);

/** The last line per path of an earlier report; a missing file is an empty report, a torn last line is ignored. */
export async function readReport(file: string): Promise<Map<string, AnyReportLine>> {
  const out = new Map<string, AnyReportLine>();
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const parsed = JSON.parse(line) as AnyReportLine;
      if (typeof parsed.path === 'string' && typeof parsed.state === 'string') out.set(parsed.path, parsed);
    } catch {
      // a line cut short by a crash: that file simply is not done
    }
  }
  return out;
}

/**
 * Appends lines in order. Lines that arrive while a write is under way go together in the next write (one
 * system call for many files); a crash loses at most the lines of the write under way, and a torn last line is
 * ignored on reading. append resolves once its line is written.
 */
export class ReportWriter {
  private handle?: fs.FileHandle;
  private queued: string[] = [];
  private flushed?: Promise<void>;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  async open(): Promise<void> {
    this.handle = await fs.open(this.file, 'a');
  }

  append(line: AnyReportLine): Promise<void> {
    if (!this.handle) return Promise.resolve();
    this.queued.push(`${JSON.stringify(line)}\n`);
    this.flushed ??= this.writing.then(() => this.writeQueued());
    return this.flushed;
  }

  private async writeQueued(): Promise<void> {
    const text = this.queued.join('');
    this.queued = [];
    this.flushed = undefined;
    const write = this.handle!.write(text).then(() => undefined);
    this.writing = write;
    await write;
  }

  async close(): Promise<void> {
    await this.flushed;
    await this.writing;
    await this.handle?.close();
  }
}

/** The resumable upload an earlier run left unfinished for this file, when the file has not changed since. */
export function resumableUploadUrl(line: AnyReportLine | undefined, size: number, mtimeMs: number): string | undefined {
  return line?.state === 'sending' && line.size === size && line.mtimeMs === mtimeMs ? line.uploadUrl : undefined;
}

/** The batch an earlier line says this file was sent in, when a rerun should send that batch again. */
export function resendableBatch(line: AnyReportLine | undefined): BatchRef | undefined {
  if (line?.state === 'sending') return line.batch;
  if (line?.state === 'failed' && line.jobId === null) return line.batch;
  return undefined;
}

/** True when an earlier run finished this file and it has not changed since (same size and mtime). */
export function isDone(previous: AnyReportLine | undefined, size: number, mtimeMs: number): boolean {
  return previous !== undefined && previous.state !== 'sending' && DONE_STATES.has(previous.state) && previous.size === size && previous.mtimeMs === mtimeMs;
}
