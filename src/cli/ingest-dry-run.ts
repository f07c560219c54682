// `artstore ingest --dry-run`: what would be sent (hashes locally; asks `exists` when a URL and token are known).
import type { Client } from '../client/index.js';
import { openCliHashPool } from './hashing.js';
import { Limiter } from './limiter.js';
import { EXIT_OK } from './usage.js';
import { walkPaths, type WalkFilter } from './walk.js';

export async function runDryRun(paths: string[], filter: WalkFilter, client?: Client): Promise<number> {
  const files = await walkPaths(paths, filter);
  const pool = openCliHashPool();
  const limiter = new Limiter(pool.threads * 2);
  let hashed;
  try {
    hashed = await Promise.all(files.map((f) => limiter.run(async () => ({ ...f, sha256: (await pool.hashFile(f.path)).sha256 }))));
  } finally {
    await pool.close();
  }
  const present = client ? new Set((await client.exists([...new Set(hashed.map((h) => h.sha256))])).present) : new Set<string>();
  let send = 0;
  let bytes = 0;
  for (const h of hashed) {
    const action = present.has(h.sha256) ? 'skip_present' : client ? 'upload' : 'upload_unless_present';
    if (action !== 'skip_present') {
      send++;
      bytes += h.size;
    }
    process.stdout.write(`${JSON.stringify({ path: h.path, size: h.size, sha256: h.sha256, action })}\n`);
  }
  process.stderr.write(`dry run: ${files.length} files, ${send} to upload (${bytes} bytes); nothing was sent\n`);
  return EXIT_OK;
}
