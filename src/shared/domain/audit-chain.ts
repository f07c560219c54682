// Walking the audit chain (SPEC §11): every event's prevHash and hash recomputed, seq without gaps, and the chain
// compared with signed checkpoints, so a chain rewritten with every hash recomputed is still found out.
import { selectAuditEventsAfter, recordOfStored } from '../records/audit-events.js';
import { chainHash, GENESIS_HASH } from '../records/audit-record.js';
import type { Db } from '../records/database.js';

const PAGE = 2_000;

/** A checkpoint as the walk uses it: a seq and the hash the chain must have there (its signature checked before). */
export interface TrustedPoint {
  seq: bigint;
  hash: string;
  /** Where it came from, for the report (`database`, a file path). */
  source: string;
}

export type ChainVerdict =
  | { intact: true; events: bigint; headHash: string; checkpointsMatched: number }
  | { intact: false; brokenSeq: bigint; reason: string };

/**
 * Walks the events after `from` (seq and hash of a known-good point; the genesis by default) up to `until` (all
 * when omitted). Broken at the first event whose seq, prevHash or hash is not what the chain before it implies,
 * or at the first checkpoint the chain disagrees with (then every event after the checkpoint before it is suspect).
 */
export async function walkAuditChain(
  db: Db,
  options: { from?: { seq: bigint; hash: string }; until?: bigint; checkpoints?: TrustedPoint[] } = {},
): Promise<ChainVerdict> {
  let seq = options.from?.seq ?? 0n;
  let prev = options.from?.hash ?? GENESIS_HASH;
  const points = [...(options.checkpoints ?? [])].filter((p) => p.seq > seq).sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  let lastGood = seq;
  let matched = 0;
  const checkPoint = (): ChainVerdict | null => {
    while (points.length > 0 && points[0]!.seq === seq) {
      const point = points.shift()!;
      if (point.hash !== prev) {
        return { intact: false, brokenSeq: lastGood + 1n, reason: `the chain was rewritten between seq ${lastGood + 1n} and ${seq}: the checkpoint at seq ${seq} (${point.source}) signed hash ${point.hash}, the chain has ${prev}` };
      }
      lastGood = seq;
      matched++;
    }
    return null;
  };
  for (;;) {
    const page = await selectAuditEventsAfter(db, seq, PAGE);
    for (const event of page) {
      const at = BigInt(event.seq);
      if (options.until !== undefined && at > options.until) return done();
      if (at !== seq + 1n) return { intact: false, brokenSeq: seq + 1n, reason: `seq ${seq + 1n} is missing (the next event is seq ${at})` };
      if (event.prevHash !== prev) return { intact: false, brokenSeq: at, reason: `seq ${at}: prevHash does not match the hash of seq ${seq}` };
      if (chainHash(prev, recordOfStored(event)) !== event.hash) return { intact: false, brokenSeq: at, reason: `seq ${at}: its content does not match its hash` };
      seq = at;
      prev = event.hash;
      const broken = checkPoint();
      if (broken) return broken;
    }
    if (page.length < PAGE) return done();
  }

  function done(): ChainVerdict {
    const beyond = points.find((p) => p.seq > seq);
    if (beyond && options.until === undefined) {
      return { intact: false, brokenSeq: seq + 1n, reason: `the chain ends at seq ${seq} but a checkpoint (${beyond.source}) vouches for seq ${beyond.seq}: events were removed` };
    }
    return { intact: true, events: seq, headHash: prev, checkpointsMatched: matched };
  }
}
