// S3 AttrStore: each attr.json record an object at ${prefix}files/<yyyy>/<mm>/<dd>/<hh>/<fileId>.attr.json.
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import type { AttrRecord } from './attr-record.js';
import { assertAttrRelativePath, ATTR_RELATIVE_PATH, type AttrStore } from './attr-store.js';
import { isS3NotFound } from './s3-errors.js';

export interface S3AttrStoreOptions {
  client: S3Client;
  bucket: string;
  /** Used exactly as given (a trailing '/' included). */
  prefix: string;
}

export class S3AttrStore implements AttrStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3AttrStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix;
  }

  private keyOf(relative: string): string {
    // Only the attr layout: a key can never land outside files/ under the prefix, nor among the blobs.
    assertAttrRelativePath(relative);
    return `${this.prefix}${relative}`;
  }

  async write(relative: string, record: AttrRecord): Promise<void> {
    // The same bytes as the local store writes; a PUT replaces the object atomically (no torn record).
    const body = Buffer.from(`${JSON.stringify(record, null, 2)}\n`);
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: this.keyOf(relative), Body: body, ContentLength: body.length, ContentType: 'application/json' }),
    );
  }

  async read(relative: string): Promise<AttrRecord | null> {
    const key = this.keyOf(relative);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return JSON.parse(await out.Body!.transformToString('utf8')) as AttrRecord;
    } catch (err) {
      if (isS3NotFound(err)) return null;
      throw err;
    }
  }

  async remove(relative: string): Promise<boolean> {
    const key = this.keyOf(relative);
    // DeleteObject answers 204 whether or not the key existed: only a HEAD first can tell.
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (isS3NotFound(err)) return false;
      throw err;
    }
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    return true;
  }

  async *list(): AsyncIterable<string> {
    const filesPrefix = `${this.prefix}files/`;
    const pages = paginateListObjectsV2({ client: this.client, pageSize: 1000 }, { Bucket: this.bucket, Prefix: filesPrefix });
    for await (const page of pages) {
      for (const object of page.Contents ?? []) {
        const relative = object.Key?.slice(this.prefix.length) ?? '';
        if (ATTR_RELATIVE_PATH.test(relative)) yield relative;
      }
    }
  }
}
