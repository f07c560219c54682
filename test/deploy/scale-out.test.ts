// SPEC §8 end to end: two API processes and two worker processes that share nothing but PostgreSQL, a Redis
// Cluster and an S3 store (s3rver), each with its own private scratch directory. Uploads through API 1 commit via
// the workers and download through API 2 (Range, ETag, 304); a worker killed with -9 mid-ingest loses nothing.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poolOf } from '../../src/shared/records/database.js';
import { createS3Client } from '../../src/shared/storage/s3-client.js';
import { envFor, freePort, startService, type Service } from '../helpers/processes.js';
import { startRedisCluster } from '../helpers/redis-cluster.js';
import { startS3Server } from '../helpers/s3-server.js';
import { filesUnder } from '../helpers/wait.js';
import { createWorld, type World } from '../helpers/world.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const FINAL = ['committed', 'duplicate', 'failed'];

type Cluster = Awaited<ReturnType<typeof startRedisCluster>>;
type S3 = Awaited<ReturnType<typeof startS3Server>>;

describe('two APIs and two workers on S3 and a Redis Cluster, nothing shared on disk', { timeout: 240_000 }, () => {
  let s3: S3;
  let cluster: Cluster;
  let world: World;
  let root: string;
  let token: string;
  const services: Service[] = [];
  const apis: string[] = [];
  const prefix = `so-${randomUUID().slice(0, 8)}/`;

  const backendEnv = () => ({
    BLOB_BACKEND: 's3',
    S3_ENDPOINT: s3.endpoint,
    S3_BUCKET: s3.bucket,
    S3_PREFIX: prefix,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    REDIS_CLUSTER_NODES: cluster.nodes,
  });

  /** A process with directories nobody else sees. */
  async function start(kind: 'api' | 'workers', name: string, extra: Record<string, string> = {}): Promise<Service> {
    const own = path.join(root, name);
    const env = envFor(world.config, {
      ...backendEnv(),
      STORAGE_PATH: path.join(own, 'storage'),
      STAGING_PATH: path.join(own, 'scratch'),
      JOB_LOCK_MS: '1500',
      ...extra,
    });
    const service = await startService(kind, env, kind === 'api' ? 'api listening' : 'worker started');
    services.push(service);
    return service;
  }

  beforeAll(async () => {
    [s3, cluster] = await Promise.all([startS3Server(), startRedisCluster()]);
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'scale-out-'));
    world = await createWorld({ isolatedDatabase: true, env: { ...backendEnv(), QUEUE_PREFIX: `{so${randomUUID().slice(0, 8)}}` } });
    token = await world.token('user', 'alice');
    for (const name of ['api-1', 'api-2']) {
      const port = await freePort();
      await start('api', name, { PORT: String(port) });
      apis.push(`http://127.0.0.1:${port}`);
    }
  });
  afterAll(async () => {
    for (const s of services) s.child.kill('SIGKILL');
    await Promise.all(services.map((s) => s.exited));
    await world?.close();
    await cluster?.close();
    await s3?.close();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const auth = () => ({ Authorization: `Bearer ${token}` });

  async function upload(api: string, files: Buffer[]): Promise<string[]> {
    const form = new FormData();
    for (const [i, bytes] of files.entries()) form.append('file', new Blob([bytes]), `scan-${i}.bin`);
    const res = await fetch(`${api}/api/v1/files/upload`, { method: 'POST', headers: auth(), body: form });
    expect(res.status, await res.clone().text()).toBe(202);
    return ((await res.json()) as { jobs: Array<{ id: string }> }).jobs.map((j) => j.id);
  }

  async function waitFinal(api: string, ids: string[], timeoutMs = 90_000): Promise<Array<{ id: string; state: string; fileId: string; sha256: string }>> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const res = await fetch(`${api}/api/v1/jobs?ids=${ids.join(',')}`, { headers: auth() });
      expect(res.status).toBe(200);
      const jobs = ((await res.json()) as { jobs: Array<{ id: string; state: string; fileId: string; sha256: string }> }).jobs;
      if (jobs.every((j) => FINAL.includes(j.state))) return jobs;
      if (Date.now() > deadline) throw new Error(`jobs not final: ${JSON.stringify(jobs.map((j) => j.state))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function keysUnder(sub: string): Promise<string[]> {
    const client = createS3Client({ endpoint: s3.endpoint, region: 'us-east-1', bucket: s3.bucket, prefix, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}${sub}`, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    client.destroy();
    return keys;
  }

  async function expectServed(api: string, fileId: string, bytes: Buffer): Promise<void> {
    const whole = await fetch(`${api}/api/v1/files/${fileId}`, { headers: auth() });
    expect(whole.status).toBe(200);
    expect(sha(Buffer.from(await whole.arrayBuffer()))).toBe(sha(bytes));
    const etag = whole.headers.get('etag');
    expect(etag).toBeTruthy();
    const ranged = await fetch(`${api}/api/v1/files/${fileId}`, { headers: { ...auth(), Range: 'bytes=10-99' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(bytes.subarray(10, 100))).toBe(true);
    const again = await fetch(`${api}/api/v1/files/${fileId}`, { headers: { ...auth(), 'If-None-Match': etag! } });
    expect(again.status).toBe(304);
  }

  it('commits uploads taken by API 1 and serves them from API 2, with no file on any local disk', async () => {
    await start('workers', 'worker-1', { WORKER_METRICS_PORT: '0' });
    await start('workers', 'worker-2', { WORKER_METRICS_PORT: '0' });
    const files = Array.from({ length: 24 }, (_, i) => randomBytes(200 + i * 997));
    files.push(Buffer.alloc(0), randomBytes(20 * 1024 * 1024));
    const ids = [...(await upload(apis[0]!, files.slice(0, 13))), ...(await upload(apis[0]!, files.slice(13)))];
    const jobs = await waitFinal(apis[1]!, ids);
    expect(jobs.map((j) => j.state)).toEqual(files.map(() => 'committed'));
    for (const [i, job] of jobs.entries()) {
      expect(job.sha256).toBe(sha(files[i]!));
      if (files[i]!.length >= 100) await expectServed(apis[1]!, job.fileId, files[i]!);
    }
    // The blobs and attr.json are objects; staged uploads are gone within seconds of their commit.
    expect(new Set((await keysUnder('blobs/')).map((k) => path.basename(k)))).toEqual(new Set(files.map(sha)));
    expect(await keysUnder('files/')).toHaveLength(files.length);
    await expect.poll(() => keysUnder('staging/'), { timeout: 15_000 }).toEqual([]);
    const local = (await filesUnder(root)).filter((f) => !f.includes(`${path.sep}dev-keys${path.sep}`));
    expect(local.filter((f) => f.includes(`${path.sep}storage${path.sep}`))).toEqual([]);
  });

  it('loses nothing when a worker is killed with -9 in the middle of an ingest', async () => {
    // The healthy workers stop; one that dies once its blobs are stored takes the next uploads.
    for (const s of services.filter((s) => s.output().includes('worker started'))) s.child.kill('SIGTERM');
    await Promise.all(services.filter((s) => s.output().includes('worker started')).map((s) => s.exited));
    const doomed = await start('workers', 'worker-3', { CRASH_AT: 'after-blob' });
    const files = Array.from({ length: 12 }, (_, i) => randomBytes(5_000 + i * 131));
    const ids = await upload(apis[1]!, files);
    expect(await doomed.exited).toBe('SIGKILL');
    await start('workers', 'worker-4');
    const jobs = await waitFinal(apis[0]!, ids);
    expect(jobs.map((j) => j.state)).toEqual(files.map(() => 'committed'));
    for (const [i, job] of jobs.entries()) await expectServed(apis[0]!, job.fileId, files[i]!);
    const db = poolOf(world.api.db);
    const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM files WHERE id = ANY($1::uuid[])`, [jobs.map((j) => j.fileId)]);
    expect(Number(rows[0]!.n)).toBe(files.length);
    expect((await db.query(`SELECT 1 FROM wal_entries WHERE status = 'pending'`)).rowCount).toBe(0);
    await expect.poll(() => keysUnder('staging/'), { timeout: 15_000 }).toEqual([]);
    const { rows: blobs } = await db.query<{ sha256: string }>(`SELECT sha256 FROM blobs`);
    expect(new Set((await keysUnder('blobs/')).map((k) => path.basename(k)))).toEqual(new Set(blobs.map((b) => b.sha256.trim())));
     // The store's credentials never reach a log line of any process.
    for (const s of services) expect(s.output()).not.toContain(s3.secretAccessKey);
  });
});
