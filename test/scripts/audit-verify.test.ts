// npm run audit:verify and the checkpoints: an intact chain passes; an edited row, a removed row and a chain
// rewritten with every hash recomputed are each found, naming the first broken seq (SPEC §11).
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkpointDir, verifyAuditTrail, writeAuditCheckpoint } from '../../src/shared/domain/audit-checkpoints.js';
import { loadAuditSigningKey } from '../../src/shared/domain/audit-signing.js';
import { appendAuditEvents, appendAuditEventsAlone } from '../../src/shared/records/audit-events.js';
import { poolOf } from '../../src/shared/records/database.js';
import { chainHash, GENESIS_HASH, type AuditRecord } from '../../src/shared/records/audit-record.js';
import { createWorld, type World } from '../helpers/world.js';

describe('audit chain verification', () => {
  let world: World;
  const deps = () => ({ db: world.api.db, config: world.config, logger: world.api.logger });
  const sql = (text: string, ...values: unknown[]) => world.api.db.$executeRawUnsafe(text, ...values);

  beforeAll(async () => {
    world = await createWorld({ isolatedDatabase: true });
  });
  afterAll(async () => world?.close());
  afterEach(async () => {
    // Each test starts from an empty chain: the owner disables the triggers, as a tamperer with the owner's rights would.
    await sql('ALTER TABLE audit_events DISABLE TRIGGER USER');
    await sql('ALTER TABLE audit_checkpoints DISABLE TRIGGER USER');
    await sql('TRUNCATE audit_events, audit_checkpoints');
    await sql(`UPDATE audit_head SET seq = 0, hash = repeat('0', 64)`);
    await sql('ALTER TABLE audit_events ENABLE TRIGGER USER');
    await sql('ALTER TABLE audit_checkpoints ENABLE TRIGGER USER');
    await fs.rm(checkpointDir(world.config), { recursive: true, force: true });
  });

  async function appendEvents(n: number): Promise<void> {
    const events = Array.from({ length: n }, (_, i) => ({
      action: 'metadata_update' as const,
      actor: { sub: `user-${i % 3}`, role: 'user' },
      fileId: '00000000-0000-4000-8000-00000000000' + (i % 10),
      details: { i, note: 'ünïcode ✓', nested: { b: 2, a: [1, 2.5, null] } },
    }));
    await appendAuditEventsAlone(world.api.db, events);
  }

  /** Runs the real script against this world's database and keys. */
  function runVerifyScript(...args: string[]): Promise<{ code: number | null; stdout: string }> {
    const env = { ...process.env, NODE_ENV: 'test', DATABASE_URL: world.config.databaseUrl, STORAGE_PATH: world.config.storagePath, DEV_KEYS_PATH: world.config.devKeysPath, LOG_LEVEL: 'silent' };
    return new Promise((resolve, reject) => {
      const child = spawn('npx', ['tsx', 'scripts/audit-verify.ts', ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout }));
    });
  }

  it('refuses UPDATE, DELETE and TRUNCATE on the events', async () => {
    await appendEvents(2);
    await expect(sql(`UPDATE audit_events SET details = '{}' WHERE seq = 1`)).rejects.toThrow(/append-only/);
    await expect(sql('DELETE FROM audit_events WHERE seq = 2')).rejects.toThrow(/append-only/);
    await expect(sql('TRUNCATE audit_events')).rejects.toThrow(/append-only/);
    expect(await world.api.db.auditEvent.count()).toBe(2);
  });

  it('refuses to commit a change without its event when the chain head row is gone', async () => {
    const client = await poolOf(world.api.db).connect();
    try {
      await client.query('BEGIN');
      await client.query('DELETE FROM audit_head');
      const event = { action: 'mode_change' as const, actor: { sub: 'ada' }, details: { from: 'rw', to: 'ro' } };
      await expect(appendAuditEvents(client, [event])).rejects.toThrow(/audit chain head .* is missing/);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    expect(await world.api.db.auditHead.count()).toBe(1);
  });

  it('hashes each event as sha256(prevHash + canonical JSON), keys sorted', async () => {
    await appendEvents(2);
    const [first] = await world.api.db.auditEvent.findMany({ orderBy: { seq: 'asc' }, take: 1 });
    const record: AuditRecord = {
      time: first!.time.toISOString(), action: first!.action, actorSub: first!.actorSub, actorName: null, actorRole: 'user', actorTokenType: null,
      fileId: first!.fileId, sha256: null, jobId: null, requestId: null, clientAddress: null, outcome: 'success', errorCode: null,
      details: first!.details as Record<string, unknown>,
    };
    expect(first!.prevHash).toBe(GENESIS_HASH);
    expect(first!.hash).toBe(chainHash(GENESIS_HASH, record));
  });

  it('passes an intact chain (exit 0) and names the seq of an edited row (exit 1)', async () => {
    await appendEvents(30);
    expect(await verifyAuditTrail(deps())).toMatchObject({ intact: true, events: 30n });
    expect(await runVerifyScript()).toMatchObject({ code: 0, stdout: expect.stringContaining('intact: 30 events') });

    await sql('ALTER TABLE audit_events DISABLE TRIGGER USER');
    await sql(`UPDATE audit_events SET details = jsonb_set(details, '{i}', '99') WHERE seq = 17`);
    await sql('ALTER TABLE audit_events ENABLE TRIGGER USER');
    expect(await verifyAuditTrail(deps())).toMatchObject({ intact: false, brokenSeq: 17n });
    const run = await runVerifyScript();
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/broken at seq 17\b/);
  });

  it('names the seq of a removed row', async () => {
    await appendEvents(10);
    await sql('ALTER TABLE audit_events DISABLE TRIGGER USER');
    await sql('DELETE FROM audit_events WHERE seq = 4');
    await sql('ALTER TABLE audit_events ENABLE TRIGGER USER');
    expect(await verifyAuditTrail(deps())).toMatchObject({ intact: false, brokenSeq: 4n });
  });

  it('names the seq of two rows swapped in place', async () => {
    await appendEvents(8);
    await sql('ALTER TABLE audit_events DISABLE TRIGGER USER');
    await sql('UPDATE audit_events SET seq = -1 WHERE seq = 4');
    await sql('UPDATE audit_events SET seq = 4 WHERE seq = 5');
    await sql('UPDATE audit_events SET seq = 5 WHERE seq = -1');
    await sql('ALTER TABLE audit_events ENABLE TRIGGER USER');
    expect(await verifyAuditTrail(deps())).toMatchObject({ intact: false, brokenSeq: 4n });
  });

  it('verifies with the public key alone (--public-key), and refuses checkpoints another key signed', async () => {
    await appendEvents(6);
    expect(await writeAuditCheckpoint(deps())).toMatchObject({ seq: '6' });
    const signing = await loadAuditSigningKey(world.config);
    const ours = path.join(world.config.devKeysPath, 'audit-public-test.pem');
    await fs.writeFile(ours, signing.publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const intact = await runVerifyScript('--public-key', ours);
    expect(intact.stdout).toMatch(/^audit chain intact: 6 events/);
    expect(intact.code).toBe(0);
    const other = path.join(world.config.devKeysPath, 'audit-public-other.pem');
    await fs.writeFile(other, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const refused = await runVerifyScript('--public-key', other);
    expect(refused.stdout).toMatch(/does not carry a valid signature/);
    expect(refused.code).toBe(1);
  });

  it('finds removed last rows through the head and a checkpoint', async () => {
    await appendEvents(10);
    expect(await writeAuditCheckpoint(deps())).toMatchObject({ seq: '10' });
    await sql('ALTER TABLE audit_events DISABLE TRIGGER USER');
    await sql('DELETE FROM audit_events WHERE seq > 8');
    await sql('ALTER TABLE audit_events ENABLE TRIGGER USER');
    await sql('UPDATE audit_head SET seq = 8, hash = (SELECT hash FROM audit_events WHERE seq = 8)');
    expect(await verifyAuditTrail(deps())).toMatchObject({ intact: false, brokenSeq: 9n });
  });

  it('finds a chain rewritten with every hash recomputed, through the signed checkpoint (database and file copy)', async () => {
    await appendEvents(20);
    expect(await writeAuditCheckpoint(deps())).toMatchObject({ seq: '20' });
    expect(await writeAuditCheckpoint(deps())).toMatchObject({ skipped: expect.any(String) });
    await appendEvents(5);
    expect(await verifyAuditTrail(deps())).toMatchObject({ intact: true, events: 25n, checkpointsMatched: 2 });

    // The tamperer edits seq 12 and recomputes every hash after it, head included: the chain itself is consistent again.
    await sql('ALTER TABLE audit_events DISABLE TRIGGER USER');
    await sql(`UPDATE audit_events SET actor_sub = 'someone-else' WHERE seq = 12`);
    const rows = await world.api.db.auditEvent.findMany({ orderBy: { seq: 'asc' } });
    let prev = GENESIS_HASH;
    for (const r of rows) {
      const record: AuditRecord = {
        time: r.time.toISOString(), action: r.action, actorSub: r.actorSub, actorName: r.actorName, actorRole: r.actorRole,
        actorTokenType: r.actorTokenType, fileId: r.fileId, sha256: r.sha256, jobId: r.jobId, requestId: r.requestId,
        clientAddress: r.clientAddress, outcome: r.outcome, errorCode: r.errorCode, details: r.details as Record<string, unknown>,
      };
      const hash = chainHash(prev, record);
      await sql('UPDATE audit_events SET prev_hash = $1, hash = $2 WHERE seq = $3', prev, hash, r.seq);
      prev = hash;
    }
    await sql('ALTER TABLE audit_events ENABLE TRIGGER USER');
    await sql('UPDATE audit_head SET hash = $1', prev);

    const verdict = await verifyAuditTrail(deps());
    expect(verdict).toMatchObject({ intact: false, brokenSeq: 1n });
    expect(verdict.intact ? '' : verdict.reason).toMatch(/rewritten between seq 1 and 20/);
    // The checkpoint job refuses to sign over it, too.
    await appendEvents(1);
    await expect(writeAuditCheckpoint(deps())).rejects.toThrow(/audit chain broken at seq 21/);
    await sql('ALTER TABLE audit_checkpoints DISABLE TRIGGER USER');
    await sql('DELETE FROM audit_checkpoints');
    await sql('ALTER TABLE audit_checkpoints ENABLE TRIGGER USER');
    // With the database's checkpoints removed as well, the signed file beside the blobs still tells.
    expect(await verifyAuditTrail(deps())).toMatchObject({ intact: false, brokenSeq: 1n });
  });

  it('does not sign a continuation from a checkpoint row edited to fit a rewritten chain', async () => {
    await appendEvents(10);
    expect(await writeAuditCheckpoint(deps())).toMatchObject({ seq: '10' });
    // The tamperer rewrites seq 3 with every hash after it, and edits the checkpoint row's hash (not its JWS) to match.
    await sql('ALTER TABLE audit_events DISABLE TRIGGER USER');
    await sql(`UPDATE audit_events SET actor_sub = 'someone-else' WHERE seq = 3`);
    let prev = GENESIS_HASH;
    for (const r of await world.api.db.auditEvent.findMany({ orderBy: { seq: 'asc' } })) {
      const record: AuditRecord = {
        time: r.time.toISOString(), action: r.action, actorSub: r.actorSub, actorName: r.actorName, actorRole: r.actorRole,
        actorTokenType: r.actorTokenType, fileId: r.fileId, sha256: r.sha256, jobId: r.jobId, requestId: r.requestId,
        clientAddress: r.clientAddress, outcome: r.outcome, errorCode: r.errorCode, details: r.details as Record<string, unknown>,
      };
      const hash = chainHash(prev, record);
      await sql('UPDATE audit_events SET prev_hash = $1, hash = $2 WHERE seq = $3', prev, hash, r.seq);
      prev = hash;
    }
    await sql('ALTER TABLE audit_events ENABLE TRIGGER USER');
    await sql('UPDATE audit_head SET hash = $1', prev);
    await sql('ALTER TABLE audit_checkpoints DISABLE TRIGGER USER');
    await sql('UPDATE audit_checkpoints SET hash = $1 WHERE seq = 10', prev);
    await sql('ALTER TABLE audit_checkpoints ENABLE TRIGGER USER');
    await appendEvents(1);
    await expect(writeAuditCheckpoint(deps())).rejects.toThrow(/differs from what its signature covers/);
    expect(await world.api.db.auditCheckpoint.count()).toBe(1);
  });

  it('refuses a checkpoint whose signature is not the signing key\'s', async () => {
    await appendEvents(3);
    await writeAuditCheckpoint(deps());
    const [file] = await fs.readdir(checkpointDir(world.config));
    const full = `${checkpointDir(world.config)}/${file}`;
    const [header, , signature] = (await fs.readFile(full, 'utf8')).trim().split('.');
    const forged = Buffer.from(JSON.stringify({ elementId: 'se-01', seq: '3', hash: 'f'.repeat(64), time: new Date().toISOString() })).toString('base64url');
    await fs.writeFile(full, `${header}.${forged}.${signature}\n`);
    const verdict = await verifyAuditTrail(deps());
    expect(verdict.intact).toBe(false);
    expect(verdict.intact ? '' : verdict.reason).toMatch(/valid signature/);
  });
});
