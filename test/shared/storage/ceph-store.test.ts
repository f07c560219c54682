// The S3 backend against a real S3 implementation (Ceph RADOS Gateway, scripts/ceph-s3.sh): the blob store and
// attr store conformance suites with every capability on. Skipped, with the reason, when the gateway is not running.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { cephS3Target, createTestBucket } from '../../helpers/ceph-s3.js';
import { describeAttrStore } from './attr-store-conformance.js';
import { describeBlobStore } from './blob-store-conformance.js';
import { s3Targets } from './s3-targets.js';

const found = await cephS3Target();

if ('skip' in found) {
  describe(`S3 conformance on Ceph RADOS Gateway (skipped: ${found.skip})`, () => {
    it.skip('needs the gateway (bash scripts/ceph-s3.sh install && bash scripts/ceph-s3.sh start)', () => {});
  });
} else {
  let bucket: Awaited<ReturnType<typeof createTestBucket>> | undefined;
  beforeAll(async () => {
    bucket = await createTestBucket(found, 'conf');
  });
  afterAll(async () => bucket?.remove());
  const targets = s3Targets(() => ({ ...found, bucket: bucket!.bucket }));
  // Ceph honours If-None-Match on PUT, aborts multipart uploads and serves bytes=0-0.
  describeBlobStore('s3 (Ceph RADOS Gateway)', targets.makeBlobStore, { conditionalCreate: true, sweepsTemporaries: true, firstByteRange: true });
  describeAttrStore('s3 (Ceph RADOS Gateway)', targets.makeAttrStore);
}
