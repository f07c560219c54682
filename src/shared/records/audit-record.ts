// The audit event's record and how the chain hashes it (SPEC §11): one definition, used to append and to verify.
import { createHash } from 'node:crypto';
import { configure } from 'safe-stable-stringify';

export const AUDIT_ACTIONS = [
  'ingest',
  'download',
  'metadata_update',
  'delete',
  'gc_delete',
  'retention_change',
  'legal_hold',
  'mode_change',
  'fixity_failure',
  'index_rebuild',
  'auth_denied',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who acted: a token's principal (sub, name, role, `type` claim), or a system actor (e.g. sub `system:scrub`). */
export interface AuditActor {
  sub: string | null;
  name?: string | null;
  role?: string | null;
  tokenType?: string | null;
}

/** Where a request came from (API-side events; worker-side events read it from the job). */
export interface RequestOrigin {
  requestId?: string | null;
  clientAddress?: string | null;
}

/** An event as callers describe it; appendAuditEvents gives it its seq, prevHash and hash. */
export interface AuditEventInput {
  action: AuditAction;
  actor: AuditActor;
  origin?: RequestOrigin;
  fileId?: string | null;
  sha256?: string | null;
  jobId?: string | null;
  /** Default 'success'. */
  outcome?: 'success' | 'failure';
  errorCode?: string | null;
  details?: Record<string, unknown>;
  /** Default now. */
  time?: Date;
}

/**
 * Exactly the fields the hash covers, each always present (null when absent), as stored in audit_events. seq is
 * not covered: it locates an event, and the chain (each hash covers the one before) fixes the order.
 */
export interface AuditRecord {
  time: string;
  action: string;
  actorSub: string | null;
  actorName: string | null;
  actorRole: string | null;
  actorTokenType: string | null;
  fileId: string | null;
  sha256: string | null;
  jobId: string | null;
  requestId: string | null;
  clientAddress: string | null;
  outcome: string;
  errorCode: string | null;
  details: Record<string, unknown>;
}

/** The prevHash of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Canonical JSON in the manner of RFC 8785 (JCS): object keys sorted by UTF-16 code units at every depth, no
 * whitespace, strings and numbers as ECMAScript's JSON.stringify writes them (which JCS adopts). safe-stable-
 * stringify with deterministic order does exactly this for the JSON values a record holds (details pass through
 * JSON first, so what is hashed is what jsonb stores and gives back).
 */
const canonicalStringify = configure({ deterministic: true, bigint: false, circularValue: Error });

export function canonicalJson(value: unknown): string {
  const text = canonicalStringify(value);
  if (text === undefined) throw new Error('canonicalJson: the value has no JSON form');
  return text;
}

/** hash = lowercase hex sha256 of the UTF-8 bytes of prevHash (64 hex chars) followed by the record's canonical JSON. */
export function chainHash(prevHash: string, record: AuditRecord): string {
  return createHash('sha256').update(prevHash + canonicalJson(record), 'utf8').digest('hex');
}

/**
 * The first max UTF-16 code units of text, without cutting a surrogate pair in two: jsonb refuses the unpaired
 * half (the append, and with it the change it records, would fail), where a plain slice would leave it.
 */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

const lower = (id: string | null | undefined) => (id ? id.toLowerCase() : null);

/** The stored and hashed form of an input (ids lowercased as PostgreSQL's uuid gives them back). */
export function auditRecordOf(event: AuditEventInput): AuditRecord {
  return {
    time: (event.time ?? new Date()).toISOString(),
    action: event.action,
    actorSub: event.actor.sub ?? null,
    actorName: event.actor.name ?? null,
    actorRole: event.actor.role ?? null,
    actorTokenType: event.actor.tokenType ?? null,
    fileId: lower(event.fileId),
    sha256: lower(event.sha256),
    jobId: lower(event.jobId),
    requestId: event.origin?.requestId ?? null,
    clientAddress: event.origin?.clientAddress ?? null,
    outcome: event.outcome ?? 'success',
    errorCode: event.errorCode ?? null,
    details: JSON.parse(JSON.stringify(event.details ?? {})) as Record<string, unknown>,
  };
}
