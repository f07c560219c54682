// kill -9 of the api and of the worker during a burst of uploads: every acknowledged upload committed exactly once,
// downloads intact, no orphans in staging or the blob store once recovery and the sweeps have run.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { faultSuiteSkipReason } from '../helpers/fault-services.js';
import { runFaultScenario } from './fault-scenario.js';
import { openFaultServices, type FaultServices } from './fault-world.js';

const skip = faultSuiteSkipReason();

describe.skipIf(skip)(`faults: process kill -9${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let services: FaultServices;
  beforeAll(async () => {
    services = await openFaultServices();
  });
  afterAll(async () => services?.close());

  it('api-kill9: the api killed mid-burst and started again loses no acknowledged upload and leaves no orphan', { timeout: 400_000 }, async () => {
    await runFaultScenario(services, 'api-kill9', { fault: (s) => s.restartApi() });
  });

  it('worker-kill9: the worker killed mid-burst and started again commits every acknowledged upload once', { timeout: 400_000 }, async () => {
    await runFaultScenario(services, 'worker-kill9', { fault: (s) => s.restartWorker() });
  });
});
