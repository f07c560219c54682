// The token verifier remembers verified tokens (batch clients send one token thousands of times), but never lets
// the memory outlive the token: an expired token is refused even if it was accepted a moment ago.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureDevKeyPair } from '../../src/shared/auth/dev-keys.js';
import { TokenVerifier } from '../../src/shared/auth/token-verifier.js';

describe('TokenVerifier', () => {
  let dir: string;
  let verifier: TokenVerifier;
  let sign: (claims: Record<string, unknown>, expiresInSeconds: number) => Promise<string>;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'token-verifier-'));
    const pair = await ensureDevKeyPair(dir);
    const key = await importPKCS8(pair.privateKeyPem, 'RS256');
    verifier = await TokenVerifier.create({ jwt: {}, nodeEnv: 'test', devKeysPath: dir } as Parameters<typeof TokenVerifier.create>[0]);
    sign = (claims, expiresInSeconds) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).setSubject('batcher').setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds).sign(key);
  });
  afterEach(() => vi.useRealTimers());
  afterAll(async () => fs.rm(dir, { recursive: true, force: true }));

  it('answers the same principal for a token it has seen, and refuses it once it expired', async () => {
    const token = await sign({ role: 'user', name: 'Batch Bot' }, 5);
    const first = await verifier.verify(token);
    expect(first).toEqual({ sub: 'batcher', role: 'user', name: 'Batch Bot' });
    expect(await verifier.verify(token)).toEqual(first);
    // 50 s later: past exp and the 30 s clock tolerance, but within the cache's 60 s lifetime, so only the
    // cache's bound at exp stops the remembered verification from keeping the token alive.
    vi.useFakeTimers({ now: Date.now() + 50_000, toFake: ['Date'] });
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'unauthorized', message: 'token expired' });
  });

  it('does not remember refusals: a bad token stays refused, a good one is still accepted', async () => {
    const good = await sign({ role: 'operator' }, 600);
    const forged = `${good.slice(0, -4)}AAAA`;
    await expect(verifier.verify(forged)).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(verifier.verify(forged)).rejects.toMatchObject({ code: 'unauthorized' });
    expect(await verifier.verify(good)).toMatchObject({ sub: 'batcher', role: 'operator' });
  });
});
