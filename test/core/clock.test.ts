import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  VECTOR_ENTRIES_MAX_DEFAULT,
  concurrent,
  counterOf,
  covers,
  descends,
  dominates,
  mergeVectors,
  truncateVector,
  VECTOR_ENTRIES_HARD_MAX,
  vectorsEqual,
  type VectorEntry,
  type VersionVector,
} from '../../src/core/clock.ts';
import { testSeed } from '../support/seed.ts';

function vector(...entries: [string, number, number?][]): VersionVector {
  return entries.map(([actor, counter, timeMs]) => ({ actor, counter, timeMs: timeMs ?? 0 }));
}

const ACTORS = ['a', 'b', 'c', 'd', 'e', 'f'];

/** Well-formed vectors over a few actors: sorted, one entry per actor, positive counters. */
const arbitraryVector: fc.Arbitrary<VersionVector> = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 50 })), {
    minLength: ACTORS.length,
    maxLength: ACTORS.length,
  })
  .map((pairs) =>
    pairs.flatMap(([counter, timeMs], index): VectorEntry[] =>
      counter === 0 ? [] : [{ actor: ACTORS[index] as string, counter, timeMs }],
    ),
  );

test('counterOf and covers', () => {
  const v = vector(['a', 2], ['c', 1]);
  assert.equal(counterOf(v, 'a'), 2);
  assert.equal(counterOf(v, 'b'), 0);
  assert.ok(covers(v, { actor: 'a', counter: 1 }));
  assert.ok(covers(v, { actor: 'a', counter: 2 }));
  assert.ok(!covers(v, { actor: 'a', counter: 3 }));
  assert.ok(!covers(v, { actor: 'b', counter: 1 }));
  assert.equal(VECTOR_ENTRIES_MAX_DEFAULT, 10);
});

test('descends, dominates and concurrent', () => {
  const older = vector(['a', 1]);
  const newer = vector(['a', 2], ['b', 1]);
  const other = vector(['c', 1]);
  assert.ok(descends(newer, older) && !descends(older, newer));
  assert.ok(dominates(newer, older) && !dominates(older, newer));
  assert.ok(descends(older, older) && !dominates(older, older), 'reflexive, not strict');
  assert.ok(descends(older, []) && !descends([], older));
  assert.ok(concurrent(newer, other) && !concurrent(newer, older));
  assert.ok(vectorsEqual(vector(['a', 1, 5]), vector(['a', 1, 9])), 'timeMs is not causal');
});

test('mergeVectors takes the larger counter and the larger timeMs per actor, sorted', () => {
  assert.deepEqual(mergeVectors(vector(['b', 3, 10], ['a', 1, 50]), vector(['c', 1, 7], ['a', 2, 20])), [
    { actor: 'a', counter: 2, timeMs: 50 },
    { actor: 'b', counter: 3, timeMs: 10 },
    { actor: 'c', counter: 1, timeMs: 7 },
  ]);
});

test('mergeVectors is a join: commutative, associative, idempotent, least upper bound', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(arbitraryVector, arbitraryVector, arbitraryVector, (a, b, c) => {
      const ab = mergeVectors(a, b);
      assert.deepEqual(ab, mergeVectors(b, a));
      assert.deepEqual(mergeVectors(ab, c), mergeVectors(a, mergeVectors(b, c)));
      assert.deepEqual(mergeVectors(a, a), a);
      assert.ok(descends(ab, a) && descends(ab, b));
      if (descends(c, a) && descends(c, b)) assert.ok(descends(c, ab), 'least upper bound');
      assert.deepEqual(
        ab.map((entry) => entry.actor),
        [...new Set([...a, ...b].map((entry) => entry.actor))].sort(),
      );
    }),
    { seed, numRuns: 500 },
  );
});

test('descends is a partial order: reflexive, antisymmetric on equal vectors, transitive', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(arbitraryVector, arbitraryVector, arbitraryVector, (x, y, z) => {
      assert.ok(descends(x, x));
      if (descends(x, y) && descends(y, x)) assert.ok(vectorsEqual(x, y));
      // Build chains so that the premise of transitivity holds often.
      const lower = z;
      const middle = mergeVectors(z, y);
      const upper = mergeVectors(middle, x);
      assert.ok(descends(upper, middle) && descends(middle, lower) && descends(upper, lower));
      if (descends(x, y) && descends(y, z)) assert.ok(descends(x, z));
      assert.equal(concurrent(x, y), !descends(x, y) && !descends(y, x));
      assert.equal(dominates(x, y), descends(x, y) && !vectorsEqual(x, y));
    }),
    { seed, numRuns: 500 },
  );
});

/** Age does not matter. */
const COUNT_ONLY = { youngMs: 0, nowMs: 0 };

test('truncateVector drops the oldest entries, ties by actor, never a kept actor', () => {
  const v = vector(['a', 1, 30], ['b', 1, 10], ['c', 1, 10], ['d', 1, 40], ['e', 1, 20]);
  assert.equal(truncateVector(v, { entriesMax: 5, keepActors: new Set(), ...COUNT_ONLY }), v, 'short enough: unchanged');
  assert.deepEqual(
    truncateVector(v, { entriesMax: 3, keepActors: new Set(), ...COUNT_ONLY }).map((entry) => entry.actor),
    ['a', 'd', 'e'],
  );
  assert.deepEqual(
    truncateVector(v, { entriesMax: 3, keepActors: new Set(['b']), ...COUNT_ONLY }).map((entry) => entry.actor),
    ['a', 'b', 'd'],
  );
  assert.deepEqual(
    truncateVector(v, { entriesMax: 1, keepActors: new Set(['b', 'c']), ...COUNT_ONLY }).map((entry) => entry.actor),
    ['b', 'c'],
    'kept actors stay even past the limit',
  );
  assert.throws(() => truncateVector(v, { entriesMax: -1, keepActors: new Set(), ...COUNT_ONLY }), RangeError);
});

test('truncateVector keeps young entries past the soft limit, up to the hard limit', () => {
  const v = vector(['a', 1, 30], ['b', 1, 10], ['c', 1, 10], ['d', 1, 40], ['e', 1, 20]);
  const young = (nowMs: number): string[] => truncateVector(v, { entriesMax: 2, keepActors: new Set(), youngMs: 15, nowMs }).map((entry) => entry.actor);
  assert.deepEqual(young(30), ['a', 'd', 'e'], 'at 30 ms, b and c (10 ms) are old; e (20 ms) is young and stays past the limit of 2');
  assert.deepEqual(young(45), ['a', 'd']);
  assert.deepEqual(young(20), ['a', 'b', 'c', 'd', 'e'], 'every entry young: nothing dropped');
  const wide = vector(...Array.from({ length: VECTOR_ENTRIES_HARD_MAX + 6 }, (_, i): [string, number, number] => [`x${String(i).padStart(3, '0')}`, 1, i]));
  const hard = truncateVector(wide, { entriesMax: 10, keepActors: new Set(), youngMs: 1_000_000, nowMs: 100 });
  assert.equal(hard.length, VECTOR_ENTRIES_HARD_MAX, 'young entries are dropped past the hard limit, oldest first');
  assert.equal(hard[0]?.actor, 'x006');
});

test('truncateVector keeps the newest entries and every kept actor (random)', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(
      arbitraryVector,
      fc.integer({ min: 0, max: 7 }),
      fc.subarray(ACTORS),
      (v, entriesMax, keep) => {
        const keepActors = new Set(keep);
        const truncated = truncateVector(v, { entriesMax, keepActors, ...COUNT_ONLY });
        assert.ok(descends(v, truncated), 'a subset of the original entries');
        assert.ok(truncated.every((entry) => v.includes(entry)));
        for (const entry of v) {
          if (keepActors.has(entry.actor)) assert.ok(truncated.includes(entry), `kept actor ${entry.actor} dropped`);
        }
        const keptPresent = v.filter((entry) => keepActors.has(entry.actor)).length;
        assert.equal(truncated.length, Math.min(v.length, Math.max(entriesMax, keptPresent)));
        // Everything dropped is no newer than everything droppable that stayed.
        const dropped = v.filter((entry) => !truncated.includes(entry));
        const stayedDroppable = truncated.filter((entry) => !keepActors.has(entry.actor));
        for (const gone of dropped) for (const stayed of stayedDroppable) assert.ok(gone.timeMs <= stayed.timeMs);
      },
    ),
    { seed, numRuns: 500 },
  );
});
