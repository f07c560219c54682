// The resumable_uploads table (SPEC §9): one row per tus / IETF-draft upload, its durable offset and its fields.
import type { DbClient } from './database.js';
import type { RetentionMode, RetentionPolicy } from '../../contract/retention.js';

export type ResumableProtocol = 'tus' | 'ietf';

/** What the upload becomes at completion: the multipart upload's fields (ingest-submit's UploadFields). */
export interface ResumableFields {
  description?: string;
  version?: string;
  tags: string[];
  metadata: Record<string, unknown>;
  sha256?: string[];
  fileId?: string;
  /** Absent: permanent, no retain-until, no hold (SPEC §10; ingest-submit's UploadFields.retention). */
  retention?: { retentionPolicy: RetentionPolicy; ttlDays: number | null; retainUntil: string | null; retentionMode: RetentionMode | null; legalHold: boolean };
}

export interface ResumableUpload {
  id: string;
  owner: string;
  ownerName: string | null;
  protocol: ResumableProtocol;
  length: number | null;
  /** Bytes that are durable in the upload's file (fsynced before this was recorded). */
  offset: number;
  fileName: string;
  contentType: string;
  fields: ResumableFields;
  createdAt: Date;
  expiresAt: Date;
  completedAt: Date | null;
  jobId: string | null;
}

export type NewResumableUpload = Omit<ResumableUpload, 'offset' | 'createdAt' | 'completedAt' | 'jobId'>;

type Row = {
  id: string;
  owner: string;
  ownerName: string | null;
  protocol: string;
  length: bigint | null;
  offset: bigint;
  fileName: string;
  contentType: string;
  fields: unknown;
  createdAt: Date;
  expiresAt: Date;
  completedAt: Date | null;
  jobId: string | null;
  lease?: string | null;
};

function toUpload({ lease: _lease, ...row }: Row): ResumableUpload {
  return {
    ...row,
    protocol: row.protocol as ResumableProtocol,
    length: row.length === null ? null : Number(row.length),
    offset: Number(row.offset),
    fields: row.fields as ResumableFields,
  };
}

export async function insertResumableUpload(db: DbClient, upload: NewResumableUpload): Promise<ResumableUpload> {
  const row = await db.resumableUpload.create({
    data: {
      ...upload,
      length: upload.length === null ? null : BigInt(upload.length),
      fields: upload.fields as object,
    },
  });
  return toUpload(row);
}

export async function findResumableUpload(db: DbClient, id: string): Promise<ResumableUpload | null> {
  const row = await db.resumableUpload.findUnique({ where: { id } });
  return row ? toUpload(row) : null;
}

/** Incomplete, unexpired uploads of one principal (the cap of MAX_OPEN_UPLOADS_PER_PRINCIPAL). */
export function countOpenUploads(db: DbClient, owner: string, now: Date): Promise<number> {
  return db.resumableUpload.count({ where: { owner, completedAt: null, expiresAt: { gt: now } } });
}

/**
 * Writes a freshly taken lease's token into the row: from then on only that lease records offsets (the fence). A
 * writer paused past its lease (it has not noticed yet) finds its next moveOffset refused even when the offset
 * still matches, so it can never vouch for bytes its successor truncated or has not written yet.
 */
export async function fenceUpload(db: DbClient, id: string, lease: string): Promise<void> {
  await db.resumableUpload.updateMany({ where: { id }, data: { lease } });
}

/**
 * Moves the durable offset from `from` to `to` (up after an fsync, or down to what the file really holds), only
 * for the holder of the row's current lease (its fence) and only from `from`: false otherwise.
 */
export async function moveOffset(db: DbClient, id: string, lease: string, from: number, to: number): Promise<boolean> {
  const { count } = await db.resumableUpload.updateMany({
    where: { id, lease, offset: BigInt(from), completedAt: null },
    data: { offset: BigInt(to) },
  });
  return count === 1;
}

/** Sets the length an IETF client declared late (only while it is unknown). */
export async function declareLength(db: DbClient, id: string, length: number): Promise<void> {
  await db.resumableUpload.updateMany({ where: { id, length: null }, data: { length: BigInt(length) } });
}

/** Records the upload's declared sha256 (a Repr-Digest that came with an append) unless it declared one before. */
export async function declareDigest(db: DbClient, id: string, sha256: string): Promise<void> {
  await db.$executeRaw`UPDATE resumable_uploads SET fields = jsonb_set(fields::jsonb, '{sha256}', jsonb_build_array(${sha256}::text)) WHERE id = ${id}::uuid AND NOT (fields::jsonb ? 'sha256')`;
}

export async function markCompleted(db: DbClient, id: string, jobId: string): Promise<void> {
  await db.resumableUpload.update({ where: { id }, data: { completedAt: new Date(), jobId } });
}

export async function deleteResumableUpload(db: DbClient, id: string): Promise<void> {
  await db.resumableUpload.deleteMany({ where: { id } });
}

/** Uploads past their expiry (complete or not), oldest first. */
export async function selectExpiredUploads(db: DbClient, now: Date, limit: number): Promise<ResumableUpload[]> {
  const rows = await db.resumableUpload.findMany({ where: { expiresAt: { lte: now } }, orderBy: { expiresAt: 'asc' }, take: limit });
  return rows.map(toUpload);
}
