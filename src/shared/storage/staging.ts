// The staging area: where the API streams uploads before a worker commits them. Names are ours, never the client's.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { removeIfExists } from './durable-fs.js';

export const STAGED_SUFFIX = '.part';

/** `<writer>.<uuid>.part`: the writer id (writers.ts) tells the janitor whose upload a file is. */
export function newStagedName(writerId?: string): string {
  return `${writerId ? `${writerId}.` : ''}${randomUUID()}${STAGED_SUFFIX}`;
}

export async function ensureStagingDir(stagingPath: string): Promise<void> {
  await fs.mkdir(stagingPath, { recursive: true, mode: 0o750 });
}

/** Removes staged files; errors are collected, never thrown, so every path gets its chance. */
export async function removeStagedFiles(paths: Iterable<string>): Promise<Error[]> {
  const errors: Error[] = [];
  await Promise.all(
    [...paths].map((p) => removeIfExists(p).catch((err: Error) => void errors.push(err))),
  );
  return errors;
}

/** True when file is a direct child of stagingPath (a staged path from a job row is never trusted blindly). */
export function isInStaging(stagingPath: string, file: string): boolean {
  return path.dirname(path.resolve(file)) === path.resolve(stagingPath);
}
