// The Ed25519 key that signs audit checkpoints (AUDIT_SIGNING_KEY_FILE, or a development key outside production)
// and the checkpoint's JWS: a compact JWS (EdDSA, jose) over {elementId, seq, hash, time}.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CompactSign, compactVerify } from 'jose';
import type { Config } from '../config.js';
import { writeFileAtomic } from '../storage/durable-fs.js';

export interface AuditSigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** sha256 of the public key (SPKI DER), 16 hex digits: names the key in each checkpoint. */
  kid: string;
  source: 'file' | 'dev-key';
}

export interface CheckpointPayload {
  elementId: string;
  seq: string;
  hash: string;
  time: string;
}

const DEV_KEY_FILE = 'audit-ed25519.pem';

/** The configured key; outside production without one, the development key under DEV_KEYS_PATH (made on first use). */
export async function loadAuditSigningKey(config: Pick<Config, 'audit' | 'nodeEnv' | 'devKeysPath'>): Promise<AuditSigningKey> {
  if (config.audit.signingKeyFile) return keyOf(await fs.readFile(config.audit.signingKeyFile, 'utf8'), 'file');
  // config.ts refuses production without a key file; this guards a config built some other way.
  if (config.nodeEnv === 'production') throw new Error('AUDIT_SIGNING_KEY_FILE is required in production');
  return keyOf(await ensureDevKey(config.devKeysPath), 'dev-key');
}

function keyOf(pem: string, source: AuditSigningKey['source']): AuditSigningKey {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the audit signing key must be an Ed25519 private key (PKCS#8 PEM)');
  const publicKey = createPublicKey(privateKey);
  const kid = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
  return { privateKey, publicKey, kid, source };
}

/** Concurrent processes converge on one key: the first link() wins, later ones read it (link never overwrites). */
async function ensureDevKey(dir: string): Promise<string> {
  const target = path.join(dir, DEV_KEY_FILE);
  const existing = await fs.readFile(target, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (existing) return existing;
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
  await writeFileAtomic(temp, pem);
  await fs.chmod(temp, 0o600);
  try {
    await fs.link(temp, target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await fs.rm(temp, { force: true });
  }
  return fs.readFile(target, 'utf8');
}

export async function signCheckpoint(key: AuditSigningKey, payload: CheckpointPayload): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'artstore-audit-checkpoint' })
    .sign(key.privateKey);
}

/** The payload of a checkpoint this key signed; throws when the signature (or its algorithm) is not valid. */
export async function openCheckpoint(key: Pick<AuditSigningKey, 'publicKey'>, jws: string): Promise<CheckpointPayload> {
  const { payload } = await compactVerify(jws, key.publicKey, { algorithms: ['EdDSA'] });
  return JSON.parse(new TextDecoder().decode(payload)) as CheckpointPayload;
}

/** An Ed25519 public key from SPKI PEM (`openssl pkey -in audit.pem -pubout`); anything else is refused. */
export function auditPublicKeyOf(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the audit verification key is ${key.asymmetricKeyType ?? 'not a key'}, not Ed25519`);
  return key;
}
