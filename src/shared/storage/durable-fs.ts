// Crash-safe file primitives: temp file -> fsync -> rename -> fsync directory, and directory creation that persists.
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/** fsync a directory so a rename or link inside it survives a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** mkdir -p, then fsync the parent of every directory it created, so new entries are durable too. */
export async function ensureDirDurable(dir: string): Promise<void> {
  const first = await fs.mkdir(dir, { recursive: true });
  if (first === undefined) return;
  // Walk from the deepest new directory up to the parent of the first one created.
  let current = dir;
  const stop = path.dirname(first);
  while (true) {
    const parent = path.dirname(current);
    await fsyncDir(parent);
    if (parent === stop || parent === current) break;
    current = parent;
  }
}

/** fsync a regular file by path (data and metadata). */
export async function fsyncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes data to target atomically and durably; a reader sees the old file or the new one, never a mix. */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(target);
  await ensureDirDurable(dir);
  const temp = path.join(dir, `.${path.basename(target)}.${randomUUID()}.tmp`);
  const handle = await fs.open(temp, 'wx', 0o640);
  try {
    await handle.writeFile(data);
    await handle.datasync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(temp, target);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** Removes a file; a missing file is not an error. Returns whether something was removed. */
export async function removeIfExists(file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
