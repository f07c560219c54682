// Announcements on Redis of changes that cached file reads must see at once: a file patched or deleted, a blob
// marked corrupt, restored or removed. Best effort: a lost message is covered by the caches' own short lifetimes.
import type { RedisConnection } from '../redis.js';
import type { Logger } from '../logger.js';

export type FileChange = { fileId: string } | { sha256: string };

export function fileChangesChannel(queuePrefix: string): string {
  return `${queuePrefix}:file-changes`;
}

/**
 * Publishes the change; resolves once Redis has handed it to the subscribers (so a caller that answers after it
 * knows every API process has it on its socket), and never rejects: a failure is logged at warn, the caches then
 * see the change when their entries expire.
 */
export async function announceFileChange(publisher: RedisConnection | undefined, queuePrefix: string, change: FileChange, logger?: Logger): Promise<void> {
  if (!publisher) return;
  await publisher.publish(fileChangesChannel(queuePrefix), JSON.stringify(change)).catch((err: unknown) => {
    logger?.warn({ err, change }, 'could not announce a file change (caches see it when their entries expire)');
  });
}

/** Calls onChange for every change announced on the channel, through a dedicated subscriber connection. */
export async function followFileChanges(subscriber: RedisConnection, queuePrefix: string, onChange: (change: FileChange) => void): Promise<void> {
  const channel = fileChangesChannel(queuePrefix);
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    const change = parseChange(message);
    if (change) onChange(change);
  });
  await subscriber.subscribe(channel);
}

function parseChange(message: string): FileChange | undefined {
  try {
    const value = JSON.parse(message) as Record<string, unknown>;
    if (typeof value.fileId === 'string') return { fileId: value.fileId };
    if (typeof value.sha256 === 'string') return { sha256: value.sha256 };
  } catch {
    // Not ours to understand: ignored like any unknown message.
  }
  return undefined;
}
