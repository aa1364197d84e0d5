import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FrequencySketch } from '../../../src/core/cache/frequencySketch.ts';
import { CACHE_POLICIES, ObjectCache, type CachePolicy } from '../../../src/core/cache/objectCache.ts';
import { testSeed } from '../../support/seed.ts';

function cache(policy: CachePolicy, objectsMax: number, bytesMax = objectsMax * 100): ObjectCache<string> {
  return new ObjectCache<string>({ policy, objectsMax, bytesMax });
}

/** Offers `key` after a miss, as the object store does. */
function read(c: ObjectCache<string>, key: string, charge = 10): boolean {
  if (c.get(key) !== undefined) return true;
  c.offer(key, `value of ${key}`, charge);
  return false;
}

describe('FrequencySketch', () => {
  it('estimates counts from above, and halves every counter once enough increments were made', () => {
    const sketch = new FrequencySketch(1024);
    for (let i = 0; i < 5; i++) sketch.increment('warm');
    assert.ok(sketch.frequency('warm') >= 5);
    for (let i = 0; i < 20; i++) sketch.increment('hot');
    assert.equal(sketch.frequency('hot'), 15, 'saturated');
    // 1024 counters per row x 10 samples: the 10,240th increment halves every counter.
    for (let i = 0; i < 10_240; i++) sketch.increment(`other-${i}`);
    const hot = sketch.frequency('hot');
    assert.ok(hot >= 7 && hot < 15, `hot is ${hot} after the halving`);
    assert.ok(sketch.frequency('warm') < 5 + 4, 'warm decayed too');
  });

  it('saturates at 15', () => {
    const sketch = new FrequencySketch(1 << 10);
    for (let i = 0; i < 100; i++) sketch.increment('k');
    assert.equal(sketch.frequency('k'), 15);
  });
});

describe('ObjectCache', () => {
  it('lru keeps the most recently used entries', () => {
    const c = cache('lru', 3);
    for (const key of ['a', 'b', 'c']) read(c, key);
    assert.equal(c.get('a'), 'value of a'); // a is now the most recent
    read(c, 'd'); // evicts b
    assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => c.has(k)), [true, false, true, true]);
    assert.deepEqual({ ...c.stats(), bytes: undefined }, { policy: 'lru', objects: 3, bytes: undefined, objectsMax: 3, bytesMax: 300, hits: 1, misses: 4, evictions: 1, admitted: 4, rejected: 0 });
  });

  it('update replaces a cached value and recharges it; delete forgets it; a missing key is not added by update', () => {
    for (const policy of CACHE_POLICIES) {
      const c = cache(policy, 100);
      read(c, 'a', 10);
      read(c, 'a', 10); // tinylfu caches a key asked for a second time
      assert.equal(c.update('a', 'new', 30), true);
      assert.equal(c.get('a'), 'new');
      assert.equal(c.stats().bytes, 30);
      assert.equal(c.update('b', 'x', 10), false);
      assert.equal(c.has('b'), false);
      c.delete('a');
      assert.equal(c.get('a'), undefined);
      assert.equal(c.stats().bytes, 0, policy);
    }
  });

  it('never holds more objects or bytes than its bounds, whatever happens (property)', (t) => {
    const seed = testSeed(t, import.meta.url);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('read' as const), key: fc.integer({ min: 0, max: 60 }), charge: fc.integer({ min: 1, max: 400 }) }),
      fc.record({ kind: fc.constant('update' as const), key: fc.integer({ min: 0, max: 60 }), charge: fc.integer({ min: 1, max: 400 }) }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 60 }), charge: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...CACHE_POLICIES), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 3000 }), fc.array(op, { maxLength: 300 }), (policy, objectsMax, bytesMax, ops) => {
        const c = cache(policy, objectsMax, bytesMax);
        const latest = new Map<string, string>();
        ops.forEach((o, i) => {
          const key = `k${o.key}`;
          if (o.kind === 'read') {
            const value = c.get(key);
            if (value !== undefined) assert.equal(value, latest.get(key), 'a hit answers the latest value');
            else {
              latest.set(key, `v${i}`);
              c.offer(key, `v${i}`, o.charge);
            }
          } else if (o.kind === 'update') {
            if (c.update(key, `v${i}`, o.charge)) latest.set(key, `v${i}`);
          } else c.delete(key);
          const stats = c.stats();
          assert.ok(stats.objects <= objectsMax && stats.bytes <= bytesMax, `over its bounds: ${JSON.stringify(stats)}`);
        });
      }),
      { seed, numRuns: 300 },
    );
  });

  it('tinylfu keeps a hot set through a scan of one-off keys; lru loses it', () => {
    const hitRatio = (policy: CachePolicy): number => {
      const c = cache(policy, 100);
      const hot = Array.from({ length: 50 }, (_, i) => `hot-${i}`);
      for (let round = 0; round < 20; round++) for (const key of hot) read(c, key);
      for (let i = 0; i < 1000; i++) read(c, `scan-${i}`);
      let hits = 0;
      for (const key of hot) if (read(c, key)) hits++;
      return hits / hot.length;
    };
    const tinylfu = hitRatio('tinylfu');
    const lru = hitRatio('lru');
    assert.equal(lru, 0, 'the scan flushed lru');
    assert.ok(tinylfu >= 0.9, `tinylfu kept ${tinylfu} of the hot set`);
  });

  it('tinylfu caches a key only once it was asked for before: a one-off read allocates nothing', () => {
    const c = cache('tinylfu', 100);
    assert.equal(read(c, 'once'), false);
    assert.deepEqual([c.has('once'), c.stats().rejected], [false, 1]);
    assert.equal(read(c, 'twice'), false);
    assert.equal(read(c, 'twice'), false);
    assert.equal(c.has('twice'), true);
    assert.equal(read(c, 'twice'), true);
  });

  it('tinylfu lets a key that turns hot into a full cache within a few reads, pushing out a cold one', () => {
    const c = cache('tinylfu', 10);
    for (let round = 0; round < 3; round++) for (let i = 0; i < 10; i++) read(c, `old-${i}`);
    assert.equal(c.stats().objects, 10, 'full');
    for (let i = 0; i < 200; i++) read(c, `noise-${i}`); // keys read once, the sketch ages
    const evictionsBefore = c.stats().evictions;
    let readsBeforeCached = 0;
    while (!c.has('new-hot') && readsBeforeCached < 20) {
      read(c, 'new-hot');
      readsBeforeCached++;
    }
    assert.ok(c.has('new-hot') && readsBeforeCached <= 5, `cached after ${readsBeforeCached} reads`);
    assert.equal(c.stats().objects, 10, 'it took the place of a cold key');
    assert.equal(c.stats().evictions - evictionsBefore, 1);
  });

  it('keeps its own copy of what it caches (the adopt hook), on offer and on update', () => {
    const adopted: string[] = [];
    const c = new ObjectCache<string>({ policy: 'lru', objectsMax: 10, bytesMax: 1000 }, (value) => {
      adopted.push(value);
      return `copy of ${value}`;
    });
    c.offer('a', 'first', 10);
    c.update('a', 'second', 10);
    c.update('missing', 'third', 10);
    assert.deepEqual(adopted, ['first', 'second']);
    assert.equal(c.get('a'), 'copy of second');
  });

  it('an object larger than the whole cache is never held; bounds of 0 turn it off', () => {
    const c = cache('tinylfu', 10, 50);
    c.offer('big', 'x', 51);
    assert.equal(c.has('big'), false);
    const off = cache('lru', 0, 0);
    assert.equal(off.enabled, false);
    read(off, 'a');
    assert.deepEqual([off.has('a'), off.stats().misses], [false, 0]);
    assert.throws(() => cache('lru', -1), /objectsMax must be a non-negative integer/);
  });
});
