// Physical baselines, the floor for storing files durably with their checksum: cp of one file into the same
// filesystem + sha256sum of the copy + sync; and, for a tree, a plain loop that copies, hashes and fsyncs each file.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Copies source to target, hashes the copy and syncs; returns the wall time in ms. Removes target after. */
export async function physicalCopy(source: string, target: string): Promise<number> {
  const started = performance.now();
  await run('bash', ['-c', 'cp -- "$1" "$2" && sha256sum -- "$2" >/dev/null && sync', 'physical', source, target]);
  const ms = performance.now() - started;
  await fs.rm(target, { force: true });
  return ms;
}

/**
 * Each of files, one after another: read, sha256 of the bytes, written to a new file under targetDir, fsync, close;
 * then one fsync of targetDir (the names). Returns the wall time in ms; removes targetDir after.
 */
export async function physicalTree(files: string[], targetDir: string): Promise<number> {
  await fs.mkdir(targetDir, { recursive: true });
  const started = performance.now();
  for (const [i, file] of files.entries()) {
    const bytes = await fs.readFile(file);
    createHash('sha256').update(bytes).digest('hex');
    const out = await fs.open(path.join(targetDir, `${i}-${path.basename(file)}`), 'wx');
    try {
      await out.write(bytes);
      await out.sync();
    } finally {
      await out.close();
    }
  }
  const dir = await fs.open(targetDir, 'r');
  await dir.sync();
  await dir.close();
  const ms = performance.now() - started;
  await fs.rm(targetDir, { recursive: true, force: true });
  return ms;
}
