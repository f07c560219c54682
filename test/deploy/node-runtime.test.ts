// Node 24 LTS everywhere: the tests run on it, the image is built on it, and CI fetches it when the machine's is older.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const major = (version: string) => Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);
const PINNED_CACHE = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'artstore-node24');

async function engineMajor(): Promise<number> {
  const pkg = JSON.parse(await fs.readFile('package.json', 'utf8')) as { engines: { node: string } };
  const match = /^>=\s*(\d+)$/.exec(pkg.engines.node);
  if (!match) throw new Error(`engines.node should be ">=N", found ${pkg.engines.node}`);
  return Number(match[1]);
}

describe('node runtime', () => {
  it('requires Node 24 and runs on it (tests, and the node they spawn)', async () => {
    expect(await engineMajor()).toBe(24);
    expect(major(process.version)).toBeGreaterThanOrEqual(24);
    // Child processes (tsx services, pm2, prisma) resolve `node` from PATH: it must be the same major.
    const { stdout } = await run('node', ['--version']);
    expect(major(stdout.trim())).toBe(major(process.version));
  });

  it('builds and runs the image on node:24-bookworm-slim', async () => {
    const dockerfile = await fs.readFile('Dockerfile', 'utf8');
    const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(bases).toEqual(['node:24-bookworm-slim', 'node:24-bookworm-slim']);
  });

  it.skipIf(!existsSync(path.join(PINNED_CACHE, 'node_modules')))(
    'has CI put its pinned Node 24 first on PATH when the machine has an older one',
    async () => {
      const ci = await fs.readFile('.ci/run', 'utf8');
      const block = /^echo "== node"$([\s\S]*?)^echo "== npm ci"$/m.exec(ci)?.[1];
      expect(block, '.ci/run has an "== node" step before "== npm ci"').toBeTruthy();
      // A machine Node 20 stand-in: answers the version probes .ci/run makes.
      const fake = await fs.mkdtemp(path.join(os.tmpdir(), 'old-node-'));
      try {
        await fs.writeFile(
          path.join(fake, 'node'),
          '#!/bin/sh\ncase "$*" in *versions*) echo 20 ;; *platform*) echo "$(uname -s | tr A-Z a-z)-x64" ;; *) echo v20.11.0 ;; esac\n',
          { mode: 0o755 },
        );
        const script = `set -uo pipefail\n${block}\necho "selected $(command -v node) $(node --version)"\n`;
        const { stdout } = await run('bash', ['-c', script], {
          env: { ...process.env, PATH: `${fake}:${process.env.PATH}`, XDG_CACHE_HOME: path.dirname(PINNED_CACHE) },
          timeout: 600_000,
        });
        const selected = /selected (\S+) (\S+)/.exec(stdout);
        expect(selected?.[1]).toContain(PINNED_CACHE);
        expect(major(selected?.[2] ?? '')).toBe(24);
      } finally {
        await fs.rm(fake, { recursive: true, force: true });
      }
    },
    600_000,
  );
});
