// The audit_checkpoints table: signed chain heads, append-only like the events.
import { poolOf, type Db } from './database.js';

export interface StoredCheckpoint {
  seq: bigint;
  hash: string;
  jws: string;
}

/** Records a checkpoint; false when one for this seq exists already (another worker signed the same head). */
export async function insertAuditCheckpoint(db: Db, checkpoint: StoredCheckpoint): Promise<boolean> {
  const { rowCount } = await poolOf(db).query(
    'INSERT INTO audit_checkpoints (seq, hash, jws) VALUES ($1::bigint, $2, $3) ON CONFLICT (seq) DO NOTHING',
    [checkpoint.seq.toString(), checkpoint.hash, checkpoint.jws],
  );
  return rowCount === 1;
}

export async function selectLatestAuditCheckpoint(db: Db): Promise<StoredCheckpoint | null> {
  const { rows: [row] } = await poolOf(db).query<{ seq: string; hash: string; jws: string }>(
    'SELECT c.seq::text AS seq, c.hash, c.jws FROM audit_checkpoints c ORDER BY c.seq DESC LIMIT 1',
  );
  return row ? { seq: BigInt(row.seq), hash: row.hash, jws: row.jws } : null;
}

/** Every checkpoint, oldest first (one an hour by default: a few thousand rows a year). */
export async function selectAuditCheckpoints(db: Db): Promise<StoredCheckpoint[]> {
  const { rows } = await poolOf(db).query<{ seq: string; hash: string; jws: string }>(
    'SELECT c.seq::text AS seq, c.hash, c.jws FROM audit_checkpoints c ORDER BY c.seq',
  );
  return rows.map((r) => ({ seq: BigInt(r.seq), hash: r.hash, jws: r.jws }));
}
