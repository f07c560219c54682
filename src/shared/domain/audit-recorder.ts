// The API process's audit events that no change carries: downloads (AUDIT_READS=true) and refused requests
// (auth_denied, rate-limited). Buffered, bounded, and written in one append at most FLUSH_MS after they happen.
import type { Db } from '../records/database.js';
import { appendAuditEventsAlone } from '../records/audit-events.js';
import { actorOfPrincipal, originOfPrincipal } from '../records/audit-actors.js';
import type { AuditAction, AuditEventInput, RequestOrigin } from '../records/audit-record.js';
import type { Logger } from '../logger.js';
import type { RequestingPrincipal } from './audit-events.js';

/** The longest a buffered event waits for its append (SPEC §11: downloads may lag by at most 1 s). */
export const FLUSH_MS = 250;
/** Events per append statement. */
const APPEND_MAX = 1_000;

export interface AuditRecorderOptions {
  reads: boolean;
  deniedPerSecond: number;
  bufferMax: number;
}

export interface DroppedCounter {
  inc(labels: { action: string; reason: string }): void;
}

export class AuditRecorder {
  private buffer: AuditEventInput[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** Events handed to a flush whose append has not finished: they count against bufferMax like buffered ones. */
  private inFlight = 0;
  private window = { start: 0, used: 0, dropped: 0 };

  constructor(
    private readonly db: Db,
    private readonly options: AuditRecorderOptions,
    private readonly logger: Logger,
    private readonly dropped?: DroppedCounter,
  ) {}

  get recordsReads(): boolean {
    return this.options.reads;
  }

  /** A download served (GET, 200 or 206): recorded only with AUDIT_READS=true. */
  download(by: RequestingPrincipal, file: { id: string; sha256: string }, details: { status: number; range: string | null; bytes: number }): void {
    if (!this.options.reads) return;
    this.push({ action: 'download', actor: actorOfPrincipal(by), origin: originOfPrincipal(by), fileId: file.id, sha256: file.sha256, details });
  }

  /**
   * A request answered 401 or 403. At most deniedPerSecond per second are recorded; the next recorded one says
   * how many were dropped before it (and the metric counts them), so a flood costs a counter, not the disk.
   */
  denied(by: RequestingPrincipal | undefined, origin: RequestOrigin, details: { status: number; code: string; method: string; path: string }): void {
    const now = Date.now();
    if (now - this.window.start >= 1_000) this.window = { start: now, used: 0, dropped: this.window.dropped };
    if (this.window.used >= this.options.deniedPerSecond) {
      this.window.dropped++;
      this.dropped?.inc({ action: 'auth_denied', reason: 'rate' });
      return;
    }
    this.window.used++;
    const droppedBefore = this.window.dropped;
    this.window.dropped = 0;
    this.push({
      action: 'auth_denied',
      actor: by ? actorOfPrincipal(by) : { sub: null },
      origin,
      outcome: 'failure',
      errorCode: details.code,
      details: { ...details, ...(droppedBefore > 0 ? { droppedBefore } : {}) },
    });
  }

  private push(event: AuditEventInput): void {
    // A stalled database holds events in flushes queued one after another: those count too, or memory grows without bound.
    if (this.buffer.length + this.inFlight >= this.options.bufferMax) {
      this.dropped?.inc({ action: event.action, reason: 'buffer' });
      return;
    }
    this.buffer.push({ ...event, time: new Date() });
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Writes what is buffered (one append per APPEND_MAX events); an append that fails is logged and its events dropped. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const events = this.buffer;
    this.buffer = [];
    this.inFlight += events.length;
    // One flush at a time, in order: the chain then holds this process's events in the order they happened.
    this.flushing = this.flushing.then(async () => {
      for (let i = 0; i < events.length; i += APPEND_MAX) {
        const chunk = events.slice(i, i + APPEND_MAX);
        await appendAuditEventsAlone(this.db, chunk).catch((err: unknown) => {
          this.logger.warn({ err, events: chunk.length }, 'could not record buffered audit events');
          for (const e of chunk) this.dropped?.inc({ action: e.action as AuditAction, reason: 'error' });
        });
        this.inFlight -= chunk.length;
      }
    });
    return this.flushing;
  }

  /** Flushes what is left (at shutdown, after the server stopped taking requests). */
  async close(): Promise<void> {
    await this.flush();
  }
}
