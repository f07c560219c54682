// The --report file: one JSON line per finished file, appended as files finish and read back to resume.
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
}

export const DONE_STATES: ReadonlySet<FileState> = new Set<FileState>(['committed', 'duplicate', 'present']);

/** The last line per path of an earlier report; a missing file is an empty report, a torn last line is ignored. */
export async function readReport(file: string): Promise<Map<string, ReportLine>> {
  const out = new Map<string, ReportLine>();
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
      const parsed = JSON.parse(line) as ReportLine;
      if (typeof parsed.path === 'string' && typeof parsed.state === 'string') out.set(parsed.path, parsed);
    } catch {
      // a line cut short by a crash: that file simply is not done
    }
  }
  return out;
}

/** Appends lines in order, one write each, so a crash loses at most the line being written. */
export class ReportWriter {
  private handle?: fs.FileHandle;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  async open(): Promise<void> {
    this.handle = await fs.open(this.file, 'a');
  }

  append(line: ReportLine): Promise<void> {
    const handle = this.handle;
    if (!handle) return Promise.resolve();
    this.chain = this.chain.then(async () => {
      await handle.write(`${JSON.stringify(line)}\n`);
    });
    return this.chain;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.handle?.close();
  }
}

/** True when an earlier run finished this file and it has not changed since (same size and mtime). */
export function isDone(previous: ReportLine | undefined, size: number, mtimeMs: number): boolean {
  return previous !== undefined && DONE_STATES.has(previous.state) && previous.size === size && previous.mtimeMs === mtimeMs;
}
