// One fault scenario end to end: fresh world, burst with the fault injected, settle, audit, print, assert.
import { expect } from 'vitest';
import { settleAndAudit, formatAudit, type Audit } from './audit.js';
import { runBurst } from './burst.js';
import { openScenario, type FaultBase, type Scenario } from './fault-world.js';

export const BURST = { uploads: 200, duplicates: 6, clients: 4 };

/**
 * Unfinished jobs that never reached Redis are enqueued again by the worker's requeue sweep (src/workers/requeue.ts):
 * once untouched for 60 s, checked every 30 s; plus slack for a loaded machine.
 */
export const REQUEUE_LATENCY_MS = 60_000 + 30_000 + 30_000;

export interface ScenarioOptions {
  /** Injected once about a third of the burst is acknowledged; the burst goes on meanwhile. */
  fault: (scenario: Scenario) => Promise<void>;
  /** How long jobs may take to end after the burst; by default the requeue sweep's latency. */
  jobsTimeoutMs?: number;
}

export async function runFaultScenario(base: FaultBase, name: string, options: ScenarioOptions): Promise<Audit> {
  const token = await base.token();
  // Starting two processes under tsx is a burst of CPU too: opening takes the same turn as the burst.
  const { scenario, burst } = await base.exclusive(async () => {
    const opened = await openScenario(base, name);
    const fault = () => options.fault(opened);
    const result = await runBurst({ baseUrl: () => opened.baseUrl, token, ...BURST, faultAfter: Math.floor(BURST.uploads / 3), fault }).catch(async (err: unknown) => {
      await opened.close();
      throw err;
    });
    return { scenario: opened, burst: result };
  });
  try {
    const audit = await settleAndAudit(scenario, burst, token, options.jobsTimeoutMs ?? REQUEUE_LATENCY_MS, (fn) => base.exclusive(fn));
    console.log(formatAudit(audit, burst));
    const clean = audit.lost.length + audit.stuck.length + audit.orphanCount + burst.unacknowledged.length + burst.rejected.length === 0;
    const logFile = clean ? undefined : await scenario.saveLogs();
    const context = `\n${formatAudit(audit, burst)}\n${logFile ? `full logs of the api and worker: ${logFile}\n` : ''}`;
    expect(burst.faultAtAck, 'the fault was injected mid-burst').toBeGreaterThan(0);
    expect(burst.rejected, `uploads answered 4xx${context}`).toEqual([]);
    expect(burst.unacknowledged.map((u) => `${u.key}: ${u.last}`), `uploads never acknowledged${context}`).toEqual([]);
    expect(audit.stuck.map((j) => `${j.id} ${j.state} attempts=${j.attempts} bullmq=${j.bullState}`), `jobs not final${context}`).toEqual([]);
    expect(audit.lost, `acknowledged uploads lost${context}`).toEqual([]);
    expect(audit.committed + audit.duplicates).toBe(audit.acknowledged);
    expect(audit.unacknowledgedJobs, `jobs beyond one per acknowledged key${context}`).toBe(0);
    expect(audit.orphans, `orphans after recovery and the sweeps${context}`).toEqual({
      staged: [], temp: [], blobFilesWithoutRow: [], blobRowsWithoutFile: [], refCountWrong: [], attrWithoutRow: [], rowsWithoutAttr: [], pendingWal: [], filesWithoutJob: [],
    });
    return audit;
  } finally {
    await scenario.close();
  }
}
