// Retention and legal hold (SPEC §10), the rules once: what an upload's retention becomes, when a file may not be
// deleted (DELETE, GC and the lifecycle job all ask here), and which retention changes are allowed to whom.
import type { FileMetadata } from '../../contract/files.js';
import type { RetentionMode, RetentionPolicy } from '../../contract/retention.js';
import { AppError } from '../errors.js';
import { can, type Principal } from './principal.js';

const DAY_MS = 86_400_000;

/** The retention fields of a file record. */
export type RetentionState = Pick<FileMetadata, 'retentionPolicy' | 'expiresAt' | 'retainUntil' | 'retentionMode' | 'legalHold'>;

/** The retention an upload asked for (kept in the ingest job's params until the commit). */
export interface UploadRetention {
  retentionPolicy: RetentionPolicy;
  ttlDays: number | null;
  retainUntil: string | null;
  retentionMode: RetentionMode | null;
  legalHold: boolean;
}

/** A change asked of a stored file: its retain-until time and mode, or its legal hold. */
export type RetentionChange =
  | { kind: 'retention'; retainUntil: string | null; retentionMode: RetentionMode | null; bypassGovernance: boolean }
  | { kind: 'legal-hold'; on: boolean };

export const PERMANENT: RetentionState = { retentionPolicy: 'permanent', expiresAt: null, retainUntil: null, retentionMode: null, legalHold: false };

/**
 * The record's retention from the upload's: a temporary file expires ttlDays after its upload (createdAt, fixed at
 * upload, so every retry of the ingest computes the same time). A job recorded before retention existed is permanent.
 */
export function retentionAtUpload(asked: UploadRetention | undefined, createdAt: Date): RetentionState {
  if (!asked) return PERMANENT;
  const temporary = asked.retentionPolicy === 'temporary' && asked.ttlDays !== null;
  return {
    retentionPolicy: temporary ? 'temporary' : 'permanent',
    expiresAt: temporary ? new Date(createdAt.getTime() + asked.ttlDays! * DAY_MS).toISOString() : null,
    retainUntil: asked.retainUntil === null ? null : new Date(asked.retainUntil).toISOString(),
    retentionMode: asked.retainUntil === null ? null : (asked.retentionMode ?? 'governance'),
    legalHold: asked.legalHold,
  };
}

type Protection = { legalHold: boolean; retainUntil: Date | string | null };

const instantOf = (t: Date | string) => (typeof t === 'string' ? Date.parse(t) : t.getTime());

/** Whether a retain-until time is still ahead. */
export function isRetentionLive(retainUntil: Date | string | null, now: Date): boolean {
  return retainUntil !== null && instantOf(retainUntil) > now.getTime();
}

/** Why this file may not be deleted now (a legal hold, an unexpired retention), or null when it may. */
export function deletionBlockedBy(file: Protection, now: Date): string | null {
  if (file.legalHold) return 'the file is under a legal hold';
  if (isRetentionLive(file.retainUntil, now)) return `the file is retained until ${new Date(file.retainUntil!).toISOString()}`;
  return null;
}

/** 409 retention_active for everyone, admin included, while a hold or an unexpired retention protects the file. */
export function assertDeletable(file: Protection & { id: string }, now: Date): void {
  const reason = deletionBlockedBy(file, now);
  if (reason) throw new AppError('retention_active', `file ${file.id} cannot be deleted: ${reason}`, { fileId: file.id });
}

/** Legal holds are set and released by operators and admins (SPEC §10), at upload too. */
export function assertMayHold(principal: Principal): void {
  if (!can(principal, 'file:legal-hold')) {
    throw new AppError('forbidden', `role '${principal.role}' may not set a legal hold`, { parameter: 'legalHold' });
  }
}

/**
 * Who may change a file's retention: its owner and operators and admins (retention only ever protects a file);
 * a governance retention is shortened or removed only by an admin with the bypass header.
 */
export function assertMayChangeRetention(principal: Principal, owner: string, bypassGovernance: boolean): void {
  if (!can(principal, 'file:patch-any') && owner !== principal.sub) {
    throw new AppError('forbidden', "only the file's owner, an operator or an admin may set its retention");
  }
  if (bypassGovernance && principal.role !== 'admin') {
    throw new AppError('forbidden', 'only an admin may bypass a governance retention');
  }
}

function refuse(message: string): never {
  throw new AppError('retention_active', message);
}

/**
 * The retention after a change, or 409 retention_active. While a retention is live: compliance can only be
 * extended (a later or equal time, still compliance); governance can be extended or made compliance by anyone
 * allowed to set it, and shortened, removed or otherwise weakened only with bypassGovernance. An expired or absent
 * retention may be set to anything.
 */
export function applyRetentionChange(current: RetentionState, change: RetentionChange, now: Date): RetentionState {
  if (change.kind === 'legal-hold') return { ...current, legalHold: change.on };
  const next: RetentionState = {
    ...current,
    retainUntil: change.retainUntil === null ? null : new Date(change.retainUntil).toISOString(),
    retentionMode: change.retainUntil === null ? null : (change.retentionMode ?? 'governance'),
  };
  if (!isRetentionLive(current.retainUntil, now)) return next;
  const strengthens =
    next.retainUntil !== null &&
    Date.parse(next.retainUntil) >= Date.parse(current.retainUntil!) &&
    (next.retentionMode === 'compliance' || current.retentionMode === 'governance');
  if (strengthens) return next;
  if (current.retentionMode === 'compliance') {
    refuse(`a compliance retention (until ${current.retainUntil}) can only be extended, by anyone`);
  }
  if (!change.bypassGovernance) {
    refuse(`a governance retention (until ${current.retainUntil}) is shortened or removed only by an admin with X-Bypass-Governance-Retention: true`);
  }
  return next;
}
