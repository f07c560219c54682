// Physical baseline: cp of a file into the same filesystem + sha256sum of the copy + sync (the floor for one file).
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
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
