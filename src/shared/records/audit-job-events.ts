// The audit events of jobs' ends that the records layer writes: an ingest commit's, and any job's failure.
import { jobAuditEvent } from './audit-actors.js';
import { clipText, type AuditAction, type AuditEventInput } from './audit-record.js';
import type { CommitResult } from './file-commits.js';

/** Of each job's planned event, those whose commit happened, completed with the outcome (input order kept). */
export function ingestEventsOf(planned: ReadonlyArray<AuditEventInput | undefined>, results: ReadonlyArray<CommitResult>): AuditEventInput[] {
  const events: AuditEventInput[] = [];
  planned.forEach((event, i) => {
    const result = results[i];
    if (!event || result?.kind !== 'committed') return;
    events.push({ ...event, outcome: 'success', details: { ...event.details, state: result.state, duplicateOf: result.duplicateOf } });
  });
  return events;
}

const ACTION_OF_OPERATION: Partial<Record<string, AuditAction>> = {
  file_create: 'ingest',
  file_update: 'metadata_update',
  file_delete: 'delete',
};

/** The event of a job that ended failed (SPEC §11: a failed ingest with its error code). */
export function jobFailureEvent(
  job: Parameters<typeof jobAuditEvent>[0],
  operation: string,
  code: string,
  message: string,
): AuditEventInput {
  return jobAuditEvent(job, {
    action: ACTION_OF_OPERATION[operation] ?? 'ingest',
    outcome: 'failure',
    errorCode: code,
    details: { message: clipText(message, 500) },
  });
}
