// The lease lock of one resumable upload (SPEC §9): one mutating request per upload across every API process.
// SET NX PX with a random token; renewed while the holder works; released by a compare-and-delete script, so a
// holder whose lease ran out never deletes its successor's lock. A killed holder's lock expires by itself.
import { randomUUID } from 'node:crypto';
import type { RedisConnection } from '../redis.js';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export interface UploadLease {
  /** The lease's random token, also written to the upload's row as its fence (resumable-uploads.ts). */
  readonly token: string;
  /** True once a renewal found the lock gone or taken: the holder must stop writing at once. */
  readonly lost: boolean;
  /**
   * Renews the lock now and says whether it is still this holder's (lost becomes true when not). Asked right before
   * bytes go where a successor could be writing too: an S3 part at the durable offset has one key for both.
   */
  confirm(): Promise<boolean>;
  release(): Promise<void>;
}

export function uploadLockKey(queuePrefix: string, uploadId: string): string {
  // The prefix carries the hash tag on a Redis Cluster; the key needs no other slot.
  return `${queuePrefix}:upload-lock:${uploadId}`;
}

/** Takes the upload's lock for leaseMs (renewed every third of it), or null when another request holds it. */
export async function acquireUploadLease(redis: RedisConnection, queuePrefix: string, uploadId: string, leaseMs: number): Promise<UploadLease | null> {
  const key = uploadLockKey(queuePrefix, uploadId);
  const token = randomUUID();
  const taken = await redis.set(key, token, 'PX', leaseMs, 'NX');
  if (taken !== 'OK') return null;
  let lost = false;
  let released = false;
  const renew = (): Promise<boolean> =>
    redis.eval(RENEW, 1, key, token, String(leaseMs)).then(
      (renewed) => {
        if (Number(renewed) !== 1 && !released) lost = true;
        return !lost;
      },
      // Redis unreachable: the lease may run out before the next try; stop writing rather than risk it.
      () => {
        if (!released) lost = true;
        return false;
      },
    );
  const timer = setInterval(() => void renew(), Math.max(100, Math.floor(leaseMs / 3)));
  timer.unref();
  return {
    token,
    get lost() {
      return lost;
    },
    async confirm() {
      return !lost && (await renew());
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await redis.eval(RELEASE, 1, key, token);
    },
  };
}
