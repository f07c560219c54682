// One BullMQ QueueEvents listener per queue for this process, fanned out to every SSE client by job id. The
// listeners run only while someone follows a job: reading every queue event costs CPU on each API process
// (bench/ small scenario), which nobody needs while no SSE stream is open.
import { QueueEvents } from 'bullmq';
import type { RedisConnection } from '../shared/redis.js';
import type { Config } from '../shared/config.js';
import { QUEUE_NAMES } from '../shared/queues.js';
import { createWorkerConnection } from '../shared/redis.js';
import type { Logger } from '../shared/logger.js';

type Listener = () => void;

/** How long the listeners stay up after the last subscriber left (a polling client reconnects soon). */
const IDLE_CLOSE_MS = 30_000;

export class JobEventsHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private running?: Promise<{ events: QueueEvents[]; connections: RedisConnection[] }>;
  private idleTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly config: Pick<Config, 'redisUrl' | 'redisClusterNodes' | 'queuePrefix'>,
    private readonly logger: Logger,
  ) {}

  private async start(): Promise<{ events: QueueEvents[]; connections: RedisConnection[] }> {
    const connections: RedisConnection[] = [];
    const events = Object.values(QUEUE_NAMES).map((name) => {
      // QueueEvents blocks on its connection: one of its own each, closed by us.
      const connection = createWorkerConnection(this.config);
      connections.push(connection);
      const queueEvents = new QueueEvents(name, { connection, prefix: this.config.queuePrefix });
      for (const kind of ['active', 'progress', 'completed', 'failed'] as const) {
        queueEvents.on(kind, ({ jobId }: { jobId: string }) => this.notify(jobId));
      }
      queueEvents.on('error', (err) => this.logger.warn({ err: err.message, queue: name }, 'queue events error'));
      return queueEvents;
    });
    await Promise.all(events.map((e) => e.waitUntilReady()));
    return { events, connections };
  }

  private async stop(running: Promise<{ events: QueueEvents[]; connections: RedisConnection[] }>): Promise<void> {
    const { events, connections } = await running;
    await Promise.all(events.map((e) => e.close()));
    for (const c of connections) c.disconnect();
  }

  /** Resolves once the listeners are reading (SSE streams poll as well, so they need not wait for it). */
  async ready(): Promise<void> {
    await this.running;
  }

  /** Calls listener whenever the job moves; returns the unsubscribe function. */
  subscribe(jobId: string, listener: Listener): () => void {
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(listener);
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (!this.running && !this.closed) {
      const running = this.start();
      this.running = running;
      running.catch((err: unknown) => {
        this.logger.warn({ err }, 'queue events did not start; SSE streams fall back to polling');
        if (this.running === running) this.running = undefined;
      });
    }
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(jobId);
      if (this.listeners.size === 0 && this.running && !this.idleTimer) {
        this.idleTimer = setTimeout(() => {
          this.idleTimer = undefined;
          const running = this.running;
          if (!running || this.listeners.size > 0) return;
          this.running = undefined;
          this.stop(running).catch((err: unknown) => this.logger.warn({ err }, 'closing idle queue events'));
        }, IDLE_CLOSE_MS).unref();
      }
    };
  }

  /** Whether someone follows the BullMQ job with this id. */
  follows(jobId: string): boolean {
    return (this.listeners.get(jobId)?.size ?? 0) > 0;
  }

  get subscribers(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  private notify(jobId: string): void {
    for (const listener of this.listeners.get(jobId) ?? []) listener();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    const running = this.running;
    this.running = undefined;
    if (running) await this.stop(running).catch(() => undefined);
  }
}
