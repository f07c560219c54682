// The S3 backend against an in-process s3rver: the conformance suites, plus what only an S3 store has (readiness,
// outages, prefixes used exactly as given, the backend chosen from the config).
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/shared/config.js';
import { createLogger } from '../../../src/shared/logger.js';
import { isOutageError } from '../../../src/shared/outage.js';
import { S3AttrStore } from '../../../src/shared/storage/s3-attr-store.js';
import { S3BlobStore } from '../../../src/shared/storage/s3-blob-store.js';
import { createS3Client } from '../../../src/shared/storage/s3-client.js';
import { checkBlobStore, openStorage } from '../../../src/shared/storage/storage-backends.js';
import { freePort } from '../../helpers/processes.js';
import { startS3Server, type S3TestServer } from '../../helpers/s3-server.js';
import { describeAttrStore } from './attr-store-conformance.js';
import { describeBlobStore } from './blob-store-conformance.js';
import { s3ConfigFor, s3Targets } from './s3-targets.js';

let server: S3TestServer;
beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => server?.close());

const targets = s3Targets(() => server);
// s3rver ignores If-None-Match on PUT and answers AbortMultipartUpload with 405 (STACK.md); it answers bytes=0-0
// with the whole object (it reads the range's end 0 as "no end").
describeBlobStore('s3 (s3rver)', targets.makeBlobStore, { conditionalCreate: false, sweepsTemporaries: false, firstByteRange: false });
describeAttrStore('s3 (s3rver)', targets.makeAttrStore);

describe('S3 backend specifics (s3rver)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 's3-specifics-'));
  });
  afterAll(async () => fs.rm(dir, { recursive: true, force: true }));

  const staged = async (bytes: Buffer) => {
    const p = path.join(dir, randomBytes(6).toString('hex'));
    await fs.writeFile(p, bytes);
    return { path: p, sha256: createHash('sha256').update(bytes).digest('hex') };
  };
  const env = (extra: Record<string, string> = {}) => ({
    NODE_ENV: 'test',
    STORAGE_PATH: path.join(dir, 'storage'),
    BLOB_BACKEND: 's3',
    S3_ENDPOINT: server.endpoint,
    S3_BUCKET: server.bucket,
    S3_ACCESS_KEY_ID: server.accessKeyId,
    S3_SECRET_ACCESS_KEY: server.secretAccessKey,
    ...extra,
  });

  it('uses S3_PREFIX exactly as given, without adding a separator', async () => {
    const prefix = `tenant-${randomBytes(3).toString('hex')}`;
    const { blobStore, attrStore } = openStorage(loadConfig(env({ S3_PREFIX: prefix })));
    try {
      expect(blobStore).toBeInstanceOf(S3BlobStore);
      expect(attrStore).toBeInstanceOf(S3AttrStore);
      const a = await staged(randomBytes(100));
      expect((await blobStore.put(a.sha256, a.path)).storageKey).toBe(`${prefix}blobs/${a.sha256.slice(0, 2)}/${a.sha256.slice(2, 4)}/${a.sha256}`);
      const client = createS3Client(s3ConfigFor(server, prefix));
      const listed = await client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: prefix }));
      expect(listed.Contents?.map((o) => o.Key)).toEqual([blobStore.keyFor(a.sha256)]);
      client.destroy();
      // Nothing of the blob lands under STORAGE_PATH.
      expect(await fs.readdir(path.join(dir, 'storage')).catch(() => [])).toEqual([]);
    } finally {
      await blobStore.close?.();
    }
  });

  it('logs where the blobs live, never the credentials', async () => {
    let written = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        written += chunk.toString();
        done();
      },
    });
    const config = loadConfig(env({ LOG_LEVEL: 'info', S3_ENDPOINT: server.endpoint.replace('http://', 'http://user:hunter2@') }));
    const { blobStore } = openStorage(config, { logger: createLogger(config, 'test', sink) });
    await blobStore.close?.();
    expect(written).toContain(server.bucket);
    expect(written).not.toContain(server.secretAccessKey);
    expect(written).not.toContain('hunter2');
  });

  it('reports the bucket ready, and not ready (without credentials in the detail) when it is missing or unreachable', async () => {
    const config = loadConfig(env());
    const ready = openStorage(config).blobStore;
    expect(await checkBlobStore(ready, config)).toEqual({ ok: true, backend: 's3' });
    await ready.close?.();

    const noBucket = loadConfig(env({ S3_BUCKET: 'no-such-bucket' }));
    const missing = openStorage(noBucket).blobStore;
    const missingHealth = await checkBlobStore(missing, noBucket);
    expect(missingHealth).toMatchObject({ ok: false, backend: 's3', detail: expect.stringContaining('404') });
    await missing.close?.();

    const dead = loadConfig(env({ S3_ENDPOINT: `http://127.0.0.1:${await freePort()}` }));
    const unreachable = openStorage(dead).blobStore;
    const health = await checkBlobStore(unreachable, dead, { timeoutMs: 10_000 });
    expect(health).toMatchObject({ ok: false, backend: 's3', detail: expect.stringContaining('ECONNREFUSED') });
    expect(JSON.stringify(health)).not.toContain(server.secretAccessKey);
    await unreachable.close?.();
  });

  it('surfaces an unreachable store as an outage (retried, never a corrupt blob or a failed job)', async () => {
    const dead = loadConfig(env({ S3_ENDPOINT: `http://127.0.0.1:${await freePort()}` }));
    const { blobStore, attrStore } = openStorage(dead);
    const a = await staged(randomBytes(10));
    const caught = (p: Promise<unknown>) => p.then(() => new Error('expected a rejection'), (err: unknown) => err);
    try {
      for (const err of [
        await caught(blobStore.stat(a.sha256)),
        await caught(blobStore.put(a.sha256, a.path)),
        await caught(blobStore.openRead(a.sha256)),
        await caught(blobStore.readRange(a.sha256, { start: 0, end: 0 })),
        await caught(blobStore.delete(a.sha256)),
        await caught(attrStore.read(`files/2026/01/01/00/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}.attr.json`)),
      ]) {
        expect(isOutageError(err), String(err)).toBe(true);
      }
    } finally {
      await blobStore.close?.();
    }
  });

  it('recognises the SDK\'s timeouts and 5xx answers as outages, and its 4xx answers as faults', () => {
    expect(isOutageError(Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }))).toBe(true);
    expect(isOutageError(Object.assign(new Error('SlowDown'), { name: 'SlowDown', $fault: 'server', $metadata: { httpStatusCode: 503 } }))).toBe(true);
    expect(isOutageError(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } }))).toBe(false);
  });
});
