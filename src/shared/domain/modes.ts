// The element's mode (SPEC §4): what each mode allows, and a cached reader of the persisted mode.
import { appendAuditEvents } from '../records/audit-events.js';
import { modeChangeEvent, type ActingPrincipal } from './audit-events.js';
import type { RedisConnection } from '../redis.js';
import type { Config, Mode } from '../config.js';
import type { Db } from '../records/database.js';
import { appendModeRow, hasModeRows, inModeChangeTx, latestMode } from '../records/element-state.js';
import { recordCommittedWalEntry } from '../records/wal.js';
import { AppError } from '../errors.js';

/** `hold`: setting or releasing a legal hold, which only ever protects what is stored (SPEC §10), so every mode allows it. */
export type ModeOperation = 'upload' | 'read' | 'download' | 'patch' | 'delete' | 'hold';

const ALLOWED: Record<Mode, ReadonlySet<ModeOperation>> = {
  edit: new Set(['upload', 'read', 'download', 'patch', 'delete', 'hold']),
  rw: new Set(['upload', 'read', 'download', 'patch', 'hold']),
  ro: new Set(['read', 'download', 'hold']),
  ar: new Set(['read', 'hold']),
};

export function modeAllows(mode: Mode, op: ModeOperation): boolean {
  return ALLOWED[mode].has(op);
}

/** Throws the error SPEC §4 names when the mode forbids op (409 archived for downloads in `ar`). */
export function assertModeAllows(mode: Mode, op: ModeOperation): void {
  if (modeAllows(mode, op)) return;
  if (op === 'download' && mode === 'ar') throw new AppError('archived', 'the element is archived: blob downloads are not served');
  throw new AppError('mode_forbids', `the element is in mode '${mode}', which does not allow ${op}`, { mode, operation: op });
}

/** Transitions SPEC §4 allows: rw -> ro -> ar, one way; an edit element stays edit. */
const NEXT: Record<Mode, Mode | null> = { edit: null, rw: 'ro', ro: 'ar', ar: null };

export function modeChannel(queuePrefix: string): string {
  return `${queuePrefix}:element-mode`;
}

/**
 * Reads the persisted mode (latest ElementState row, else APP_MODE), cached for at most ttlMs, so every process
 * sees a change within ttlMs even if it missed the pub/sub message that normally updates it at once.
 */
export class ModeReader {
  private cached?: { mode: Mode; at: number };

  constructor(
    private readonly db: Db,
    private readonly config: Pick<Config, 'appMode'>,
    private readonly ttlMs = 1_000,
  ) {}

  async current(): Promise<Mode> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.ttlMs) return this.cached.mode;
    const mode = (await latestMode(this.db)) ?? this.config.appMode;
    this.cached = { mode, at: now };
    return mode;
  }

  /** Pub/sub hint from another process: drop the cache so the next read sees the database. */
  invalidate(): void {
    this.cached = undefined;
  }

  /** Follows mode changes published on the element's channel through a dedicated subscriber connection. */
  async follow(subscriber: RedisConnection, queuePrefix: string): Promise<void> {
    subscriber.on('message', (channel) => {
      if (channel === modeChannel(queuePrefix)) this.invalidate();
    });
    await subscriber.subscribe(modeChannel(queuePrefix));
  }
}

/** Persists APP_MODE as the first ElementState row of a new element; after that the persisted mode wins. */
export async function ensureInitialMode(db: Db, config: Pick<Config, 'appMode'>): Promise<void> {
  await inModeChangeTx(db, async (tx) => {
    if (!(await hasModeRows(tx))) await appendModeRow(tx, { mode: config.appMode, changedBy: 'APP_MODE', reason: 'initial mode of a new element' });
  });
}

export interface ModeChange {
  mode: Mode;
  previous: Mode;
  changed: boolean;
}

/**
 * Changes the element's mode (admin): persisted with its history and a WAL entry in one transaction, then
 * announced on Redis so every process picks it up at once. Setting the current mode again is a no-op.
 */
export async function changeMode(
  deps: { db: Db; config: Pick<Config, 'appMode' | 'queuePrefix'>; publisher?: RedisConnection },
  actor: string,
  target: Mode,
  reason?: string,
  /** Audit trail (issue 17): the principal and request behind the change. */
  by?: ActingPrincipal,
): Promise<ModeChange> {
  const { db } = deps;
  // One mode change at a time, element-wide.
  const result = await inModeChangeTx(db, async (tx) => {
    const previous = (await latestMode(tx)) ?? deps.config.appMode;
    if (previous === target) return { mode: target, previous, changed: false };
    if (NEXT[previous] !== target) {
      const allowed = NEXT[previous];
      throw new AppError(
        'conflict',
        allowed ? `mode '${previous}' can only change to '${allowed}'` : `mode '${previous}' does not change`,
        { mode: previous, requested: target },
      );
    }
    const now = new Date();
    await appendModeRow(tx, { mode: target, changedAt: now, changedBy: actor, reason: reason ?? null });
    // The mode row is the whole change: its WAL entry is committed with it.
    await recordCommittedWalEntry(tx, {
      operation: 'mode_change',
      actor,
      payload: { from: previous, to: target, ...(reason ? { reason } : {}) },
      at: now,
    });
    await appendAuditEvents(tx, [modeChangeEvent(by, actor, previous, target, reason)]);
    return { mode: target, previous, changed: true };
  });
  if (result.changed && deps.publisher) {
    await deps.publisher.publish(modeChannel(deps.config.queuePrefix), result.mode).catch(() => undefined);
  }
  return result;
}
