// An S3-compatible store as a conformance target: the store factories the suites take, for any endpoint. A new
// target (another S3 implementation) is one small runner file that starts its server and passes it here.
import { createHash, randomBytes } from 'node:crypto';
import { CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import type { S3Config } from '../../../src/shared/config.js';
import { S3AttrStore } from '../../../src/shared/storage/s3-attr-store.js';
import { S3BlobStore } from '../../../src/shared/storage/s3-blob-store.js';
import { createS3Client } from '../../../src/shared/storage/s3-client.js';
import type { MakeAttrStore } from './attr-store-conformance.js';
import type { MakeBlobStore } from './blob-store-conformance.js';

export interface S3Endpoint {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** The S3Config of one namespace: a key prefix of its own (under this run's) in the endpoint's bucket. */
export function s3ConfigFor(server: S3Endpoint, prefix: string): S3Config {
  return {
    endpoint: server.endpoint,
    region: 'us-east-1',
    bucket: server.bucket,
    prefix,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  };
}

/** server() is called when a test makes a store, after the runner's beforeAll has started the server. */
export function s3Targets(server: () => S3Endpoint): { makeBlobStore: MakeBlobStore; makeAttrStore: MakeAttrStore } {
  const run = `conformance-${randomBytes(4).toString('hex')}/`;
  const open = (namespace: string) => {
    const config = s3ConfigFor(server(), `${run}${namespace}/`);
    const client = createS3Client(config);
    const writeRaw = async (relativeKey: string, bytes: Buffer) => {
      await client.send(new PutObjectCommand({ Bucket: config.bucket, Key: `${config.prefix}${relativeKey}`, Body: bytes, ContentLength: bytes.length }));
    };
    return { config, client, writeRaw };
  };
  return {
    async makeBlobStore(namespace) {
      const { config, client, writeRaw } = open(namespace);
      const store = new S3BlobStore({ client, bucket: config.bucket, prefix: config.prefix });
      return {
        store,
        writeRaw,
        async leaveTemporary() {
          const sha256 = createHash('sha256').update(randomBytes(8)).digest('hex');
          const Key = store.keyFor(sha256);
          const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: config.bucket, Key }));
          await client.send(new UploadPartCommand({ Bucket: config.bucket, Key, UploadId, PartNumber: 1, Body: randomBytes(1024) }));
        },
      };
    },
    async makeAttrStore(namespace) {
      const { config, client, writeRaw } = open(namespace);
      return { store: new S3AttrStore({ client, bucket: config.bucket, prefix: config.prefix }), writeRaw, close: async () => client.destroy() };
    },
  };
}
