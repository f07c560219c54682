// CPU of the worker's filesystem steps for one small file, on the real stores: check the staged file's size, link it
// into the blob store (LocalBlobStore.put), write its attr.json (AttrFileStore.write), remove the staged name; many
// files at once as a batch does. A profiling aid for issue 12, not a scenario: `tsx bench/tools/commit-fs-cpu.ts
// [--files N] [--lanes L] [--reps R]`. The files stay (it prints where): on ext4 without a journal, deleting them would
// charge the next run's file creations nearby (bench/README.md). BENCH_FS_DIR puts them elsewhere than the temp dir.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LocalBlobStore } from '../../src/shared/storage/local-blob-store.js';
import { AttrFileStore, attrRelativePath } from '../../src/shared/storage/attr-files.js';
import { removeStagedFiles } from '../../src/shared/storage/staging.js';

const FILE_BYTES = 16 * 1024;

async function stageFiles(dir: string, n: number): Promise<Array<{ path: string; sha256: string }>> {
  fs.mkdirSync(dir, { recursive: true });
  const out: Array<{ path: string; sha256: string }> = [];
  for (let i = 0; i < n; i++) {
    const bytes = randomBytes(FILE_BYTES);
    const file = path.join(dir, `${randomUUID()}.staged`);
    fs.writeFileSync(file, bytes, { mode: 0o640 });
    out.push({ path: file, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  return out;
}

async function commitOne(blobs: LocalBlobStore, attrs: AttrFileStore, staged: { path: string; sha256: string }, at: Date): Promise<void> {
  const size = (await fsp.stat(staged.path)).size;
  const put = await blobs.put(staged.sha256, staged.path, { existing: 'reuse', sourceDurable: true });
  const id = randomUUID();
  const record = { schemaVersion: 1, id, sha256: staged.sha256, size, storageKey: put.storageKey, fileName: 'small.bin', tags: [] };
  await attrs.write(attrRelativePath(id, at), record as never);
  await removeStagedFiles([staged.path]);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { files: { type: 'string', default: '4000' }, lanes: { type: 'string', default: '64' }, reps: { type: 'string', default: '3' } } });
  const n = Number(values.files);
  const root = fs.mkdtempSync(path.join(process.env.BENCH_FS_DIR ?? os.tmpdir(), 'commit-fs-'));
  process.stdout.write(`files under ${root} (remove them when done)\n`);
  for (let rep = 0; rep <= Number(values.reps); rep++) {
    const store = path.join(root, `store-${rep}`);
    const staged = await stageFiles(path.join(root, `staging-${rep}`), n);
    const blobs = new LocalBlobStore(store, { writerId: 'bench' });
    const attrs = new AttrFileStore(store, { writerId: 'bench' });
    const at = new Date();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let next = 0;
    const lane = async () => {
      while (next < staged.length) await commitOne(blobs, attrs, staged[next++]!, at);
    };
    await Promise.all(Array.from({ length: Number(values.lanes) }, lane));
    const cpu = process.cpuUsage(cpu0);
    const seconds = (performance.now() - t0) / 1000;
    const label = rep === 0 ? 'warm-up' : `rep ${rep}`;
    process.stdout.write(`${label}: ${(n / seconds).toFixed(0)} files/s, CPU ${((cpu.user + cpu.system) / n / 1000).toFixed(3)} ms/file ` +
      `(${(cpu.user / n / 1000).toFixed(3)} user + ${(cpu.system / n / 1000).toFixed(3)} sys)\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
