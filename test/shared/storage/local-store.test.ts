// The local backend (STORAGE_PATH) against the blob store and attr store conformance suites.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { AttrFileStore } from '../../../src/shared/storage/attr-files.js';
import { LocalBlobStore } from '../../../src/shared/storage/local-blob-store.js';
import { describeAttrStore } from './attr-store-conformance.js';
import { describeBlobStore } from './blob-store-conformance.js';

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'local-store-'));
});
afterAll(async () => fs.rm(root, { recursive: true, force: true }));

/** A namespace is a STORAGE_PATH of its own under one temp root. */
const storagePath = (namespace: string) => path.join(root, namespace);
async function writeRaw(namespace: string, relativeKey: string, bytes: Buffer): Promise<void> {
  const file = path.join(storagePath(namespace), relativeKey);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, bytes);
}

describeBlobStore(
  'local',
  async (namespace) => ({
    store: new LocalBlobStore(storagePath(namespace)),
    writeRaw: (key, bytes) => writeRaw(namespace, key, bytes),
    // A copy that never got renamed into place.
    leaveTemporary: () => writeRaw(namespace, 'blobs/ab/cd/.interrupted.tmp', Buffer.from('half a blob')),
  }),
  { conditionalCreate: true, sweepsTemporaries: true, firstByteRange: true },
);

describeAttrStore('local', async (namespace) => ({
  store: new AttrFileStore(storagePath(namespace)),
  writeRaw: (key, bytes) => writeRaw(namespace, key, bytes),
}));
