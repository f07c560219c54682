// NODE_ENV=production refuses what would let foreign tokens in: dev keys, http JWKS, no issuer or audience.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/shared/config.js';

const PRODUCTION = {
  NODE_ENV: 'production',
  JWT_JWKS_URL: 'https://idp.example.test/.well-known/jwks.json',
  JWT_ISSUER: 'https://idp.example.test/',
  JWT_AUDIENCE: 'artstore-storage-element',
  AUDIT_SIGNING_KEY_FILE: '/run/secrets/audit_signing_key',
};

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems;
  }
}

describe('production configuration', () => {
  it('loads with an https JWKS, an issuer and an audience', () => {
    const config = loadConfig(PRODUCTION);
    expect(config.jwt).toMatchObject({ jwksUrl: PRODUCTION.JWT_JWKS_URL, issuer: PRODUCTION.JWT_ISSUER, audience: PRODUCTION.JWT_AUDIENCE });
  });

  it('refuses a JWKS URL over http, loopback included; outside production http stays allowed', () => {
    for (const url of ['http://idp.example.test/jwks.json', 'http://127.0.0.1:8080/jwks.json']) {
      expect(problemsOf({ ...PRODUCTION, JWT_JWKS_URL: url })).toEqual([expect.stringMatching(/^JWT_JWKS_URL: must be https:\/\/ in production/)]);
      expect(problemsOf({ ...PRODUCTION, NODE_ENV: 'development', JWT_JWKS_URL: url })).toEqual([]);
    }
  });

  it('requires JWT_ISSUER and JWT_AUDIENCE', () => {
    const problems = problemsOf({ ...PRODUCTION, JWT_ISSUER: undefined, JWT_AUDIENCE: '' });
    expect(problems.map((p) => p.split(':')[0])).toEqual(['JWT_ISSUER', 'JWT_AUDIENCE']);
    expect(problems.join('\n')).toMatch(/required in production/);
  });

  it('refuses the development keypair as the verification key, and no key at all', () => {
    const devKey = { ...PRODUCTION, JWT_JWKS_URL: undefined, DEV_KEYS_PATH: '/srv/artstore/dev-keys', JWT_PUBLIC_KEY_FILE: '/srv/artstore/dev-keys/public.pem' };
    expect(problemsOf(devKey)).toEqual([expect.stringMatching(/^JWT_PUBLIC_KEY_FILE: .* is the development keypair/)]);
    expect(problemsOf({ ...devKey, JWT_PUBLIC_KEY_FILE: '/run/secrets/jwt_public_key' })).toEqual([]);
    expect(problemsOf({ ...devKey, JWT_PUBLIC_KEY_FILE: undefined })).toEqual([expect.stringMatching(/one is required in production/)]);
  });

  it('stops the api and the worker at start with one clear line per problem', async () => {
    const start = async (entry: string) => {
      const child = spawn(process.execPath, ['--import', 'tsx', entry], {
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', JWT_JWKS_URL: 'http://idp.example.test/jwks.json', DOTENV_CONFIG_PATH: '/nonexistent/.env' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      return { entry, code, stderr };
    };
    for (const { entry, code, stderr } of await Promise.all(['src/api/main.ts', 'src/workers/main.ts'].map(start))) {
      expect(code, entry).toBe(1);
      expect(stderr).toContain('artstore: invalid configuration:');
      expect(stderr).toMatch(/^ {2}- JWT_JWKS_URL: must be https:\/\/ in production/m);
      expect(stderr).toMatch(/^ {2}- JWT_ISSUER: required in production/m);
      expect(stderr).toMatch(/^ {2}- JWT_AUDIENCE: required in production/m);
      expect(stderr).toMatch(/^ {2}- AUDIT_SIGNING_KEY_FILE: an Ed25519 key for signing audit checkpoints is required in production/m);
    }
  }, 60_000);
});
