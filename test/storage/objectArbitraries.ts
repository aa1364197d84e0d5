/** fast-check arbitraries for valid StoredObjects (sorted vectors and sibling dots). */
import fc from 'fast-check';
import type { VectorEntry } from '../../src/core/clock.ts';
import { compareActors, COUNTER_MAX } from '../../src/core/clock.ts';
import type { Sibling, StoredObject } from '../../src/core/object.ts';

/** Non-negative, never -0 (which msgpack does not keep apart from 0). */
const timeMsArb = fc.oneof(
  fc.maxSafeNat(),
  fc.double({ min: 0, max: 1e15, noNaN: true, noDefaultInfinity: true }).map((x) => x + 0),
);
/** Counters as the codec accepts them (up to COUNTER_MAX, 2^52). */
const counterArb = fc.oneof(fc.nat({ max: 1000 }), fc.integer({ min: 0, max: COUNTER_MAX }));
const actorArb = fc.oneof(fc.constantFrom('n1.1', 'n2.1', 'n3.7'), fc.string({ minLength: 1, maxLength: 6, unit: 'grapheme' }));

const siblingArb: fc.Arbitrary<Sibling> = fc.record({
  value: fc.uint8Array({ maxLength: 40 }),
  contentType: fc.oneof(fc.constantFrom('', 'application/octet-stream', 'text/plain; charset=utf-8'), fc.string({ unit: 'grapheme', maxLength: 10 })),
  deleted: fc.boolean(),
  dot: fc.record({ actor: actorArb, counter: counterArb }),
  timeMs: timeMsArb,
  writeId: fc.option(fc.constantFrom('n1.1/7', 'client-3/12'), { nil: undefined }),
})
  // plain objects (fc.record's have a null prototype); no writeId key at all when there is none, as the codec decodes
  .map(({ writeId, ...s }) => (writeId === undefined ? { ...s, dot: { ...s.dot } } : { ...s, dot: { ...s.dot }, writeId }));

export const storedObjectArb: fc.Arbitrary<StoredObject> = fc
  .record({
    vector: fc.uniqueArray(fc.record({ actor: actorArb, counter: counterArb, timeMs: timeMsArb }), {
      selector: (e) => e.actor,
      maxLength: 5,
    }),
    siblings: fc.uniqueArray(siblingArb, { selector: (s) => `${s.dot.actor}\u0000${s.dot.counter}`, maxLength: 4 }),
  })
  .map(({ vector, siblings }) => ({
    vector: vector.map((e) => ({ ...e })).sort((a: VectorEntry, b: VectorEntry) => compareActors(a.actor, b.actor)),
    siblings: [...siblings].sort((a, b) => compareActors(a.dot.actor, b.dot.actor) || a.dot.counter - b.dot.counter),
  }));
