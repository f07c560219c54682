// Who is writing into staging: each API process names its staged files after itself and keeps a short-lived Redis
// key alive while it runs. A staged file that no job owns and whose writer's key has expired is the partial upload
// of a process that died: the janitor removes it within minutes instead of waiting for STAGING_MAX_AGE_HOURS.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Redis } from 'ioredis';

/** A writer's key lives this long past its last refresh: a killed process is forgotten within it. */
export const OWNER_TTL_MS = 30_000;
const REFRESH_MS = 10_000;
const OWNER_ID = /^[0-9a-f]{16}$/;

const ownerKey = (queuePrefix: string, ownerId: string) => `${queuePrefix}:staging-owner:${ownerId}`;

export interface StagingOwner {
  /** Put in front of every staged file name this process writes. */
  readonly id: string;
  close(): Promise<void>;
}

/**
 * Registers this process as a staging writer until close(). A refresh that fails (Redis away for a while) is
 * retried at the next tick; meanwhile the janitor may not see this writer, which is why it also waits for a file
 * to be older than the TTL before it trusts a missing key.
 */
export async function registerStagingOwner(redis: Redis, queuePrefix: string, onError: (err: unknown) => void): Promise<StagingOwner> {
  const id = randomBytes(8).toString('hex');
  const key = ownerKey(queuePrefix, id);
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

/** The writer id a staged file name carries (`<owner>.<uuid>.part`), or null for names without one. */
export function ownerOfStagedFile(file: string): string | null {
  const [first, ...rest] = path.basename(file).split('.');
  return rest.length >= 2 && first && OWNER_ID.test(first) ? first : null;
}

/** Of these writer ids, the ones whose process is alive (its key has not expired). */
export async function liveStagingOwners(redis: Redis, queuePrefix: string, ids: string[]): Promise<Set<string>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Set();
  const values = await redis.mget(unique.map((id) => ownerKey(queuePrefix, id)));
  return new Set(unique.filter((_, i) => values[i] !== null));
}
