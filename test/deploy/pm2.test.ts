// ecosystem.config.js under pm2 itself: N api processes (cluster) and M workers serve an upload end to end.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envFor, freePort } from '../helpers/processes.js';
import { until } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

const run = promisify(execFile);
const PM2 = path.resolve('node_modules/pm2/bin/pm2');

describe('pm2 ecosystem file', () => {
  let world: World;
  let pm2Home: string;
  let env: Record<string, string>;
  let port: number;

  beforeAll(async () => {
    world = await createWorld();
    // The ecosystem file runs the compiled build.
    await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { timeout: 240_000 });
    pm2Home = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-pm2-'));
    port = await freePort();
    env = { ...envFor(world.config, { PORT: String(port), API_INSTANCES: '2', WORKER_INSTANCES: '1' }), HOME: pm2Home, PM2_HOME: pm2Home };
  }, 300_000);

  afterAll(async () => {
    if (pm2Home) {
      await run(process.execPath, [PM2, 'kill'], { env, timeout: 60_000 }).catch(() => undefined);
      await fs.rm(pm2Home, { recursive: true, force: true });
    }
    await world?.close();
  });

  it('starts 2 api and 1 worker processes that commit an upload, and stops them', async () => {
    await run(process.execPath, [PM2, 'start', 'ecosystem.config.js'], { env, timeout: 60_000 });
    let ready = false;
    const answersReady = async () => (ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false));
    await until('the api to answer /health/ready', answersReady, 60_000, 250);
    expect(ready).toBe(true);

    const list = JSON.parse((await run(process.execPath, [PM2, 'jlist'], { env, timeout: 30_000 })).stdout) as Array<{ name: string; pm2_env: { status: string; kill_timeout?: number } }>;
    expect(list.filter((p) => p.name === 'artstore-api' && p.pm2_env.status === 'online')).toHaveLength(2);
    expect(list.filter((p) => p.name === 'artstore-worker' && p.pm2_env.status === 'online')).toHaveLength(1);
    expect(list.every((p) => (p.pm2_env.kill_timeout ?? 0) > world.config.shutdownTimeoutMs)).toBe(true);

    const token = await world.token('user', 'alice');
    const form = new FormData();
    form.append('file', new Blob([randomBytes(4096)]), 'pm2.bin');
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/files/upload?wait=30`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: form });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { jobs: Array<{ state: string }> };
    expect(body.jobs[0]!.state).toBe('committed');

    await run(process.execPath, [PM2, 'stop', 'ecosystem.config.js'], { env, timeout: 90_000 });
    const stopped = JSON.parse((await run(process.execPath, [PM2, 'jlist'], { env, timeout: 30_000 })).stdout) as Array<{ pm2_env: { status: string } }>;
    expect(stopped.every((p) => p.pm2_env.status === 'stopped')).toBe(true);
  });
});

describe('pm2 ecosystem file without NODE_ENV', () => {
  it("runs as production and refuses to start without the identity provider's key, issuer and audience", async () => {
    // A directory of its own, so a developer's .env cannot supply what the test leaves out.
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'artstore-pm2-prod-'));
    const env = { PATH: process.env.PATH ?? '', HOME: dir, PM2_HOME: path.join(dir, '.pm2') };
    try {
      await fs.copyFile('ecosystem.config.js', path.join(dir, 'ecosystem.config.js'));
      await fs.writeFile(path.join(dir, 'package.json'), '{"type":"module"}');
      await fs.symlink(path.resolve('node_modules'), path.join(dir, 'node_modules'));
      const result = await run(process.execPath, [PM2, 'start', 'ecosystem.config.js'], { cwd: dir, env, timeout: 60_000 }).then(
        (r) => ({ code: 0, out: r.stdout + r.stderr }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code, out: `${e.stdout}${e.stderr}` }),
      );
      expect(result.code).not.toBe(0);
      expect(result.out).toContain('NODE_ENV=production needs the identity provider');
      expect(result.out).toContain('missing: JWT_PUBLIC_KEY_FILE (or JWT_PUBLIC_KEY, JWT_JWKS_URL), JWT_ISSUER, JWT_AUDIENCE');
      const list = JSON.parse((await run(process.execPath, [PM2, 'jlist'], { cwd: dir, env, timeout: 30_000 })).stdout) as unknown[];
      expect(list).toEqual([]);
    } finally {
      await run(process.execPath, [PM2, 'kill'], { cwd: dir, env, timeout: 60_000 }).catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
