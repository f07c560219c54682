// Crash-safe file primitives: temp file -> fsync -> rename -> fsync directory, and directory creation that persists.
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

async function syncDirNow(dir: string): Promise<void> {
  const handle = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Per directory: the fsync running now, and the one queued to start after it (shared by everyone waiting). */
const dirSyncs = new Map<string, { running: Promise<void>; queued?: Promise<void> }>();

/**
 * fsync a directory so a rename or link inside it survives a power loss. Group commit: concurrent callers share
 * fsyncs. A caller's change happened before its call, so it may join a sync that has not started yet, never one
 * already running (that one may have missed the change): at most one sync runs and one waits per directory.
 */
export function fsyncDir(dir: string): Promise<void> {
  const state = dirSyncs.get(dir);
  if (!state) return startDirSync(dir);
  // Waits for the running sync (whatever its outcome), then runs one more for everyone who came meanwhile.
  state.queued ??= state.running.catch(() => undefined).then(() => startDirSync(dir));
  return state.queued;
}

/** Runs a sync of dir as the running one; the directory's entry goes once no sync runs or waits. */
function startDirSync(dir: string): Promise<void> {
  const running = syncDirNow(dir).finally(() => {
    const current = dirSyncs.get(dir);
    if (current?.running === running && !current.queued) dirSyncs.delete(dir);
  });
  dirSyncs.set(dir, { running });
  return running;
}

/** Directories this process made durable already: each is created and fsynced once, not at every write. */
const durableDirs = new Set<string>();
const DURABLE_DIRS_MAX = 200_000;

/** mkdir -p, then fsync the parent of every directory it created, so new entries are durable too. */
export async function ensureDirDurable(dir: string): Promise<void> {
  if (durableDirs.has(dir)) return;
  const first = await fs.mkdir(dir, { recursive: true });
  if (first !== undefined) {
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
  if (durableDirs.size >= DURABLE_DIRS_MAX) durableDirs.clear();
  durableDirs.add(dir);
}

/** Forgets dir (and what is under it), after something removed it: the next ensureDirDurable creates it again. */
export function forgetDurableDir(dir: string): void {
  for (const known of durableDirs) if (known === dir || known.startsWith(dir + path.sep)) durableDirs.delete(known);
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

export interface TempFileOptions {
  /** Where the temp file goes (same filesystem as the target), so that what a crash leaves is found in one place. */
  tempDir?: string;
  /** Put in the temp file's name (a writer id, writers.ts), so a sweep can tell whose it is. */
  tempTag?: string;
}

/** A fresh temp file path for target: in options.tempDir (else beside target), ending in .tmp. */
export function tempPathFor(target: string, options: TempFileOptions = {}): string {
  const tag = options.tempTag ? `${options.tempTag}.` : '';
  if (!options.tempDir) return path.join(path.dirname(target), `.${path.basename(target)}.${tag}${randomUUID()}.tmp`);
  return path.join(options.tempDir, `${tag}${randomUUID()}.tmp`);
}

/** Writes data to target atomically and durably; a reader sees the old file or the new one, never a mix. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, options: TempFileOptions = {}): Promise<void> {
  const dir = path.dirname(target);
  const tempDir = options.tempDir ?? dir;
  await ensureDirDurable(dir);
  await ensureDirDurable(tempDir);
  const temp = tempPathFor(target, options);
  const handle = await fs.open(temp, 'wx', 0o640).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
    // A directory was removed behind this process's back: make it again.
    forgetDurableDir(tempDir);
    await ensureDirDurable(tempDir);
    return fs.open(temp, 'wx', 0o640);
  });
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
    await fs.rename(temp, target).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT' || tempDir === dir) throw err;
      forgetDurableDir(dir);
      await ensureDirDurable(dir);
      await fs.rename(temp, target);
    });
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/** Removes the regular files directly in dir (whose names pass the filter) last modified before olderThan. */
export async function removeFilesOlderThan(dir: string, olderThan: Date, filter: (name: string) => boolean = () => true): Promise<number> {
  let removed = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!filter(name)) continue;
    const file = path.join(dir, name);
    const stat = await fs.stat(file).catch(() => null);
    if (stat?.isFile() && stat.mtimeMs < olderThan.getTime() && (await removeIfExists(file))) removed += 1;
  }
  return removed;
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
