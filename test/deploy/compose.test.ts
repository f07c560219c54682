// docker-compose.yml is a valid Compose file with the services, healthchecks and settings operators rely on.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
// The Compose v1 client (Debian's docker-compose) validates without a Docker engine; .ci/run installs it.
const composeBin = ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'].find((p) => existsSync(p));

describe('docker-compose.yml', () => {
  it.skipIf(!composeBin)('validates and defines postgres, redis, migrate, api and worker', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'compose-'));
    const key = path.join(dir, 'public.pem');
    await fs.writeFile(key, 'placeholder');
    try {
      const { stdout } = await run(composeBin!, ['-f', 'docker-compose.yml', 'config'], { env: { ...process.env, JWT_PUBLIC_KEY_PATH: key }, timeout: 60_000 });
      for (const service of ['postgres:', 'redis:', 'migrate:', 'api:', 'worker:']) expect(stdout).toContain(`  ${service}`);
      expect(stdout).toContain('noeviction');
      expect(stdout).toMatch(/appendonly/);
      expect(stdout).toContain('service_completed_successfully');
      expect(stdout.match(/healthcheck:/g)?.length).toBeGreaterThanOrEqual(3);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('runs the image as a non-root user with a healthcheck, migrations in a one-shot service', async () => {
    const dockerfile = await fs.readFile('Dockerfile', 'utf8');
    expect(dockerfile).toMatch(/^USER artstore$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect((dockerfile.match(/^FROM /gm) ?? []).length).toBe(2);
    expect(dockerfile).not.toMatch(/db-migrate/);
  });
});
