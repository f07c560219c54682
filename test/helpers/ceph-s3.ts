// Where the real S3 implementation (a single-node Ceph RADOS Gateway, scripts/ceph-s3.sh) answers, or why it does not.
// Tests never start Ceph themselves (it takes ~15 s and root): .ci/run starts it, and a test skips with the reason.
import { execFile } from 'node:child_process';
import path from 'node:path';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import type { S3Config } from '../../src/shared/config.js';
import { createS3Client } from '../../src/shared/storage/s3-client.js';

export interface S3Target {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/ceph-s3.sh');

/** KEY=value lines (the status subcommand's output) as an object. */
function parseLines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

function fromValues(v: Record<string, string | undefined>): S3Target | undefined {
  const { CEPH_S3_ENDPOINT: endpoint, CEPH_S3_ACCESS_KEY_ID: accessKeyId, CEPH_S3_SECRET_ACCESS_KEY: secretAccessKey } = v;
  if (!endpoint || !accessKeyId || !secretAccessKey) return undefined;
  return { endpoint, accessKeyId, secretAccessKey, region: v.CEPH_S3_REGION || 'us-east-1' };
}

function status(): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [SCRIPT, 'status'], { timeout: 15_000, env: process.env }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr: stderr || (err && typeof err.code !== 'number' ? err.message : '') });
    });
  });
}

let cached: Promise<S3Target | { skip: string }> | undefined;

/**
 * The running gateway: CEPH_S3_ENDPOINT, CEPH_S3_ACCESS_KEY_ID, CEPH_S3_SECRET_ACCESS_KEY (and CEPH_S3_REGION) when
 * set, which also points the tests at any other S3 server; else what `scripts/ceph-s3.sh status` prints (it honours
 * CEPH_S3_DIR and CEPH_S3_PORT). `{ skip }` names why there is none. Asked once per test file.
 */
export function cephS3Target(): Promise<S3Target | { skip: string }> {
  cached ??= (async () => {
    const fromEnv = fromValues(process.env);
    if (fromEnv) return fromEnv;
    const { code, stdout, stderr } = await status();
    const target = code === 0 ? fromValues(parseLines(stdout)) : undefined;
    if (target) return target;
    const why = stderr.trim().split('\n').pop() || `scripts/ceph-s3.sh status exited ${code}`;
    return { skip: `${why}; start it with: bash scripts/ceph-s3.sh install && bash scripts/ceph-s3.sh start` };
  })();
  return cached;
}

/** The config-like object createS3Client takes, for a bucket on the target. */
export function cephS3Config(target: S3Target, bucket: string, prefix = ''): S3Config {
  return {
    endpoint: target.endpoint,
    region: target.region,
    bucket,
    prefix,
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
  };
}

/**
 * A fresh bucket of its own on the target (S3 naming rules: lowercase letters, digits, hyphens, at most 63), and
 * remove(), which aborts its unfinished uploads, deletes every object and then the bucket, leaving the server as found.
 */
export async function createTestBucket(target: S3Target, label: string): Promise<{ bucket: string; remove: () => Promise<void> }> {
  const bucket = `artstore-${label}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`.slice(0, 63);
  const s3 = createS3Client(cephS3Config(target, bucket));
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    s3.destroy();
  }
  const remove = async () => {
    const client = createS3Client(cephS3Config(target, bucket));
    try {
      const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      for (const u of uploads.Uploads ?? []) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
      for (let token: string | undefined, more = true; more; ) {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
        if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
        token = page.NextContinuationToken;
        more = Boolean(page.IsTruncated);
      }
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
  };
  return { bucket, remove };
}
