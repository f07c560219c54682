// Who is writing a file: each process that writes staged uploads (API) or temp files (worker) names them after
// itself and keeps a short-lived Redis key alive while it runs. A file whose writer's key has expired was left by a
// process that died mid-write: the sweeps remove it within minutes instead of waiting for an age limit.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { RedisConnection } from '../redis.js';
import { removeIfExists } from './durable-fs.js';

/** A writer's key lives this long past its last refresh: a killed process is forgotten within it. */
export const OWNER_TTL_MS = 30_000;
const REFRESH_MS = 10_000;
/**
 * A writer found dead is looked at again after this long before its files go: a key lost with Redis (a restart
 * without persistence, an outage longer than the TTL) is set again by a live writer within one refresh.
 */
export const CONFIRM_DEAD_AFTER_MS = REFRESH_MS + 2_000;
const WRITER_ID = /^[0-9a-f]{16}$/;

const writerKey = (queuePrefix: string, writerId: string) => `${queuePrefix}:writer:${writerId}`;

export interface Writer {
  /** Part of the name of every staged or temp file this process writes. */
  readonly id: string;
  close(): Promise<void>;
}

/**
 * Registers this process as a writer until close(). A refresh that fails (Redis away for a while) is
 * retried at the next tick; meanwhile the janitor may not see this writer, which is why it also waits for a file
 * to be older than the TTL before it trusts a missing key.
 */
export async function registerWriter(redis: RedisConnection, queuePrefix: string, onError: (err: unknown) => void): Promise<Writer> {
  const id = randomBytes(8).toString('hex');
  const key = writerKey(queuePrefix, id);
  const refresh = () => redis.set(key, String(process.pid), 'PX', OWNER_TTL_MS);
  await refresh().catch(onError);
  const timer = setInterval(() => void refresh().catch(onError), REFRESH_MS);
  timer.unref();
  return {
    id,
    async close() {
      clearInterval(timer);
      await redis.del(key).catch(onError);
    },
  };
}

/** The writer id a file name carries (a dot-separated part of 16 hex digits), or null for names without one. */
export function writerOfFile(file: string): string | null {
  return path.basename(file).split('.').find((part) => WRITER_ID.test(part)) ?? null;
}

/** Of these writer ids, the ones whose process is alive (its key has not expired). */
export async function liveWriters(redis: RedisConnection, queuePrefix: string, ids: string[]): Promise<Set<string>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Set();
  const values = await redis.mget(unique.map((id) => writerKey(queuePrefix, id)));
  return new Set(unique.filter((_, i) => values[i] !== null));
}

/**
 * The live writers among ids, as liveWriters says, except that a writer seen dead counts as dead only if it is
 * still dead confirmAfterMs later (see CONFIRM_DEAD_AFTER_MS).
 */
export async function confirmedLive(
  live: (ids: string[]) => Promise<Set<string>>,
  ids: string[],
  confirmAfterMs = CONFIRM_DEAD_AFTER_MS,
): Promise<Set<string>> {
  const first = await live(ids);
  const suspects = [...new Set(ids)].filter((id) => !first.has(id));
  if (suspects.length === 0) return first;
  await new Promise((resolve) => setTimeout(resolve, confirmAfterMs));
  const second = await live(suspects);
  return new Set([...first, ...second]);
}

/**
 * Removes the files directly in dir (those whose names pass the filter) that a dead writer left (its key gone and the
 * file older than the key's lifetime, since a live writer may just have missed a refresh) or that are older than
 * maxAgeMs whoever wrote them (Infinity: only a dead writer's).
 */
export async function removeAbandonedFiles(
  dir: string,
  live: (ids: string[]) => Promise<Set<string>>,
  maxAgeMs: number,
  now = Date.now(),
  confirmAfterMs = CONFIRM_DEAD_AFTER_MS,
  filter: (file: string) => boolean = () => true,
): Promise<number> {
  const files: Array<{ file: string; mtimeMs: number; writer: string | null }> = [];
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const file = path.join(dir, name);
    if (!filter(file)) continue;
    const stat = await fs.stat(file).catch(() => null);
    if (stat?.isFile()) files.push({ file, mtimeMs: stat.mtimeMs, writer: writerOfFile(name) });
  }
  const writers = files.flatMap((f) => (f.writer ? [f.writer] : []));
  const alive = writers.length > 0 ? await confirmedLive(live, writers, confirmAfterMs) : new Set<string>();
  let removed = 0;
  for (const f of files) {
    if (isAbandoned(f.file, f.mtimeMs, alive, maxAgeMs, now) && (await removeIfExists(f.file))) removed += 1;
  }
  return removed;
}

/**
 * Whether a file nobody else claims was left behind: older than maxAgeMs whoever wrote it, or written by a writer
 * not among alive and older than a writer key's lifetime (a live writer may just have missed a refresh).
 */
export function isAbandoned(file: string, mtimeMs: number, alive: ReadonlySet<string> | null, maxAgeMs: number, now: number): boolean {
  if (mtimeMs < now - maxAgeMs) return true;
  const writer = writerOfFile(file);
  return alive !== null && writer !== null && !alive.has(writer) && mtimeMs < now - OWNER_TTL_MS;
}
