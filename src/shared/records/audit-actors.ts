// Who an audit event names as its actor: a request's principal and origin, carried on a job for worker-side events.
import type { AuditActor, AuditEventInput, RequestOrigin } from './audit-record.js';

/** A principal as the API saw it (SPEC §3 claims) plus where the request came from; the origin is optional. */
export interface ActingPrincipal extends RequestOrigin {
  sub: string;
  name?: string;
  role: string;
  /** The token's `type` claim (`admin_user`, `service_account`), when it has one. */
  type?: string;
}

/** What a job keeps of its requester for the events a worker writes later (in the job's params, key `actor`). */
export interface JobActorParams {
  role: string | null;
  tokenType: string | null;
  requestId: string | null;
  clientAddress: string | null;
}

export function actorOfPrincipal(p: ActingPrincipal): AuditActor {
  return { sub: p.sub, name: p.name ?? null, role: p.role, tokenType: p.type ?? null };
}

export function originOfPrincipal(p: ActingPrincipal): RequestOrigin {
  return { requestId: p.requestId ?? null, clientAddress: p.clientAddress ?? null };
}

/** The `actor` entry of a new job's params. */
export function jobActorParams(p: ActingPrincipal): JobActorParams {
  return { role: p.role, tokenType: p.type ?? null, requestId: p.requestId ?? null, clientAddress: p.clientAddress ?? null };
}

/** A job's requester as an event's actor and origin (jobs queued before the audit trail have only the sub and name). */
export function actorOfJob(job: { principal: string; principalName: string | null; params: unknown }): { actor: AuditActor; origin: RequestOrigin } {
  const stored = (job.params as { actor?: Partial<JobActorParams> } | null)?.actor ?? {};
  return {
    actor: { sub: job.principal, name: job.principalName, role: stored.role ?? null, tokenType: stored.tokenType ?? null },
    origin: { requestId: stored.requestId ?? null, clientAddress: stored.clientAddress ?? null },
  };
}

/** A job's event: the job's actor and origin, its id and file. */
export function jobAuditEvent(
  job: { id: string; fileId: string; principal: string; principalName: string | null; params: unknown; sha256?: string | null },
  event: Omit<AuditEventInput, 'actor' | 'origin' | 'jobId'>,
): AuditEventInput {
  return { ...actorOfJob(job), jobId: job.id, fileId: job.fileId, sha256: job.sha256 ?? null, ...event };
}

/** The actor of work no request asked for (the scrub's schedule, a rebuild from the command line). */
export function systemActor(what: string): AuditActor {
  return { sub: `system:${what}`, name: null, role: null, tokenType: null };
}
