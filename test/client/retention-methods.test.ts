// The typed client's retention calls against a real API and worker: upload fields, setRetention (with the bypass
// header) and setLegalHold, and retention_active as an ArtstoreError code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtstoreError, createClient, type Client } from '../../src/client/index.js';
import { createCliWorld, type CliWorld } from '../cli/cli-harness.js';

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

describe('client retention methods', () => {
  let cw: CliWorld;
  let operator: Client;
  let admin: Client;

  beforeAll(async () => {
    cw = await createCliWorld({ LIFECYCLE_INTERVAL_SECONDS: '0' });
    operator = createClient({ url: cw.url, token: await cw.world.token('operator', 'olga') });
    admin = createClient({ url: cw.url, token: await cw.world.token('admin', 'adam') });
  });
  afterAll(async () => cw?.close());

  it('uploads with retention fields, changes retention and hold, and reads retention_active from a refused delete', async () => {
    const until = inDays(4);
    const up = await operator.upload([{ data: 'kept bytes', name: 'kept.txt' }], { retentionPolicy: 'temporary', ttlDays: 2, retainUntil: until, legalHold: true }, { wait: 20 });
    expect(up.status).toBe(201);
    const fileId = up.jobs[0]!.fileId!;
    const meta = await operator.metadata(fileId);
    expect(meta).toMatchObject({ retentionPolicy: 'temporary', retainUntil: until, retentionMode: 'governance', legalHold: true });

    expect((await operator.search({ legalHold: true, expiresBefore: inDays(3) })).items.map((f) => f.id)).toEqual([fileId]);
    const refused = await admin.delete(fileId).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ArtstoreError);
    expect((refused as ArtstoreError).code).toBe('retention_active');

    const released = await operator.setLegalHold(fileId, false);
    expect(released).toMatchObject({ applied: true, file: { legalHold: false, revision: 2 } });
    const shorten = await admin.setRetention(fileId, { retainUntil: null }).catch((err: unknown) => err);
    expect((shorten as ArtstoreError).code).toBe('retention_active');
    const removed = await admin.setRetention(fileId, { retainUntil: null }, { bypassGovernance: true });
    expect(removed).toMatchObject({ applied: true, file: { retainUntil: null, retentionMode: null, revision: 3 } });
    expect((await admin.delete(fileId)).fileId).toBe(fileId);
  });
});
