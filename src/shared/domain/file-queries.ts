// Reading files: metadata rows and their bytes through the blob store interface.
import type { Readable } from 'node:stream';
import type { Db } from '../records/database.js';
import { AppError } from '../errors.js';
import type { BlobStore, ByteRange } from '../storage/blob-store.js';
import { type FileMetadata } from '../../contract/files.js';
import type { ServableFile, ServableFileCache } from './servable-files.js';
import {
  findLiveFilesByIds,
  findLiveFileWithIntegrity,
  findLiveSha256s,
  toFileMetadata,
  type FileRowWithIntegrity,
} from '../records/files.js';
import { isUuid } from '../../contract/ids.js';

/** A live file's row with its blob's integrity mark; 404 when there is none (or the id is not a UUID). */
async function liveFile(db: Db, id: string): Promise<FileRowWithIntegrity> {
  const row = isUuid(id) ? await findLiveFileWithIntegrity(db, id.toLowerCase()) : undefined;
  if (!row) throw new AppError('not_found', `no file ${id}`);
  return row;
}

/** A live (not deleted) file's metadata; 404 otherwise. */
export async function getFileMetadata(db: Db, id: string): Promise<FileMetadata> {
  return toFileMetadata(await liveFile(db, id));
}

/**
 * A live file whose bytes may be served, through the download cache (servable-files.ts): 404 when there is none,
 * 409 corrupt when the integrity scrub found its blob changed or gone (the metadata stays readable through
 * getFileMetadata).
 */
export async function getServableFile(files: ServableFileCache, id: string): Promise<ServableFile> {
  const file = isUuid(id) ? await files.get(id.toLowerCase()) : undefined;
  if (!file) throw new AppError('not_found', `no file ${id}`);
  if (file.corrupt) {
    throw new AppError('corrupt', `the stored bytes of this file failed an integrity check (${file.corrupt.reason ?? 'mismatch'}); they are withheld until an operator restores them`);
  }
  return file;
}

export async function getFilesByIds(db: Db, ids: string[]): Promise<Map<string, FileMetadata>> {
  if (ids.length === 0) return new Map();
  const rows = await findLiveFilesByIds(db, ids);
  return new Map(rows.map((r) => [r.id, toFileMetadata(r)]));
}

/** Ranges up to this size are read into memory at once; larger ones and whole files are streamed. */
export const SMALL_RANGE_MAX_BYTES = 64 * 1024;

/**
 * A small inclusive byte range of the file, read at once (see SMALL_RANGE_MAX_BYTES): from bytes the store opened
 * no earlier than the file's row was read, so never from a copy replaced before that read.
 */
export function readFileRange(blobStore: BlobStore, file: ServableFile, range: ByteRange): Promise<Buffer> {
  return blobStore.readRange(file.metadata.sha256, range, { openedSince: file.checkedAt });
}

/** The file's bytes, or the inclusive byte range of them. */
export function openFileContent(blobStore: BlobStore, file: FileMetadata, range?: ByteRange): Promise<Readable> {
  return blobStore.openRead(file.sha256, range);
}

/** The digests among sha256s that some live file has. */
export async function findPresentSha256(db: Db, sha256s: string[]): Promise<Set<string>> {
  if (sha256s.length === 0) return new Set();
  return findLiveSha256s(db, sha256s);
}
