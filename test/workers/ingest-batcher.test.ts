// The worker's group commit: jobs that arrive while batches run wait and go together; each gets its own result.
import { describe, expect, it } from 'vitest';
import type { BatchItemResult } from '../../src/shared/domain/ingest-batch.js';
import type { IngestOutcome } from '../../src/shared/domain/ingest-commit.js';
import { distinctRounds } from '../../src/shared/records/ingest-batches.js';
import { IngestBatcher } from '../../src/workers/ingest-batcher.js';

const outcome = (id: string): IngestOutcome => ({ state: 'committed', fileId: id, ranNow: true });

/** A batch runner whose batches end only when the test says so. */
function gatedRunner() {
  const batches: string[][] = [];
  const gates: Array<() => void> = [];
  const run = async (ids: string[]): Promise<Map<string, BatchItemResult>> => {
    batches.push(ids);
    await new Promise<void>((resolve) => gates.push(resolve));
    return new Map(ids.map((id) => [id, id.startsWith('bad') ? { ok: false, error: new Error(`${id} failed`) } : { ok: true, outcome: outcome(id) }]));
  };
  return { batches, gates, run };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('IngestBatcher', () => {
  it('runs jobs submitted together as one batch, and those that arrive meanwhile as the next one', async () => {
    const { batches, gates, run } = gatedRunner();
    const batcher = new IngestBatcher(run, { maxBatch: 10, maxInFlight: 1 });
    const first = ['a', 'b'].map((id) => batcher.submit(id));
    await tick();
    expect(batches).toEqual([['a', 'b']]);
    const later = ['c', 'bad-d', 'e'].map((id) => batcher.submit(id).then((o) => o.fileId, (err: Error) => err.message));
    await tick();
    // One batch in flight at most: c, bad-d and e wait for it.
    expect(batches).toHaveLength(1);
    gates[0]!();
    expect(await Promise.all(first)).toEqual([outcome('a'), outcome('b')]);
    await tick();
    expect(batches[1]).toEqual(['c', 'bad-d', 'e']);
    gates[1]!();
    // A failed file fails alone.
    expect(await Promise.all(later)).toEqual(['c', 'bad-d failed', 'e']);
  });

  it('never puts more than maxBatch jobs in one batch, and runs up to maxInFlight batches at once', async () => {
    const { batches, gates, run } = gatedRunner();
    const batcher = new IngestBatcher(run, { maxBatch: 3, maxInFlight: 2 });
    const all = Array.from({ length: 8 }, (_, i) => batcher.submit(`j${i}`));
    await tick();
    expect(batches).toEqual([['j0', 'j1', 'j2'], ['j3', 'j4', 'j5']]);
    gates[0]!();
    await tick();
    await tick();
    expect(batches[2]).toEqual(['j6', 'j7']);
    gates[1]!();
    gates[2]!();
    expect((await Promise.all(all)).map((o) => o.fileId)).toEqual(['j0', 'j1', 'j2', 'j3', 'j4', 'j5', 'j6', 'j7']);
  });

  it('fails every job of a batch whose run throws, and goes on with the next batch', async () => {
    let calls = 0;
    const batcher = new IngestBatcher(async (ids) => {
      calls += 1;
      if (calls === 1) throw new Error('database gone');
      return new Map(ids.map((id) => [id, { ok: true, outcome: outcome(id) } as const]));
    }, { maxBatch: 10, maxInFlight: 1 });
    const failed = await Promise.allSettled([batcher.submit('x'), batcher.submit('y')]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((await batcher.submit('z')).fileId).toBe('z');
  });
});

describe('distinctRounds', () => {
  it('puts repeated keys in later rounds, keeping order', () => {
    const rounds = distinctRounds(['a1', 'b1', 'a2', 'c1', 'a3', 'b2'], (s) => s[0]!);
    expect(rounds).toEqual([['a1', 'b1', 'c1'], ['a2', 'b2'], ['a3']]);
  });
});
