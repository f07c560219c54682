// S3 AttrStore: each attr.json record an object at ${prefix}files/<yyyy>/<mm>/<dd>/<hh>/<fileId>.attr.json.
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { AttrRecord } from './attr-record.js';
import { assertAttrRelativePath, ATTR_RELATIVE_PATH, type AttrStore } from './attr-store.js';
import { deleteObject, isNotFound, listObjects } from './s3-objects.js';

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
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async remove(relative: string): Promise<boolean> {
    const key = this.keyOf(relative);
    // DeleteObject answers 204 whether or not the key existed: only a HEAD first can tell.
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    await deleteObject(this.client, this.bucket, key);
    return true;
  }

  async *list(): AsyncIterable<string> {
    const filesPrefix = `${this.prefix}files/`;
    for await (const object of listObjects(this.client, this.bucket, filesPrefix)) {
      const relative = object.key.slice(this.prefix.length);
      if (ATTR_RELATIVE_PATH.test(relative)) yield relative;
    }
  }
}
