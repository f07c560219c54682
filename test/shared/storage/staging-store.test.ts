// The staging interface, the same behaviour from every backend: local STAGING_PATH and the bucket (s3rver here).
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStagingStore } from '../../../src/shared/storage/local-staging-store.js';
import { S3StagingStore } from '../../../src/shared/storage/s3-staging-store.js';
import { newStagedName } from '../../../src/shared/storage/staging.js';
import type { StagingStore } from '../../../src/shared/storage/staging-store.js';
import { cephS3Target, createTestBucket } from '../../helpers/ceph-s3.js';
import { startS3Server, type S3TestServer } from '../../helpers/s3-server.js';

type Target = {
  name: string;
  open(stagingPath: string): Promise<StagingStore>;
  /** The same store with a bucket that does not exist (S3 only). */
  openMisconfigured?(stagingPath: string): Promise<StagingStore>;
  close(): Promise<void>;
};

const WRITER = '0123456789abcdef';

function localTarget(): Target {
  return { name: 'local', open: async (dir) => new LocalStagingStore(dir), close: async () => {} };
}

type Endpoint = { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string; close(): Promise<void> };

function s3Target(name: string, start: () => Promise<Endpoint>): Target {
  let server: Endpoint | undefined;
  const openIn = async (dir: string, bucket?: string) => {
    server ??= await start();
    const s3 = { endpoint: server.endpoint, region: 'us-east-1', bucket: bucket ?? server.bucket, prefix: `p-${randomUUID().slice(0, 8)}/`, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey } };
    return new S3StagingStore(dir, s3, { writerId: 'fedcba9876543210' });
  };
  return {
    name,
    open: (dir) => openIn(dir),
    openMisconfigured: (dir) => openIn(dir, `missing-${randomUUID().slice(0, 8)}`),
    close: async () => server?.close(),
  };
}

const s3rver = s3Target('s3 (s3rver)', async (): Promise<Endpoint> => {
  const server: S3TestServer = await startS3Server();
  return { ...server, close: () => server.close() };
});
// A real S3 implementation when scripts/ceph-s3.sh runs it (.ci/run starts it when it can).
const ceph = await cephS3Target();
const cephTarget =
  'skip' in ceph
    ? []
    : [
        s3Target('s3 (Ceph RADOS Gateway)', async () => {
          const bucket = await createTestBucket(ceph, 'staging');
          return { ...ceph, bucket: bucket.bucket, close: bucket.remove };
        }),
      ];

describe.each([localTarget(), s3rver, ...cephTarget])('staging: $name', (target) => {
  let root: string;
  let dir: string;
  let staging: StagingStore;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'staging-'));
    dir = path.join(root, 'staging');
    await fs.mkdir(dir);
    staging = await target.open(dir);
  });
  afterAll(async () => {
    await target.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  async function part(bytes: Buffer): Promise<string> {
    const file = path.join(dir, newStagedName(WRITER));
    await fs.writeFile(file, bytes);
    return file;
  }

  async function readable(ref: string): Promise<Buffer | null> {
    const copy = await staging.localCopy(ref);
    if (!copy) return null;
    try {
      return await fs.readFile(copy.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
    } finally {
      await copy.release();
    }
  }

  it('publishes parts as refs of its own whose bytes any worker reads back, the empty file included', async () => {
    const files = [randomBytes(1), Buffer.alloc(0), randomBytes(3 * 1024 * 1024)];
    const refs = await staging.publish(await Promise.all(files.map(part)));
    expect(refs).toHaveLength(3);
    for (const [i, ref] of refs.entries()) {
      expect(staging.owns(ref)).toBe(true);
      expect((await readable(ref))?.equals(files[i]!)).toBe(true);
    }
    await staging.remove(refs);
  });

  it('removes a staged upload so that no worker can read it, and says nothing of one already gone', async () => {
    const [ref] = await staging.publish([await part(randomBytes(100))]);
    expect(await staging.remove([ref!])).toEqual([]);
    expect(await readable(ref!)).toBeNull();
    expect(await staging.remove([ref!])).toEqual([]);
  });

  it('lists what is staged with its age, for the janitor', async () => {
    const before = Date.now() - 5_000;
    const refs = await staging.publish([await part(randomBytes(10)), await part(randomBytes(10))]);
    const listed = new Map<string, number>();
    for await (const e of staging.list()) listed.set(e.ref, e.modifiedMs);
    for (const ref of refs) {
      expect(listed.get(ref)).toBeGreaterThan(before);
      expect(listed.get(ref)).toBeLessThan(Date.now() + 5_000);
    }
    await staging.remove(refs);
  });

  it('refuses refs that are not its own staged uploads', async () => {
    const [ref] = await staging.publish([await part(randomBytes(10))]);
    for (const foreign of ['/etc/passwd', path.join(dir, '..', 'x.part'), `${ref}/../../blobs/aa/bb/x`, `x${ref}`, ref!.replace(/\.part$/, '.tmp'), '']) {
      expect(staging.owns(foreign), foreign).toBe(false);
    }
    await staging.remove([ref!]);
  });

  it('leaves nothing when publishing fails (a part vanished before it was recorded)', async () => {
    const kept = await part(randomBytes(10));
    const gone = path.join(dir, newStagedName(WRITER));
    await expect(staging.publish([kept, gone])).rejects.toThrow();
    await expect(fs.stat(kept)).rejects.toMatchObject({ code: 'ENOENT' });
    for await (const e of staging.list()) expect(path.basename(e.ref)).not.toBe(path.basename(kept));
  });

  it('gives each reader a copy of its own that only it releases, and sweeps only the copies of writers that are gone', async () => {
    const [ref] = await staging.publish([await part(randomBytes(1000))]);
    const [a, b] = await Promise.all([staging.localCopy(ref!), staging.localCopy(ref!)]);
    if (staging.backend !== 'local') expect(a!.path).not.toBe(b!.path);
    await a!.release();
    // Another run's release never takes this run's bytes (two runs of one job at once).
    expect((await fs.readFile(b!.path)).length).toBe(1000);
    if (staging.backend !== 'local') {
      await expect(fs.stat(a!.path)).rejects.toMatchObject({ code: 'ENOENT' });
      // A copy of a worker that died goes; one of a live worker stays, and so does the copy this process holds.
      const dead = path.join(dir, 'fetched', `1111111111111111.${randomUUID()}.copy`);
      const other = path.join(dir, 'fetched', `2222222222222222.${randomUUID()}.copy`);
      const young = path.join(dir, 'fetched', `1111111111111111.${randomUUID()}.copy`);
      await Promise.all([fs.writeFile(dead, 'x'), fs.writeFile(other, 'y'), fs.writeFile(young, 'z')]);
      // Older than a writer key's lifetime; the young one may belong to a writer that just missed a refresh.
      const old = new Date(Date.now() - 60_000);
      await Promise.all([fs.utimes(dead, old, old), fs.utimes(other, old, old)]);
      const live = async (ids: string[]) => new Set(ids.filter((id) => id !== '1111111111111111'));
      expect(await staging.sweepScratch(live, 0)).toBe(1);
      await expect(fs.stat(dead)).rejects.toMatchObject({ code: 'ENOENT' });
      expect((await fs.stat(other)).isFile()).toBe(true);
      expect((await fs.stat(young)).isFile()).toBe(true);
      await fs.rm(young);
      expect((await fs.stat(b!.path)).isFile()).toBe(true);
      await fs.rm(other);
    }
    await b!.release();
    expect((await readable(ref!))?.length).toBe(1000);
    await staging.remove([ref!]);
  });

  it('never takes a store it cannot read (a missing bucket) for a staged upload that is gone', async (ctx) => {
    if (!target.openMisconfigured) ctx.skip();
    const [ref] = await staging.publish([await part(randomBytes(10))]);
    const misconfigured = await target.openMisconfigured!(dir);
    await expect(misconfigured.localCopy(ref!)).rejects.toThrow();
    expect(await fs.readdir(path.join(dir, 'fetched')).catch(() => [])).not.toContainEqual(expect.stringMatching(/fedcba9876543210/));
    await staging.remove([ref!]);
  });
});
