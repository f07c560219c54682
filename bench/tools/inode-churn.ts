// How much system CPU a file creation costs in a directory, before and after many files nearby were deleted:
// `tsx bench/tools/inode-churn.ts [DIR] [--files N]` (default: a new directory under the OS temp dir, 20,000 files).
// On ext4 without a journal a creation scans past inodes deleted in the last 60-300 s (see bench/README.md).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { files: { type: 'string', default: '20000' } } });
const n = Number(values.files);
const root = fs.mkdtempSync(path.join(positionals[0] ?? os.tmpdir(), 'inode-churn-'));

/** System CPU microseconds per file for creating count empty files in dir. */
function create(dir: string, count: number, tag: string): number {
  const before = process.cpuUsage();
  for (let i = 0; i < count; i++) fs.closeSync(fs.openSync(path.join(dir, `${tag}${i}`), 'wx', 0o640));
  return process.cpuUsage(before).system / count;
}

try {
  const a = path.join(root, 'a');
  const b = path.join(root, 'b');
  fs.mkdirSync(a);
  fs.mkdirSync(b);
  const probe = Math.max(1, Math.floor(n / 10));
  const fresh = create(a, n, 'x');
  const before = create(b, probe, 'y');
  for (let i = 0; i < n; i++) fs.unlinkSync(path.join(a, `x${i}`));
  const after = create(b, probe, 'z');
  process.stdout.write(
    `${root}: ${fresh.toFixed(1)} us system CPU per new file (${n}), ${before.toFixed(1)} us (${probe} more), ` +
      `${after.toFixed(1)} us per new file right after deleting the ${n}\n`,
  );
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
