// The development RS256 keypair under DEV_KEYS_PATH: created once when no JWT key is configured outside production.
import fs from 'node:fs/promises';
import path from 'node:path';
import { exportPKCS8, exportSPKI, generateKeyPair } from 'jose';
import { writeFileAtomic } from '../storage/durable-fs.js';

export interface DevKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

const PRIVATE = 'private.pem';
const PUBLIC = 'public.pem';

async function readPair(dir: string): Promise<DevKeyPair | null> {
  try {
    const [privateKeyPem, publicKeyPem] = await Promise.all([
      fs.readFile(path.join(dir, PRIVATE), 'utf8'),
      fs.readFile(path.join(dir, PUBLIC), 'utf8'),
    ]);
    return { privateKeyPem, publicKeyPem };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Returns the dev keypair, generating it on first use. Concurrent callers converge on one pair on disk. */
export async function ensureDevKeyPair(dir: string): Promise<DevKeyPair> {
  const existing = await readPair(dir);
  if (existing) return existing;
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const pair = { privateKeyPem: await exportPKCS8(privateKey), publicKeyPem: await exportSPKI(publicKey) };
  // Private key first: a reader that sees public.pem always finds its private half.
  await writeFileAtomic(path.join(dir, PRIVATE), pair.privateKeyPem);
  await fs.chmod(path.join(dir, PRIVATE), 0o600);
  await writeFileAtomic(path.join(dir, PUBLIC), pair.publicKeyPem);
  return (await readPair(dir)) ?? pair;
}
