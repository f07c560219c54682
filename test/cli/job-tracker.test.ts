// The job tracker asks about the oldest waiting jobs first, 100 ids a request, and further only while they progress.
import { describe, expect, it } from 'vitest';
import type { Client, Job } from '../../src/client/index.js';
import { JobTracker, nextIntervalMs } from '../../src/cli/job-tracker.js';

const jobOf = (id: string, state: Job['state']): Job =>
  ({ id, kind: 'ingest', state, progress: 0, fileName: id, size: 1, attempts: 1, createdAt: '', updatedAt: '' }) as unknown as Job;

describe('JobTracker', () => {
  it('polls the oldest 100 first and stops a tick at the first 100 without progress', async () => {
    const ids = Array.from({ length: 500 }, (_, i) => `job-${i}`);
    const done = new Set(ids.slice(0, 150));
    const calls: string[][] = [];
    const client = {
      jobs: async (asked: string[]) => {
        calls.push(asked);
        return asked.map((id) => jobOf(id, done.has(id) ? 'committed' : 'queued'));
      },
    } as unknown as Client;
    const tracker = new JobTracker(client, 5);
    const finished = ids.map((id) => tracker.wait(jobOf(id, 'queued')));
    await Promise.all(finished.slice(0, 150));
    // First tick: 0-99 (all final), 100-199 (half), 200-299 (none): nothing beyond.
    expect(calls.slice(0, 3).map((c) => [c[0], c.length])).toEqual([
      ['job-0', 100],
      ['job-100', 100],
      ['job-200', 100],
    ]);
    expect(calls.every((c) => c.length <= 100)).toBe(true);
    expect(calls.slice(0, 3).flat()).not.toContain('job-300');
    for (const id of ids) done.add(id);
    await expect(Promise.all(finished)).resolves.toHaveLength(500);
    await tracker.close();
  });
});

describe('JobTracker interval', () => {
  const bounds = { min: 10, max: 250 };

  it('with few jobs waiting, starts short and doubles while ticks settle none, up to the bound', () => {
    expect(nextIntervalMs(10, 0, 1, bounds)).toBe(20);
    expect(nextIntervalMs(160, 0, 100, bounds)).toBe(250);
    expect(nextIntervalMs(40, 3, 50, bounds)).toBe(40);
  });

  it('with more than one window of jobs waiting, ticks at the full interval (fewer, fuller status requests)', () => {
    expect(nextIntervalMs(10, 100, 101, bounds)).toBe(250);
    expect(nextIntervalMs(10, 0, 5_000, bounds)).toBe(250);
  });

  it('asks about a single job within a few tens of milliseconds, not after a whole interval', async () => {
    const asked: number[] = [];
    const started = Date.now();
    let state: Job['state'] = 'queued';
    const client = {
      jobs: async (ids: string[]) => {
        asked.push(Date.now() - started);
        return ids.map((id) => jobOf(id, state));
      },
    } as unknown as Client;
    const tracker = new JobTracker(client, 10_000);
    const final = tracker.wait(jobOf('one', 'queued'));
    while (asked.length < 3) await new Promise((r) => setTimeout(r, 5));
    state = 'committed';
    await expect(final).resolves.toMatchObject({ state: 'committed' });
    // 10, 20 and 40 ms apart: the first three asks come long before the 10 s bound of the interval.
    expect(asked[2]).toBeLessThan(5_000);
    await tracker.close();
  });
});
