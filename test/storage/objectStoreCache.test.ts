/**
 * The read cache never changes an answer: an object store with a cache (tiny, so that it
 * evicts all the time) answers every read exactly as one without, whatever the writes,
 * removals, flushes, engine stalls and failures in between (a model test).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { StoredObject } from '../../src/core/object.ts';
import { CACHE_POLICIES, type CacheLimits } from '../../src/core/cache/objectCache.ts';
import { REMOVE_OBJECT } from '../../src/ports/replica.ts';
import { MemoryEngine } from '../../src/storage/memoryEngine.ts';
import { ObjectStore, cacheChargeOf } from '../../src/storage/objectStore.ts';
import { encodeObject } from '../../src/storage/objectCodec.ts';
import { ManualClock } from '../../src/sim/simClock.ts';
import { testSeed } from '../support/seed.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function objectOf(value: string, counter: number): StoredObject {
  return {
    vector: [{ actor: 'a.1', counter, timeMs: counter }],
    // Some siblings carry a write id: the cache's own copy once dropped it (found by the simulator, issue 15).
    siblings: [{ value: text(value), contentType: 'text/plain', deleted: false, dot: { actor: 'a.1', counter }, timeMs: counter, ...(counter % 2 === 1 ? { writeId: `e.1/${counter}` } : {}) }],
  };
}

type Step =
  | { readonly kind: 'write'; readonly key: number; readonly value: string; readonly durable: boolean }
  | { readonly kind: 'remove'; readonly key: number }
  | { readonly kind: 'read'; readonly key: number; readonly how: 'get' | 'bytes' | 'encoded' }
  | { readonly kind: 'scan' }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'stall' | 'resume' }
  | { readonly kind: 'fail' };

const KEYS = 8;
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('write' as const), key: fc.nat({ max: KEYS - 1 }), value: fc.string({ maxLength: 40 }), durable: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), key: fc.nat({ max: KEYS - 1 }) }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('read' as const), key: fc.nat({ max: KEYS - 1 }), how: fc.constantFrom('get' as const, 'bytes' as const, 'encoded' as const) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'scan' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 200 }) }) },
  { weight: 1, arbitrary: fc.constantFrom({ kind: 'stall' as const }, { kind: 'resume' as const }, { kind: 'fail' as const }) },
);

function storeWith(cache: CacheLimits | undefined): { store: ObjectStore; engine: MemoryEngine; clock: ManualClock } {
  const engine = new MemoryEngine();
  const clock = new ManualClock();
  const store = new ObjectStore(engine, clock, { flushIntervalMs: 50, bufferObjectsMax: 3, retryDelayMsMin: 10, retryDelayMsMax: 40, ...(cache === undefined ? {} : { cache }) });
  return { store, engine, clock };
}

/** What a read answers, comparable across stores. */
function answerOf(store: ObjectStore, key: Uint8Array, how: 'get' | 'bytes' | 'encoded'): unknown {
  switch (how) {
    case 'get':
      return store.get(0, key);
    case 'bytes':
      return store.getBytes(0, key);
    case 'encoded':
      return store.getEncoded(0, key);
  }
}

describe('ObjectStore with a read cache (model)', () => {
  it('answers every read exactly as the same store without a cache', async (t) => {
    const seed = testSeed(t, import.meta.url);
    const cacheLimits = fc.record({
      policy: fc.constantFrom(...CACHE_POLICIES),
      objectsMax: fc.integer({ min: 1, max: 4 }),
      bytesMax: fc.integer({ min: 1, max: 4 * cacheChargeOf(new Uint8Array(120)) }),
    });
    await fc.assert(
      fc.asyncProperty(cacheLimits, fc.array(step, { maxLength: 80 }), async (limits, steps) => {
        const cached = storeWith(limits);
        const plain = storeWith(undefined);
        const both = [cached, plain];
        const pending: Promise<unknown>[] = [];
        let counter = 0;
        for (const s of steps) {
          if (s.kind === 'write' || s.kind === 'remove') {
            const key = text(`k${s.key}`);
            counter++;
            const object = s.kind === 'write' ? objectOf(s.value, counter) : undefined;
            const durable = s.kind === 'write' && s.durable;
            const outcomes = both.map(({ store }) => store.update(0, key, () => object ?? REMOVE_OBJECT, { durable }).then(
              (written) => ({ ok: true, written: written === undefined ? undefined : encodeObject(written) }),
              (error: unknown) => ({ ok: false, code: (error as { code?: string }).code }),
            ));
            pending.push(Promise.all(outcomes).then(([a, b]) => assert.deepEqual(a, b, 'a write ends alike')));
          } else if (s.kind === 'read') {
            const key = text(`k${s.key}`);
            assert.deepEqual(answerOf(cached.store, key, s.how), answerOf(plain.store, key, s.how), `${s.how} k${s.key}`);
          } else if (s.kind === 'scan') {
            assert.deepEqual(cached.store.scanEncoded(0, undefined, 100), plain.store.scanEncoded(0, undefined, 100));
          } else if (s.kind === 'advance') {
            await Promise.all(both.map(({ clock }) => clock.advance(s.ms)));
          } else {
            for (const { engine } of both) {
              if (s.kind === 'stall') engine.pauseWrites();
              else if (s.kind === 'resume') engine.resumeWrites();
              else engine.failNextWrites(1);
            }
          }
          const stats = cached.store.cacheStats();
          assert.ok(stats.objects <= limits.objectsMax && stats.bytes <= limits.bytesMax, `cache over its bounds: ${JSON.stringify(stats)}`);
        }
        for (const { engine, clock } of both) {
          engine.resumeWrites();
          await clock.runAll();
        }
        await Promise.all(pending);
        for (let k = 0; k < KEYS; k++) assert.deepEqual(cached.store.get(0, text(`k${k}`)), plain.store.get(0, text(`k${k}`)), `final k${k}`);
      }),
      { seed, numRuns: 200 },
    );
  });

  it('a cached key is read without the engine, and a write keeps the cached copy current', async () => {
    const engine = new MemoryEngine();
    const clock = new ManualClock();
    const store = new ObjectStore(engine, clock, { flushIntervalMs: 10, cache: { policy: 'tinylfu', objectsMax: 10, bytesMax: 100_000 } });
    await store.update(0, text('k'), () => objectOf('one', 1), { durable: true });
    assert.equal(store.stats().bufferedObjects, 0, 'flushed: only the engine has it');
    assert.deepEqual(store.get(0, text('k')), objectOf('one', 1));
    const reads = engine.reads;
    assert.deepEqual(store.get(0, text('k')), objectOf('one', 1));
    assert.equal(engine.reads, reads, 'the second read came from the cache');
    await store.update(0, text('k'), () => objectOf('two', 2), { durable: true });
    assert.deepEqual(store.get(0, text('k')), objectOf('two', 2));
    assert.equal(engine.reads, reads, 'the write read the cached copy and updated it');
    await store.update(0, text('k'), () => REMOVE_OBJECT, { durable: true });
    assert.equal(store.get(0, text('k')), undefined);
    // Hits: the second read, the write's read of the current copy, the read after it, the removal's read.
    // Misses: the first write's look for a current copy, the first read, the read after the removal.
    assert.deepEqual({ hits: store.cacheStats().hits, misses: store.cacheStats().misses, objects: store.cacheStats().objects }, { hits: 4, misses: 3, objects: 0 });
  });
});
