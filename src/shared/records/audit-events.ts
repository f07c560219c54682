// The audit_events table: appending to the hash chain inside the caller's transaction, and reading it back.
import type pg from 'pg';
import { poolOf, type Db, type Prisma } from './database.js';
import { auditRecordOf, canonicalJson, type AuditEventInput, type AuditRecord } from './audit-record.js';

/** A transaction to append in: Prisma's interactive transaction, or a pg client inside BEGIN ... COMMIT. */
export type AuditTx = Prisma.TransactionClient | pg.ClientBase;

/**
 * One statement: the chain head's row locked (the chain's one lock: appenders in every API and worker process
 * queue on it, so the chain stays linear), each event's seq and hash computed from the one before
 * (hash = sha256(prevHash || canonical JSON), the JSON made by auditRecordOf/canonicalJson in JS and passed as
 * text, so PostgreSQL only concatenates and hashes), the events inserted and the head moved. The lock is held
 * until the caller's transaction ends: append last, just before COMMIT. After a wait the head row is read in its
 * newest committed version (READ COMMITTED re-reads a row locked FOR UPDATE), so no event is chained twice.
 */
const APPEND = `WITH RECURSIVE
  head AS (SELECT seq, hash::text AS hash FROM audit_head WHERE id = 1 FOR UPDATE),
  input AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS i(n int, body text, time timestamptz, "actorSub" text, "actorName" text,
      "actorRole" text, "actorTokenType" text, action text, "fileId" uuid, sha256 bpchar, "jobId" uuid, "requestId" text,
      "clientAddress" text, outcome text, "errorCode" text, details jsonb)
  ),
  chain AS (
    SELECT 0 AS n, seq, hash FROM head
    UNION ALL
    SELECT c.n + 1, c.seq + 1, encode(sha256(convert_to(c.hash || i.body, 'UTF8')), 'hex')
    FROM chain c JOIN input i ON i.n = c.n + 1
  ),
  ins AS (
    INSERT INTO audit_events (seq, time, actor_sub, actor_name, actor_role, actor_token_type, action, file_id, sha256,
      job_id, request_id, client_address, outcome, error_code, details, prev_hash, hash)
    SELECT c.seq, i.time, i."actorSub", i."actorName", i."actorRole", i."actorTokenType", i.action, i."fileId", i.sha256,
      i."jobId", i."requestId", i."clientAddress", i.outcome, i."errorCode", i.details, p.hash, c.hash
    FROM input i JOIN chain c ON c.n = i.n JOIN chain p ON p.n = i.n - 1
    RETURNING seq
  ),
  last AS (SELECT seq, hash FROM chain ORDER BY n DESC LIMIT 1),
  moved AS (
    UPDATE audit_head h SET seq = last.seq, hash = last.hash FROM last WHERE h.id = 1 AND (SELECT count(*) FROM ins) > 0
    RETURNING h.seq
  )
  SELECT (SELECT seq FROM moved)::text AS last_seq`;

/**
 * THE way to record events: appends them, in order, to the chain inside tx, the transaction that makes the change
 * they record (so there is no change without its event). Call it once per transaction, as late as possible (it
 * takes the chain's lock), with all of the transaction's events. Answers the last seq written (null for none); throws (so the caller's
 * transaction rolls back) when the chain's head row is gone.
 */
export async function appendAuditEvents(tx: AuditTx, events: ReadonlyArray<AuditEventInput>): Promise<bigint | null> {
  if (events.length === 0) return null;
  const rows = events.map((e, index) => {
    const record = auditRecordOf(e);
    return { n: index + 1, body: canonicalJson(record), ...record };
  });
  const json = JSON.stringify(rows);
  const [row] = isPrismaTx(tx)
    ? await tx.$queryRawUnsafe<Array<{ last_seq: string | null }>>(APPEND, json)
    : (await tx.query<{ last_seq: string | null }>(APPEND, [json])).rows;
  // No head row (removed by hand): the statement inserts nothing. The change must not commit without its events.
  if (!row?.last_seq) throw new Error('the audit chain head (audit_head id 1) is missing: refusing to commit a change without its audit event');
  return BigInt(row.last_seq);
}

function isPrismaTx(tx: AuditTx): tx is Prisma.TransactionClient {
  return typeof (tx as Prisma.TransactionClient).$queryRawUnsafe === 'function';
}

/** An event as stored: its record, its place in the chain and its hashes. */
export interface StoredAuditEvent extends AuditRecord {
  seq: string;
  prevHash: string;
  hash: string;
}

interface AuditRow {
  seq: string;
  time: Date;
  actor_sub: string | null;
  actor_name: string | null;
  actor_role: string | null;
  actor_token_type: string | null;
  action: string;
  file_id: string | null;
  sha256: string | null;
  job_id: string | null;
  request_id: string | null;
  client_address: string | null;
  outcome: string;
  error_code: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export const AUDIT_COLUMNS = `seq::text AS seq, time, actor_sub, actor_name, actor_role, actor_token_type, action, file_id::text AS file_id,
  sha256, job_id::text AS job_id, request_id, client_address, outcome, error_code, details, prev_hash, hash`;

export function storedAuditEventOf(r: AuditRow): StoredAuditEvent {
  return {
    seq: r.seq,
    time: r.time.toISOString(),
    action: r.action,
    actorSub: r.actor_sub,
    actorName: r.actor_name,
    actorRole: r.actor_role,
    actorTokenType: r.actor_token_type,
    fileId: r.file_id,
    sha256: r.sha256,
    jobId: r.job_id,
    requestId: r.request_id,
    clientAddress: r.client_address,
    outcome: r.outcome,
    errorCode: r.error_code,
    details: r.details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/** The hashed part of a stored event (what chainHash covers). */
export function recordOfStored(e: StoredAuditEvent): AuditRecord {
  const { seq: _seq, prevHash: _prev, hash: _hash, ...record } = e;
  return record;
}

/** Up to limit events after seq `after`, in chain order (the verifier's walk). */
export async function selectAuditEventsAfter(db: Db, after: bigint, limit: number): Promise<StoredAuditEvent[]> {
  const { rows } = await poolOf(db).query<AuditRow>(
    `SELECT ${AUDIT_COLUMNS} FROM audit_events e WHERE e.seq > $1::bigint ORDER BY e.seq LIMIT $2`,
    [after.toString(), limit],
  );
  return rows.map(storedAuditEventOf);
}

/** The chain head: the last seq and hash appended (seq 0 and GENESIS_HASH before the first event). */
export async function selectAuditHead(db: Db): Promise<{ seq: bigint; hash: string }> {
  const { rows: [row] } = await poolOf(db).query<{ seq: string; hash: string }>('SELECT seq::text AS seq, hash FROM audit_head WHERE id = 1');
  return { seq: BigInt(row!.seq), hash: row!.hash };
}

export interface AuditFilter {
  fileId?: string;
  actor?: string;
  action?: string;
  from?: Date;
  to?: Date;
  /**
   * Only events of files this principal owns (a `user` reading the trail). The owner is the file's uploader, so an
   * ingest event of another actor on the same id is another principal's failed upload with that client-chosen id.
   */
  ownedBy?: string;
  /** Keyset: events with seq below this one (the list is newest first). */
  beforeSeq?: bigint;
  limit: number;
}

/** One page of events, newest first; each condition is served by an index that ends in seq. */
export async function selectAuditPage(db: Db, f: AuditFilter): Promise<StoredAuditEvent[]> {
  const { rows } = await poolOf(db).query<AuditRow>(
    `SELECT ${AUDIT_COLUMNS} FROM audit_events e
     WHERE ($1::uuid IS NULL OR e.file_id = $1::uuid) AND ($2::text IS NULL OR e.actor_sub = $2)
       AND ($3::text IS NULL OR e.action = $3) AND ($4::timestamptz IS NULL OR e.time >= $4)
       AND ($5::timestamptz IS NULL OR e.time < $5) AND ($6::bigint IS NULL OR e.seq < $6::bigint)
       AND ($7::text IS NULL OR (e.file_id IN (SELECT id FROM files WHERE owner = $7) AND (e.action <> 'ingest' OR e.actor_sub = $7)))
     ORDER BY e.seq DESC LIMIT $8`,
    [f.fileId ?? null, f.actor ?? null, f.action ?? null, f.from ?? null, f.to ?? null, f.beforeSeq?.toString() ?? null, f.ownedBy ?? null, f.limit],
  );
  return rows.map(storedAuditEventOf);
}

/** Events no state change carries (downloads, refused requests): appended in a transaction of their own. */
export async function appendAuditEventsAlone(db: Db, events: ReadonlyArray<AuditEventInput>): Promise<void> {
  if (events.length === 0) return;
  await db.$transaction((tx) => appendAuditEvents(tx, events));
}
