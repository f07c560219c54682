// What ingest shows: a live progress bar on a TTY (stderr), or one JSON line per finished file on a non-TTY (stdout).
import cliProgress from 'cli-progress';
import type { ReportLine } from './report.js';

export interface IngestSummary {
  files: number;
  bytes: number;
  committed: number;
  duplicate: number;
  present: number;
  failed: number;
  /** Finished in an earlier run (per --report) and unchanged: not hashed, not asked about. */
  skipped: number;
  uploadedBytes: number;
  elapsedMs: number;
  filesPerSecond: number;
  megabytesPerSecond: number;
}

export interface IngestOutput {
  start(totalFiles: number, totalBytes: number): void;
  fileDone(line: ReportLine): void;
  finish(summary: IngestSummary, failures: ReportLine[]): void;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function publicLine(line: ReportLine): Omit<ReportLine, 'mtimeMs' | 'batch'> {
  const { mtimeMs: _mtime, batch: _batch, ...rest } = line;
  return rest;
}

/**
 * Non-TTY: machine-readable JSON lines on stdout, the summary as the last line. Lines of the same turn of the event
 * loop go out in one write (stdout to a pipe or file is a synchronous system call per write).
 */
export function jsonLinesOutput(out: NodeJS.WritableStream = process.stdout): IngestOutput {
  let lines: string[] = [];
  const flush = () => {
    if (lines.length === 0) return;
    out.write(lines.join(''));
    lines = [];
  };
  return {
    start() {},
    fileDone(line) {
      if (lines.length === 0) setImmediate(flush);
      lines.push(`${JSON.stringify(publicLine(line))}\n`);
    },
    finish(summary) {
      lines.push(`${JSON.stringify({ summary })}\n`);
      flush();
    },
  };
}

/** TTY: files done/total, bytes, rate, ETA and failures on one redrawn line of stderr. */
export function progressBarOutput(): IngestOutput {
  const bar = new cliProgress.SingleBar(
    {
      format: '{bar} {percentage}% | {files}/{totalFiles} files | {done}/{totalBytes} | {rate}/s | ETA {eta_formatted} | failed {failed}',
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 50,
      fps: 8,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  let files = 0;
  let bytes = 0;
  let failed = 0;
  let totalFiles = 0;
  let totalBytes = 0;
  const payload = () => ({
    files,
    totalFiles,
    done: formatBytes(bytes),
    totalBytes: formatBytes(totalBytes),
    rate: formatBytes(bytes / Math.max(0.001, (Date.now() - started) / 1000)),
    failed,
  });
  return {
    start(nFiles, nBytes) {
      totalFiles = nFiles;
      totalBytes = nBytes;
      // Progress counts bytes (a 20 MiB file weighs more than an empty one); +1 keeps a tree of empty files moving.
      bar.start(nBytes + nFiles, 0, payload());
    },
    fileDone(line) {
      files++;
      bytes += line.size;
      if (line.state === 'failed') failed++;
      bar.update(bytes + files, payload());
    },
    finish(summary, failures) {
      bar.update(bytes + files, payload());
      bar.stop();
      for (const f of failures.slice(0, 20)) process.stderr.write(`failed: ${f.path}: ${f.error?.code ?? 'error'}: ${f.error?.message ?? ''}\n`);
      if (failures.length > 20) process.stderr.write(`... and ${failures.length - 20} more failures (see --report)\n`);
      process.stderr.write(
        `${summary.files} files, ${formatBytes(summary.bytes)}: ${summary.committed} committed, ${summary.duplicate} duplicate, ` +
          `${summary.present} already present, ${summary.skipped} skipped (done before), ${summary.failed} failed; ` +
          `${formatBytes(summary.uploadedBytes)} sent in ${(summary.elapsedMs / 1000).toFixed(1)} s ` +
          `(${summary.filesPerSecond.toFixed(1)} files/s, ${summary.megabytesPerSecond.toFixed(1)} MB/s)\n`,
      );
    },
  };
}
