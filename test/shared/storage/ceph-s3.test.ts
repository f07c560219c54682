// Smoke test against a real S3 implementation (Ceph RADOS Gateway, scripts/ceph-s3.sh): the S3 calls the blob store
// relies on behave as the element expects, through the project's own client factory. Skipped, with the reason, when
// the gateway is not running (.ci/run starts it when it can).
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../../src/shared/storage/s3-client.js';
import { cephS3Config, cephS3Target, createTestBucket, type S3Target } from '../../helpers/ceph-s3.js';

const found = await cephS3Target();
const skip = 'skip' in found ? found.skip : undefined;
const MiB = 1024 * 1024;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A body the SDK cannot buffer up front: many chunks from a generator, the length given separately. */
function streamOf(data: Buffer, chunk = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
    })(),
  );
}

/** The S3 error's name and HTTP status of a refused call. */
async function refusal(call: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await call;
  } catch (err) {
    const e = err as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('the call succeeded; a refusal was expected');
}

describe.skipIf(skip)(`S3 on Ceph RADOS Gateway${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const target = found as S3Target;
  let bucket: string;
  let remove: (() => Promise<void>) | undefined;
  let s3: S3Client;

  const getBytes = async (key: string, range?: string) => {
    const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
    return { res, bytes: Buffer.from(await res.Body!.transformToByteArray()) };
  };

  beforeAll(async () => {
    ({ bucket, remove } = await createTestBucket(target, 'smoke'));
    s3 = createS3Client(cephS3Config(target, bucket));
  });

  afterAll(async () => {
    s3?.destroy();
    await remove?.();
  });

  it('stores a streamed body byte-exact (no checksum framing in the object) and reads it back', async () => {
    const data = randomBytes(3 * MiB + 12_345);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'stream/one', Body: streamOf(data), ContentLength: data.length }));
    const { res, bytes } = await getBytes('stream/one');
    expect(res.ContentLength).toBe(data.length);
    expect(bytes.length).toBe(data.length);
    expect(sha256(bytes)).toBe(sha256(data));
  });

  it("never stores the SDK's default aws-chunked framing as the object's bytes (why createS3Client asks WHEN_REQUIRED)", async () => {
    // The SDK's defaults send a streamed body aws-chunked with a checksum trailer. A server that does not understand
    // that must refuse it (Pacific's radosgw answers 411), never keep the framing as data.
    const plain = new S3Client({
      endpoint: target.endpoint,
      region: target.region,
      forcePathStyle: true,
      credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
      maxAttempts: 1,
    });
    const data = randomBytes(200_000);
    try {
      const stored = await plain
        .send(new PutObjectCommand({ Bucket: bucket, Key: 'stream/default-sdk', Body: streamOf(data), ContentLength: data.length }))
        .then(() => true, () => false);
      if (stored) expect(sha256((await getBytes('stream/default-sdk')).bytes)).toBe(sha256(data));
      else await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'stream/default-sdk' }))).rejects.toThrow();
    } finally {
      plain.destroy();
    }
  });

  it('answers a ranged GET with 206 and exactly the bytes asked for', async () => {
    const data = randomBytes(100_000);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'range/one', Body: data }));
    const mid = await getBytes('range/one', 'bytes=1000-1999');
    expect(mid.res.$metadata.httpStatusCode).toBe(206);
    expect(mid.res.ContentRange).toBe(`bytes 1000-1999/${data.length}`);
    expect(mid.bytes.equals(data.subarray(1000, 2000))).toBe(true);
    const tail = await getBytes('range/one', 'bytes=-10');
    expect(tail.bytes.equals(data.subarray(data.length - 10))).toBe(true);
    const open = await getBytes('range/one', 'bytes=99990-');
    expect(open.bytes.equals(data.subarray(99_990))).toBe(true);
  });

  it('answers HeadObject of a missing key with NotFound (404)', async () => {
    expect(await refusal(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'no/such/key' })))).toEqual({ name: 'NotFound', status: 404 });
    const { name, status } = await refusal(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'no/such/key' })));
    expect([name, status]).toEqual(['NoSuchKey', 404]);
  });

  it('refuses an overwrite under If-None-Match: * with 412 and keeps the first object', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'once/key', Body: 'first', IfNoneMatch: '*' }));
    const refused = await refusal(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'once/key', Body: 'second', IfNoneMatch: '*' })));
    expect(refused).toEqual({ name: 'PreconditionFailed', status: 412 });
    expect((await getBytes('once/key')).bytes.toString()).toBe('first');
  });

  it('uploads ~12 MiB in parts through lib-storage Upload and reads back the same bytes', async () => {
    const data = randomBytes(12 * MiB + 777);
    const upload = new Upload({ client: s3, params: { Bucket: bucket, Key: 'multi/big', Body: streamOf(data, 256 * 1024) }, partSize: 5 * MiB, queueSize: 2 });
    const parts: number[] = [];
    upload.on('httpUploadProgress', (p) => p.part !== undefined && parts.push(p.part));
    await upload.done();
    expect(new Set(parts).size).toBe(3);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'multi/big' }));
    expect(head.ContentLength).toBe(data.length);
    expect(head.ETag).toMatch(/-3"$/);
    expect(sha256((await getBytes('multi/big')).bytes)).toBe(sha256(data));
  });

  it('lists an unfinished multipart upload and forgets it once aborted', async () => {
    const key = 'multi/aborted';
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: randomBytes(5 * MiB) }));
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'multi/' }));
    expect(listed.Uploads?.map((u) => [u.Key, u.UploadId])).toContainEqual([key, UploadId]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }));
    const after = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'multi/' }));
    expect(after.Uploads ?? []).toEqual([]);
    // AWS says NoSuchUpload; Pacific's radosgw says NoSuchKey for the same thing. Both are a 404.
    const gone = await refusal(s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId })));
    expect(gone.status).toBe(404);
    expect(['NoSuchUpload', 'NoSuchKey']).toContain(gone.name);
    expect((await refusal(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).status).toBe(404);
  });

  it('lists keys under a prefix in order, page by page with continuation tokens', async () => {
    const keys = ['list/a', 'list/b/1', 'list/b/2', 'list/c', 'list/d'];
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    const seen: string[] = [];
    let pages = 0;
    for (let token: string | undefined, more = true; more; pages++) {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'list/', MaxKeys: 2, ContinuationToken: token }));
      seen.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
      more = Boolean(page.IsTruncated);
    }
    expect(seen).toEqual(keys);
    expect(pages).toBe(3);
    const grouped = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'list/', Delimiter: '/' }));
    expect(grouped.Contents?.map((o) => o.Key)).toEqual(['list/a', 'list/c', 'list/d']);
    expect(grouped.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['list/b/']);
  });
});
