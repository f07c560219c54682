// One BullMQ QueueEvents listener per queue for this process, fanned out to every SSE client by job id.
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config.js';
import { QUEUE_NAMES } from '../shared/queues.js';
import { createWorkerConnection } from '../shared/redis.js';
import type { Logger } from '../shared/logger.js';

type Listener = () => void;

export class JobEventsHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private events: QueueEvents[] = [];
  private connections: Redis[] = [];

  constructor(
    private readonly config: Pick<Config, 'redisUrl' | 'queuePrefix'>,
    private readonly logger: Logger,
  ) {}

  async open(): Promise<void> {
    this.events = Object.values(QUEUE_NAMES).map((name) => {
      // QueueEvents blocks on its connection: one of its own each, closed by us.
      const connection = createWorkerConnection(this.config);
      this.connections.push(connection);
      const events = new QueueEvents(name, {
        connection,
        prefix: this.config.queuePrefix,
      });
      for (const kind of ['active', 'progress', 'completed', 'failed'] as const) {
        events.on(kind, ({ jobId }: { jobId: string }) => this.notify(jobId));
      }
      events.on('error', (err) => this.logger.warn({ err: err.message, queue: name }, 'queue events error'));
      return events;
    });
    await Promise.all(this.events.map((e) => e.waitUntilReady()));
  }

  /** Calls listener whenever the job moves; returns the unsubscribe function. */
  subscribe(jobId: string, listener: Listener): () => void {
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(jobId);
    };
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
    await Promise.all(this.events.map((e) => e.close()));
    for (const c of this.connections) c.disconnect();
  }
}
