// The fault suite (issue 10): kill -9 of the api and of the worker, Redis killed and restarted (AOF), PostgreSQL
// restarted (fast and immediate), each during a burst of uploads. After each: every acknowledged upload committed
// exactly once, downloads intact, no orphans in staging or the blob store. Prints one quotable line per scenario.
// Private PostgreSQL and Redis (test/helpers/fault-services.ts): the shared ones are never disturbed.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { faultSuiteSkipReason } from '../helpers/fault-services.js';
import { REQUEUE_LATENCY_MS, runFaultScenario } from './fault-scenario.js';
import { openFaultServices, type FaultServices } from './fault-world.js';

const skip = faultSuiteSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip)(`fault suite${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let services: FaultServices;
  beforeAll(async () => {
    services = await openFaultServices();
  });
  afterAll(async () => services?.close());

  it('api-kill9: the api killed mid-burst and started again loses no acknowledged upload and leaves no orphan', { timeout: 240_000 }, async () => {
    // A request killed between its job INSERT and its enqueue is answered, on the client's retry, by the idempotent
    // replay; that job reaches the queue through the requeue sweep.
    await runFaultScenario(services, 'api-kill9', { fault: (s) => s.restartApi(), jobsTimeoutMs: REQUEUE_LATENCY_MS });
  });

  it('worker-kill9: the worker killed mid-burst and started again commits every acknowledged upload once', { timeout: 240_000 }, async () => {
    await runFaultScenario(services, 'worker-kill9', { fault: (s) => s.restartWorker() });
  });

  it('redis-restart: Redis killed -9 mid-burst and restarted from its AOF loses no acknowledged upload', { timeout: 240_000 }, async () => {
    await runFaultScenario(services, 'redis-kill9', {
      fault: async () => {
        await services.redis.kill9();
        // Down long enough for requests and workers to notice.
        await sleep(1_000);
        await services.redis.restart();
      },
      jobsTimeoutMs: REQUEUE_LATENCY_MS,
    });
  });

  it('postgres-restart-fast: PostgreSQL restarted (-m fast) mid-burst loses no acknowledged upload', { timeout: 240_000 }, async () => {
    await runFaultScenario(services, 'pg-restart-fast', { fault: () => services.pg.restart('fast'), jobsTimeoutMs: REQUEUE_LATENCY_MS });
  });

  it('postgres-restart-immediate: PostgreSQL restarted (-m immediate, crash recovery) mid-burst loses no acknowledged upload', { timeout: 240_000 }, async () => {
    await runFaultScenario(services, 'pg-restart-immediate', { fault: () => services.pg.restart('immediate'), jobsTimeoutMs: REQUEUE_LATENCY_MS });
  });
});
