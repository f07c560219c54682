// Test helpers for the CLI: a world listening on a real port, a generated file tree, and the CLI run as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { serve } from '../helpers/serve.js';
import { createWorld, type World } from '../helpers/world.js';

export interface CliWorld {
  world: World;
  url: string;
  close(): Promise<void>;
}

/** A world with a worker on its own database; env sets the element's configuration (e.g. MAX_FILES_PER_UPLOAD). */
export async function createCliWorld(env?: Record<string, string>): Promise<CliWorld> {
  const world = await createWorld({ worker: true, isolatedDatabase: true, env });
  const api = await serve(world.app);
  return {
    world,
    url: api.url,
    async close() {
      await api.close();
      await world.close();
    },
  };
}

export interface CliResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

export interface CliRun {
  child: ChildProcess;
  done: Promise<CliResult>;
}

/** Starts `src/cli/main.ts` with tsx; stdout and stderr are pipes (not a TTY). No ARTSTORE_* unless given. */
export function startCli(args: string[], env: Record<string, string> = {}): CliRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? signal ?? -1, stdout, stderr })));
  return { child, done };
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return startCli(args, env).done;
}

export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface TreeFile {
  path: string;
  size: number;
  sha256: string;
}

/**
 * A tree of `count` files of fresh random content (most small, every 10th up to `maxSize`), nested in
 * directories, plus `duplicates` copies of earlier files and any `extra` files of given sizes and names.
 */
export async function makeTree(
  root: string,
  opts: { count: number; maxSize: number; duplicates: number; extra?: Array<{ name: string; size: number }> },
): Promise<TreeFile[]> {
  const files: TreeFile[] = [];
  const write = async (rel: string, bytes: Buffer) => {
    const abs = path.join(root, rel);
    await fs.mkdir(path.dirname(abs), { recursive: true });
    await fs.writeFile(abs, bytes);
    files.push({ path: abs, size: bytes.length, sha256: sha256(bytes) });
  };
  for (let i = 0; i < opts.count; i++) {
    const size = i === 0 ? 0 : i % 10 === 0 ? Math.floor(Math.random() * opts.maxSize) : Math.floor(Math.random() * 64 * 1024);
    await write(`d${i % 4}/sub${i % 3}/file-${i}.bin`, randomBytes(size));
  }
  for (let i = 0; i < opts.duplicates; i++) {
    const original = files[1 + i]!;
    await write(`dups/copy-${i}.bin`, await fs.readFile(original.path));
  }
  for (const e of opts.extra ?? []) await write(e.name, randomBytes(e.size));
  return files;
}

export async function readReportLines(file: string): Promise<Array<Record<string, unknown>>> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}
