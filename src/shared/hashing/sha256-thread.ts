// piscina thread: sha256 of a file read by path (bytes never cross the thread boundary).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface HashTask {
  path: string;
}
export interface HashResult {
  sha256: string;
  size: number;
}

export default async function hashFile(task: HashTask): Promise<HashResult> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(task.path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}
