// The fault suite (issue 10): kill -9 of the api and of the worker, Redis killed and restarted (AOF), PostgreSQL
// restarted (fast and immediate), each during a burst of uploads. After each: every acknowledged upload committed
// exactly once, downloads intact, no orphans in staging or the blob store. Prints one quotable line per scenario.
// Each scenario has its own PostgreSQL cluster and Redis (test/helpers/fault-services.ts), never the shared ones, so
// scenarios overlap while they wait for recovery; their start-ups and bursts take turns.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { faultSuiteSkipReason } from '../helpers/fault-services.js';
import { runFaultScenario } from './fault-scenario.js';
import { openFaultBase, type FaultBase } from './fault-world.js';

const skip = faultSuiteSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TIMEOUT = 420_000;

describe.skipIf(skip).concurrent(`fault suite${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let base: FaultBase;
  beforeAll(async () => {
    base = await openFaultBase();
  });
  afterAll(async () => base?.close());

  // First, because it waits longest: uploads accepted while Redis is down are recorded in PostgreSQL only, and the
  // requeue sweep enqueues them a minute or more later; that wait overlaps the other scenarios' bursts.
  it('redis-kill9: Redis killed -9 mid-burst and restarted from its AOF loses no acknowledged upload', { timeout: TIMEOUT }, async () => {
    await runFaultScenario(base, 'redis-kill9', {
      fault: async (s) => {
        await s.redis.kill9();
        // Down long enough for requests and workers to notice.
        await sleep(1_000);
        await s.redis.restart();
      },
    });
  });

  it('api-kill9: the api killed mid-burst and started again loses no acknowledged upload and leaves no orphan', { timeout: TIMEOUT }, async () => {
    await runFaultScenario(base, 'api-kill9', { fault: (s) => s.restartApi() });
  });

  it('worker-kill9: the worker killed mid-burst and started again commits every acknowledged upload once', { timeout: TIMEOUT }, async () => {
    await runFaultScenario(base, 'worker-kill9', { fault: (s) => s.restartWorker() });
  });

  it('pg-restart-fast: PostgreSQL restarted (-m fast) mid-burst loses no acknowledged upload', { timeout: TIMEOUT }, async () => {
    await runFaultScenario(base, 'pg-restart-fast', { fault: (s) => s.pg.restart('fast') });
  });

  it('pg-restart-immediate: PostgreSQL restarted (-m immediate, crash recovery) mid-burst loses no acknowledged upload', { timeout: TIMEOUT }, async () => {
    await runFaultScenario(base, 'pg-restart-immediate', { fault: (s) => s.pg.restart('immediate') });
  });
});
