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
const IDP = { JWT_ISSUER: 'https://idp.example.test/', JWT_AUDIENCE: 'artstore-storage-element' };

/** This process's environment without the compose variables, plus the identity provider's settings and `extra`. */
function composeEnv(extra: Record<string, string>): Record<string, string> {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  for (const name of ['JWT_PUBLIC_KEY_PATH', 'JWT_ISSUER', 'JWT_AUDIENCE', 'METRICS_TOKEN']) delete env[name];
  return { ...env, ...IDP, AUDIT_SIGNING_KEY_PATH: extra.JWT_PUBLIC_KEY_PATH ?? '/run/audit-ed25519.pem', ...extra };
}

describe('docker-compose.yml', () => {
  it.skipIf(!composeBin)('validates and defines postgres, redis, migrate, api and worker', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'compose-'));
    const key = path.join(dir, 'public.pem');
    await fs.writeFile(key, 'placeholder');
    try {
      const { stdout } = await run(composeBin!, ['-f', 'docker-compose.yml', 'config'], { env: composeEnv({ JWT_PUBLIC_KEY_PATH: key }), timeout: 60_000 });
      for (const service of ['postgres:', 'redis:', 'migrate:', 'api:', 'worker:']) expect(stdout).toContain(`  ${service}`);
      expect(stdout).toContain('noeviction');
      expect(stdout).toMatch(/appendonly/);
      expect(stdout).toContain('service_completed_successfully');
      expect(stdout.match(/healthcheck:/g)?.length).toBeGreaterThanOrEqual(3);
      expect(stdout).toContain(`JWT_ISSUER: ${IDP.JWT_ISSUER}`);
      expect(stdout).toContain(`JWT_AUDIENCE: ${IDP.JWT_AUDIENCE}`);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!composeBin)('runs the stack on Garage with the s3 profile and BLOB_BACKEND=s3', async () => {
    const env = composeEnv({ JWT_PUBLIC_KEY_PATH: '/run/idp-public.pem', BLOB_BACKEND: 's3' });
    const { stdout } = await run(composeBin!, ['-f', 'docker-compose.yml', '--profile', 's3', 'config'], { env, timeout: 60_000 });
    expect(stdout).toContain('  garage:');
    expect(stdout).toContain('dxflrs/garage:v2');
    expect(stdout).toContain('BLOB_BACKEND: s3');
    expect(stdout).toContain('S3_ENDPOINT: http://garage:3900');
    // The bucket and key Garage creates are the ones the element uses.
    const bucket = /GARAGE_DEFAULT_BUCKET: (\S+)/.exec(stdout)?.[1];
    expect(bucket).toBeTruthy();
    expect(stdout).toContain(`S3_BUCKET: ${bucket}`);
    const key = /GARAGE_DEFAULT_ACCESS_KEY: (\S+)/.exec(stdout)?.[1];
    expect(stdout).toContain(`S3_ACCESS_KEY_ID: ${key}`);
  });

  it.skipIf(!composeBin)("refuses to render without the identity provider's key, issuer or audience", async () => {
    for (const missing of ['JWT_PUBLIC_KEY_PATH', 'JWT_ISSUER', 'JWT_AUDIENCE']) {
      const env = composeEnv({ JWT_PUBLIC_KEY_PATH: '/run/idp-public.pem' });
      delete env[missing];
      const result = await run(composeBin!, ['-f', 'docker-compose.yml', 'config'], { env, timeout: 60_000 }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code?: number; stderr?: string }) => ({ code: e.code, stderr: e.stderr ?? '' }),
      );
      expect(result.code, missing).not.toBe(0);
      expect(result.stderr).toContain(`set ${missing} to`);
    }
  });

  it('never falls back to the development keypair', async () => {
    const compose = await fs.readFile('docker-compose.yml', 'utf8');
    expect(compose).not.toMatch(/dev-keys/);
    expect(compose).toMatch(/\$\{JWT_PUBLIC_KEY_PATH:\?/);
    expect(compose).toMatch(/NODE_ENV: production/);
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
