// The job tracker asks about the oldest waiting jobs first, 100 ids a request, and further only while they progress.
import { describe, expect, it } from 'vitest';
import type { Client, Job } from '../../src/client/index.js';
import { JobTracker } from '../../src/cli/job-tracker.js';

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
