// rebuild-index on the S3 backend: an element storing its blobs and attr.json in a bucket (s3rver) gets its File and
// Blob tables back from the bucket alone, through the domain function and through the CLI.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildIndex } from '../../src/shared/domain/index-rebuild.js';
import { S3AttrStore } from '../../src/shared/storage/s3-attr-store.js';
import { createS3Client } from '../../src/shared/storage/s3-client.js';
import { envFor } from '../helpers/processes.js';
import { binaryParser } from '../helpers/http.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { createWorld, type World } from '../helpers/world.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/rebuild-index.ts', ...args], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? '', ...env, NODE_ENV: 'test', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('rebuild-index on the S3 backend', () => {
  let server: S3TestServer;
  let world: World;
  let alice: string;
  const prefix = `element-${randomBytes(3).toString('hex')}/`;
  const live: Array<{ id: string; bytes: Buffer; meta: unknown }> = [];
  let rowsBefore: unknown[] = [];

  const fileRows = () => world.api.db.$queryRaw<unknown[]>`
    SELECT id::text, file_name, size::text, sha256, tags, metadata, owner, created_at, updated_at, revision, deleted_at, attr_path
    FROM files ORDER BY id`;
  const metadataOf = (id: string) => request(world.app).get(`/api/v1/files/${id}/metadata`).set('Authorization', `Bearer ${alice}`);
  const download = (id: string) => request(world.app).get(`/api/v1/files/${id}`).set('Authorization', `Bearer ${alice}`).buffer(true).parse(binaryParser);

  const s3Env = () => ({
    BLOB_BACKEND: 's3',
    S3_ENDPOINT: server.endpoint,
    S3_BUCKET: server.bucket,
    S3_PREFIX: prefix,
    S3_ACCESS_KEY_ID: server.accessKeyId,
    S3_SECRET_ACCESS_KEY: server.secretAccessKey,
  });

  beforeAll(async () => {
    server = await startS3Server();
    world = await createWorld({ worker: true, isolatedDatabase: true, env: s3Env() });
    alice = await world.token('user', 'alice');
    const shared = randomBytes(30_000);
    for (const [bytes, name, tags] of [
      [randomBytes(100_000), 'report.pdf', 'finance,annual'],
      [shared, 'copy-a.bin', 'copy'],
      [shared, 'copy-b.bin', 'copy'],
      [Buffer.alloc(0), 'empty.txt', ''],
    ] as const) {
      const res = await request(world.app).post('/api/v1/files/upload?wait=20').set('Authorization', `Bearer ${alice}`).field('tags', tags).attach('file', bytes, name);
      expect(res.status).toBe(201);
      const id = String(res.body.jobs[0].fileId);
      live.push({ id, bytes, meta: (await metadataOf(id)).body });
    }
    rowsBefore = await fileRows();
  });
  afterAll(async () => {
    await world?.close();
    await server?.close();
  });

  it('keeps every blob and attr.json in the bucket under S3_PREFIX, and no file under STORAGE_PATH', async () => {
    const client = createS3Client(world.config.s3!);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: prefix }));
    client.destroy();
    const keys = (listed.Contents ?? []).map((o) => o.Key!).sort();
    const blobKeys = [...new Set(live.map((f) => sha(f.bytes)))].map((h) => `${prefix}blobs/${h.slice(0, 2)}/${h.slice(2, 4)}/${h}`);
    expect(keys.filter((k) => k.startsWith(`${prefix}blobs/`))).toEqual(blobKeys.sort());
    expect(keys.filter((k) => k.startsWith(`${prefix}files/`))).toHaveLength(live.length);
    const entries = await fs.readdir(world.config.storagePath, { recursive: true, withFileTypes: true }).catch(() => []);
    const regular = entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
    expect(regular.filter((f) => /[/\\](blobs|files)[/\\]/.test(f))).toEqual([]);
  });

  it('restores the files and blobs tables from the bucket alone', async () => {
    await world.api.db.$executeRawUnsafe('TRUNCATE files, blobs');
    expect((await metadataOf(live[0]!.id)).status).toBe(404);
    const attrStore = world.worker!.attrStore;
    expect(attrStore).toBeInstanceOf(S3AttrStore);
    const report = await rebuildIndex({ db: world.api.db, config: world.config, blobStore: world.api.blobStore, attrStore, logger: world.api.logger });
    expect(report).toMatchObject({ attrFiles: 4, filesRestored: 4, filesSkipped: 0, blobsRestored: 3 });
    expect(await fileRows()).toEqual(rowsBefore);
    const blobs = await world.api.db.blob.findMany();
    for (const b of blobs) expect(b.storageKey).toBe(`${prefix}blobs/${b.sha256.slice(0, 2)}/${b.sha256.slice(2, 4)}/${b.sha256}`);
    for (const file of live) {
      expect((await metadataOf(file.id)).body).toEqual(file.meta);
      const dl = await download(file.id);
      expect(dl.status).toBe(200);
      expect(Buffer.compare(dl.body as Buffer, file.bytes)).toBe(0);
    }
  });

  it('rebuilds through the CLI from the S3 settings, with --wipe --yes', async () => {
    const { code, stdout, stderr } = await runCli(['--wipe', '--yes'], envFor(world.config, s3Env()));
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ dryRun: false, wiped: true, attrFiles: 4, filesRestored: 4, blobsRestored: 3 });
    expect(await fileRows()).toEqual(rowsBefore);
  });
});
