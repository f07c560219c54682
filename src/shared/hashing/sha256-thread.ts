// piscina thread: sha256 of a file read by path (bytes never cross the thread boundary), or of a stream whose chunks
// the pool's caller posts over a MessagePort (hashStream), acknowledging each so the sender keeps a bounded window.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';

/** A file by path, or a stream fed over port: chunks (Uint8Array), then 'end' (or 'abort' when the source failed). */
export type HashTask = { path: string } | { port: MessagePort };
export interface HashResult {
  sha256: string;
  size: number;
}
export type StreamMessage = Uint8Array | 'end' | 'abort';

export default async function hash(task: HashTask): Promise<HashResult> {
  return 'port' in task ? hashPort(task.port) : hashFile(task.path);
}

async function hashFile(path: string): Promise<HashResult> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

function hashPort(port: MessagePort): Promise<HashResult> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let size = 0;
    // A port delivers in order: 'end' comes after every chunk posted before it.
    port.on('message', (message: StreamMessage) => {
      if (message === 'end' || message === 'abort') {
        port.close();
        if (message === 'end') resolve({ sha256: hash.digest('hex'), size });
        else reject(new Error('the stream being hashed failed'));
        return;
      }
      hash.update(message);
      size += message.length;
      port.postMessage(message.length);
    });
  });
}
