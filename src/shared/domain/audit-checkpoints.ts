// Signed checkpoints of the audit chain head, in the database and beside the blobs (local backend), and the full
// verification that checks the chain against them (npm run audit:verify, the checkpoint job).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { insertAuditCheckpoint, selectAuditCheckpoints, selectLatestAuditCheckpoint, type StoredCheckpoint } from '../records/audit-checkpoints.js';
import { selectAuditHead } from '../records/audit-events.js';
import type { Db } from '../records/database.js';
import { writeFileAtomic } from '../storage/durable-fs.js';
import { walkAuditChain, type ChainVerdict, type TrustedPoint } from './audit-chain.js';
import { auditPublicKeyOf, loadAuditSigningKey, openCheckpoint, signCheckpoint, type AuditSigningKey } from './audit-signing.js';

export interface CheckpointDeps {
  db: Db;
  config: Pick<Config, 'audit' | 'nodeEnv' | 'devKeysPath' | 'storagePath' | 'blobBackend' | 'elementId'>;
  logger: Logger;
  verifications?: { inc(labels: { result: string }): void };
}

/** The chain did not verify: no checkpoint is signed over it. */
export class AuditChainBrokenError extends Error {
  override readonly name = 'AuditChainBrokenError';
}

/** Checkpoint files live beside the blobs: STORAGE_PATH/audit/checkpoints/<seq, 20 digits>.jws (local backend only). */
export function checkpointDir(config: Pick<Config, 'storagePath'>): string {
  return path.join(config.storagePath, 'audit', 'checkpoints');
}

export type CheckpointResult = { seq: string; hash: string } | { skipped: string };

/**
 * Verifies the events since the last checkpoint (so a broken chain is never signed), then signs the head and
 * records it in audit_checkpoints and as a file beside the blobs. Nothing new since the last one: skipped.
 */
export async function writeAuditCheckpoint(deps: CheckpointDeps): Promise<CheckpointResult> {
  const { db, config } = deps;
  const key = await loadAuditSigningKey(config);
  const last = await signedLatestCheckpoint(key, await selectLatestAuditCheckpoint(db));
  const head = await selectAuditHead(db);
  if (head.seq === (last?.seq ?? 0n)) return { skipped: 'no events since the last checkpoint' };
  const verdict = await walkAuditChain(db, { from: last ?? undefined, until: head.seq });
  deps.verifications?.inc({ result: verdict.intact ? 'intact' : 'broken' });
  if (!verdict.intact) throw new AuditChainBrokenError(`audit chain broken at seq ${verdict.brokenSeq}: ${verdict.reason}`);
  if (verdict.events !== head.seq) throw new AuditChainBrokenError(`the chain head says seq ${head.seq} but the events end at seq ${verdict.events}`);
  const payload = { elementId: config.elementId, seq: head.seq.toString(), hash: verdict.headHash, time: new Date().toISOString() };
  const jws = await signCheckpoint(key, payload);
  await insertAuditCheckpoint(db, { seq: head.seq, hash: verdict.headHash, jws });
  if (config.blobBackend === 'local') {
    await writeFileAtomic(path.join(checkpointDir(config), `${payload.seq.padStart(20, '0')}.jws`), `${jws}\n`);
  }
  return { seq: payload.seq, hash: payload.hash };
}

/**
 * The walk starts from what the last checkpoint's signature covers, never from its row's columns alone: a row whose
 * hash was edited to fit a rewritten chain would otherwise have the job sign the rewrite's continuation.
 */
async function signedLatestCheckpoint(key: AuditSigningKey, last: StoredCheckpoint | null): Promise<{ seq: bigint; hash: string } | null> {
  if (!last) return null;
  const opened = await trustedPoint(key, last.jws, 'database');
  if ('brokenSeq' in opened) throw new AuditChainBrokenError(`audit checkpoint at seq ${last.seq}: ${opened.reason}`);
  if (opened.seq !== last.seq || opened.hash !== last.hash) {
    throw new AuditChainBrokenError(`the checkpoint row at seq ${last.seq} differs from what its signature covers`);
  }
  return { seq: opened.seq, hash: opened.hash };
}

/** The whole verification: every checkpoint's signature, then the chain from its first event against all of them. */
export async function verifyAuditTrail(
  deps: CheckpointDeps,
  /** An Ed25519 public key (SPKI PEM): an auditor verifies with it and never holds the key that signs. */
  options: { publicKeyPem?: string } = {},
): Promise<ChainVerdict> {
  const { db, config } = deps;
  const key = options.publicKeyPem ? { publicKey: auditPublicKeyOf(options.publicKeyPem) } : await loadAuditSigningKey(config);
  const points: TrustedPoint[] = [];
  for (const c of await selectAuditCheckpoints(db)) {
    const opened = await trustedPoint(key, c.jws, 'database');
    if ('brokenSeq' in opened) return record(deps, opened);
    if (opened.seq !== c.seq || opened.hash !== c.hash) {
      return record(deps, { intact: false, brokenSeq: c.seq, reason: `the checkpoint row at seq ${c.seq} differs from what its signature covers` });
    }
    points.push(opened);
  }
  for (const file of config.blobBackend === 'local' ? await checkpointFiles(checkpointDir(config)) : []) {
    const opened = await trustedPoint(key, (await fs.readFile(file, 'utf8')).trim(), file);
    if ('brokenSeq' in opened) return record(deps, opened);
    points.push(opened);
  }
  const verdict = await walkAuditChain(db, { checkpoints: points });
  if (verdict.intact) {
    const head = await selectAuditHead(db);
    if (head.seq > verdict.events) {
      return record(deps, { intact: false, brokenSeq: verdict.events + 1n, reason: `the chain ends at seq ${verdict.events} but its head records seq ${head.seq}: events were removed` });
    }
  }
  return record(deps, verdict);
}

function record(deps: CheckpointDeps, verdict: ChainVerdict): ChainVerdict {
  deps.verifications?.inc({ result: verdict.intact ? 'intact' : 'broken' });
  return verdict;
}

async function trustedPoint(key: Pick<AuditSigningKey, 'publicKey'>, jws: string, source: string): Promise<TrustedPoint | Extract<ChainVerdict, { intact: false }>> {
  try {
    const payload = await openCheckpoint(key, jws);
    return { seq: BigInt(payload.seq), hash: payload.hash, source };
  } catch {
    const seq = /(\d+)\.jws$/.exec(source)?.[1];
    return { intact: false, brokenSeq: BigInt(seq ?? 0), reason: `a checkpoint (${source}) does not carry a valid signature of the audit signing key` };
  }
}

async function checkpointFiles(dir: string): Promise<string[]> {
  const names = await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return names.filter((n) => /^\d{20}\.jws$/.test(n)).sort().map((n) => path.join(dir, n));
}
