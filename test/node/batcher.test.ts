import assert from 'node:assert/strict';
import { Batcher } from '../../src/node/batcher.js';

describe('node: batcher for work that arrives together', () => {
  it('puts items submitted in one turn in one flush and gives each submitter its own result', async () => {
    const flushes: number[][] = [];
    const batcher = new Batcher<number, string>(async (items) => {
      flushes.push(items);
      return items.map((i) => `r${i}`);
    });
    const results = await Promise.all([1, 2, 3].map((i) => batcher.submit(i)));
    assert.deepEqual(results, ['r1', 'r2', 'r3']);
    assert.deepEqual(flushes, [[1, 2, 3]]);
  });

  it('collects what arrives during a flush into the next one; flushes never overlap and keep order', async () => {
    const flushes: number[][] = [];
    let running = 0;
    const gate = Promise.withResolvers<void>();
    const batcher = new Batcher<number, number>(async (items) => {
      assert.equal(++running, 1, 'flushes overlap');
      flushes.push(items);
      if (flushes.length === 1) await gate.promise;
      running--;
      return items;
    });
    const first = batcher.submit(1);
    await new Promise((r) => setImmediate(r)); // the first flush is now running
    const later = [2, 3, 4].map((i) => batcher.submit(i));
    gate.resolve();
    assert.deepEqual(await Promise.all([first, ...later]), [1, 2, 3, 4]);
    assert.deepEqual(flushes, [[1], [2, 3, 4]]);
  });

  it('splits at maxBatch, and a failed flush rejects only its own batch', async () => {
    const flushes: number[][] = [];
    const batcher = new Batcher<number, number>(async (items) => {
      flushes.push(items);
      if (items.includes(3)) throw new Error('store unavailable');
      return items;
    }, 2);
    const outcomes = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => batcher.submit(i)));
    assert.deepEqual(flushes, [[1, 2], [3, 4], [5]]);
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
      [1, 2, 'store unavailable', 'store unavailable', 5],
    );
    // Still usable afterwards.
    assert.equal(await batcher.submit(6), 6);
  });
});
