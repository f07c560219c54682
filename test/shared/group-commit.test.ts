// GroupCommit: one flush at a time; what arrives meanwhile shares the next one, bounded; results per item.
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/shared/group-commit.js';

/** A flush the test finishes by hand: each call is recorded with its items and a way to answer it. */
function manualFlush<I>() {
  const calls: Array<{ items: I[]; answer: (results: Array<PromiseSettledResult<string>>) => void; fail: (err: unknown) => void }> = [];
  const flush = (items: I[]) =>
    new Promise<Array<PromiseSettledResult<string>>>((resolve, reject) => calls.push({ items, answer: resolve, fail: reject }));
  return { calls, flush };
}

const ok = (value: string): PromiseSettledResult<string> => ({ status: 'fulfilled', value });
/** Lets pending microtasks and promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('flushes an item at once when idle, and everything that arrives meanwhile in one next flush', async () => {
    const { calls, flush } = manualFlush<number>();
    const group = new GroupCommit(flush, { maxSize: 100 });
    const first = group.submit(1);
    await settle();
    expect(calls.map((c) => c.items)).toEqual([[1]]);

    const later = [group.submit(2), group.submit(3), group.submit(4)];
    await settle();
    expect(calls).toHaveLength(1);
    expect(group.backlog).toBe(3);

    calls[0]!.answer([ok('one')]);
    await expect(first).resolves.toBe('one');
    await settle();
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    calls[1]!.answer([ok('two'), ok('three'), ok('four')]);
    await expect(Promise.all(later)).resolves.toEqual(['two', 'three', 'four']);
  });

  it('shares one flush among callers of the same tick', async () => {
    const { calls, flush } = manualFlush<number>();
    const group = new GroupCommit(flush, { maxSize: 100 });
    const all = [group.submit(1), group.submit(2)];
    await settle();
    expect(calls.map((c) => c.items)).toEqual([[1, 2]]);
    calls[0]!.answer([ok('a'), ok('b')]);
    await expect(Promise.all(all)).resolves.toEqual(['a', 'b']);
  });

  it('bounds a flush by the items\' sizes, but always takes at least one item', async () => {
    const { calls, flush } = manualFlush<number>();
    const group = new GroupCommit(flush, { maxSize: 10, sizeOf: (n) => n });
    const all = [group.submit(4), group.submit(5), group.submit(2), group.submit(30), group.submit(1)];
    for (let i = 0; i < 4; i++) {
      await settle();
      calls[i]!.answer(calls[i]!.items.map((n) => ok(String(n))));
    }
    await expect(Promise.all(all)).resolves.toEqual(['4', '5', '2', '30', '1']);
    expect(calls.map((c) => c.items)).toEqual([[4, 5], [2], [30], [1]]);
  });

  it('settles each item with its own result, and fails every item of a flush that throws', async () => {
    const { calls, flush } = manualFlush<number>();
    const group = new GroupCommit(flush, { maxSize: 100 });
    const [a, b] = [group.submit(1), group.submit(2)];
    await settle();
    const refused = new Error('refused');
    calls[0]!.answer([{ status: 'rejected', reason: refused }, ok('b')]);
    await expect(a).rejects.toBe(refused);
    await expect(b).resolves.toBe('b');

    const [c, d] = [group.submit(3), group.submit(4)];
    await settle();
    const down = new Error('down');
    calls[1]!.fail(down);
    await expect(c).rejects.toBe(down);
    await expect(d).rejects.toBe(down);
  });

  it('keeps working after a flush that throws synchronously, and goes idle when nothing waits', async () => {
    let calls = 0;
    const group = new GroupCommit<number, string>(
      (items) => {
        calls++;
        if (items[0] === 0) throw new Error('sync');
        return Promise.resolve(items.map((n) => ok(String(n))));
      },
      { maxSize: 100 },
    );
    await expect(group.submit(0)).rejects.toThrow('sync');
    await expect(group.submit(7)).resolves.toBe('7');
    await settle();
    await expect(group.submit(8)).resolves.toBe('8');
    expect(calls).toBe(3);
    expect(group.backlog).toBe(0);
  });
});
