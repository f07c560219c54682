// The CLI's hashing pool: piscina threads running the service's sha256 thread file, so hashing stays off the event loop.
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { HashResult, HashTask } from '../shared/hashing/sha256-thread.js';

export class CliHashPool {
  private pool?: Piscina<HashTask, HashResult>;

  constructor(private readonly threads = Math.max(1, Math.min(4, os.availableParallelism() - 1))) {}

  open(): void {
    // Under tsx the thread file is .ts and needs tsx too; resolved from here so any working directory works.
    const isTs = import.meta.url.endsWith('.ts');
    const filename = fileURLToPath(new URL(`../shared/hashing/sha256-thread.${isTs ? 'ts' : 'js'}`, import.meta.url));
    this.pool = new Piscina<HashTask, HashResult>({
      filename,
      minThreads: 1,
      maxThreads: this.threads,
      execArgv: isTs ? ['--import', import.meta.resolve('tsx')] : [],
    });
  }

  get size(): number {
    return this.threads;
  }

  hash(path: string): Promise<HashResult> {
    if (!this.pool) throw new Error('hash pool not open');
    return this.pool.run({ path });
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
  }
}
