// The audit events of the domain's changes, built in one place (SPEC §11): what each action records and about whom.
import type { FileMetadata } from '../../contract/files.js';
import { actorOfPrincipal, jobAuditEvent, originOfPrincipal, systemActor, type ActingPrincipal } from '../records/audit-actors.js';
import { clipText, type AuditEventInput, type RequestOrigin } from '../records/audit-record.js';
import type { Principal } from './principal.js';
import type { RetentionChange } from './retention-rules.js';
import type { FileJob } from '../records/file-jobs.js';

export type { ActingPrincipal };
/** A principal with the id and client address of its request (the API passes it to the domain's changes). */
export type RequestingPrincipal = Principal & RequestOrigin;

/** An ingest job's event, completed with its outcome (committed or duplicate) by the commit that writes it. */
export function ingestEvent(job: Pick<FileJob, 'id' | 'fileId' | 'principal' | 'principalName' | 'params'>, meta: FileMetadata): AuditEventInput {
  return jobAuditEvent(job, {
    action: 'ingest',
    fileId: meta.id,
    sha256: meta.sha256,
    details: { fileName: meta.fileName, size: meta.size },
  });
}

/**
 * An update job's event: the revision it moved from and to, and the fields it patched; a retention or legal-hold
 * change (SPEC §10, also an update job) is recorded as `retention_change` or `legal_hold` with the change.
 */
export function metadataUpdateEvent(
  job: Pick<FileJob, 'id' | 'fileId' | 'principal' | 'principalName' | 'params' | 'sha256'>,
  from: { revision: number },
  next: { revision: number },
  patchedFields: string[],
  retention?: RetentionChange,
): AuditEventInput {
  const revisions = { fromRevision: from.revision, toRevision: next.revision };
  if (retention?.kind === 'legal-hold') return jobAuditEvent(job, { action: 'legal_hold', details: { ...revisions, on: retention.on } });
  if (retention) {
    const { retainUntil, retentionMode, bypassGovernance } = retention;
    return jobAuditEvent(job, { action: 'retention_change', details: { ...revisions, retainUntil, retentionMode, bypassGovernance } });
  }
  return jobAuditEvent(job, { action: 'metadata_update', details: { ...revisions, fields: patchedFields } });
}

/** Garbage collection removing an unreferenced blob (and the rows of deleted files that pointed at it). */
export function gcDeleteEvent(sha256: string, deletedFileRows: number): AuditEventInput {
  return { action: 'gc_delete', actor: systemActor('gc'), sha256, details: { deletedFileRows } };
}

/**
 * A deletion as the API makes it (the file hidden, its delete job recorded). One asked through the GC interface
 * (details.source 'gc', SPEC §10) is a `gc_delete`; its reason and cleanup type, like the lifecycle's, are kept.
 */
export function deleteEvent(
  by: ActingPrincipal,
  file: { id: string; sha256: string; fileName: string; size: bigint | number },
  job: { id: string },
  deletion: { source?: unknown; reason?: unknown; cleanupType?: unknown } = {},
): AuditEventInput {
  const { source, reason, cleanupType } = deletion;
  return {
    action: source === 'gc' ? 'gc_delete' : 'delete',
    actor: actorOfPrincipal(by),
    origin: originOfPrincipal(by),
    fileId: file.id,
    sha256: file.sha256,
    jobId: job.id,
    details: { fileName: file.fileName, size: Number(file.size), ...(source === undefined ? {} : { source, reason, cleanupType }) },
  };
}

export function modeChangeEvent(by: ActingPrincipal | undefined, actor: string, from: string, to: string, reason?: string): AuditEventInput {
  return {
    action: 'mode_change',
    actor: by ? actorOfPrincipal(by) : { sub: actor },
    origin: by ? originOfPrincipal(by) : {},
    details: { from, to, ...(reason ? { reason } : {}) },
  };
}

/** The scrub finding a blob's bytes changed, gone or unreadable (fileIds: up to 20 live files holding it). */
export function fixityFailureEvent(sha256: string, reason: string, detail: string | undefined, fileIds: string[]): AuditEventInput {
  return {
    action: 'fixity_failure',
    actor: systemActor('scrub'),
    sha256,
    outcome: 'failure',
    errorCode: `blob_${reason}`,
    details: { reason, ...(detail ? { detail: clipText(detail, 500) } : {}), fileIds },
  };
}

export function indexRebuildEvent(
  report: { attrFiles: number; filesRestored: number; filesSkipped: number; wiped: boolean },
  mode: 'full' | 'incremental',
): AuditEventInput {
  const { attrFiles, filesRestored, filesSkipped, wiped } = report;
  return { action: 'index_rebuild', actor: systemActor('rebuild-index'), details: { mode, attrFiles, filesRestored, filesSkipped, wiped } };
}

/**
 * A full rebuild's wipe (--wipe): the files and blobs tables emptied, recorded in the TRUNCATE's transaction, since
 * the run's own event only commits at its end and a run that stops in between would leave the wipe unrecorded.
 */
export function indexWipeEvent(): AuditEventInput {
  return { action: 'index_rebuild', actor: systemActor('rebuild-index'), details: { mode: 'full', phase: 'wipe', wiped: true } };
}
