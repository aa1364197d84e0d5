import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { claimRing } from '../../src/core/claim.ts';
import { preferenceList, primaryNodes } from '../../src/core/preflist.ts';
import { makeRing, type Ring } from '../../src/core/ring.ts';
import { testSeed } from '../support/seed.ts';

// Partition:  0    1    2    3    4    5    6    7
const ring = makeRing(['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd', 'a', 'b', 'c', 'd']);

test('primaryNodes walks clockwise from the partition and wraps around', () => {
  assert.deepEqual(primaryNodes(ring, 2, 3), ['c', 'd', 'a']);
  assert.deepEqual(primaryNodes(ring, 7, 3), ['d', 'a', 'b']);
  assert.deepEqual(primaryNodes(ring, 0, 1), ['a']);
  assert.deepEqual(primaryNodes(ring, 0, 9), ['a', 'b', 'c', 'd'], 'fewer when the ring has fewer members');
});

test('primaryNodes skips repeated owners', () => {
  const repeating = makeRing(['a', 'b', 'c'], ['a', 'b', 'a', 'c', 'a', 'b', 'c', 'b']);
  assert.deepEqual(primaryNodes(repeating, 0, 3), ['a', 'b', 'c']);
  assert.deepEqual(primaryNodes(repeating, 7, 2), ['b', 'a']);
});

test('preferenceList: up primaries first, then up fallbacks, each in ring order', () => {
  const everyone = new Set(['a', 'b', 'c', 'd']);
  assert.deepEqual(preferenceList(ring, 2, everyone, 3), [
    { node: 'c', partition: 2, primary: true },
    { node: 'd', partition: 2, primary: true },
    { node: 'a', partition: 2, primary: true },
    { node: 'b', partition: 2, primary: false },
  ]);
  assert.deepEqual(preferenceList(ring, 2, new Set(['a', 'b', 'c']), 3), [
    { node: 'c', partition: 2, primary: true },
    { node: 'a', partition: 2, primary: true },
    { node: 'b', partition: 2, primary: false },
  ]);
  assert.deepEqual(preferenceList(ring, 2, new Set(['b']), 2), [{ node: 'b', partition: 2, primary: false }]);
  assert.deepEqual(preferenceList(ring, 2, new Set(), 2), []);
  assert.deepEqual(preferenceList(ring, 2, new Set(['zed']), 2), [], 'nodes that own nothing are never listed');
});

test('preferenceList and primaryNodes reject bad arguments', () => {
  assert.throws(() => primaryNodes(ring, 8, 3), RangeError);
  assert.throws(() => primaryNodes(ring, 1.5, 3), RangeError);
  assert.throws(() => preferenceList(ring, 0, new Set(), 0), RangeError);
});

const arbitraryRing: fc.Arbitrary<Ring> = fc.oneof(
  fc
    .tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 5 }))
    .map(([members, exponent, replicas]) =>
      claimRing(
        Array.from({ length: members }, (_, i) => `n${i}`),
        2 ** exponent,
        replicas,
      ),
    ),
  // Arbitrary owner layouts, including members that own nothing.
  fc
    .tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 6 }))
    .chain(([members, exponent]) =>
      fc.array(fc.integer({ min: 0, max: members - 1 }), { minLength: 2 ** exponent, maxLength: 2 ** exponent }).map(
        (picks) =>
          makeRing(
            Array.from({ length: members }, (_, i) => `n${i}`),
            picks.map((pick) => `n${pick}`),
          ),
      ),
    ),
);

test('preference lists are the distinct owners in ring order, filtered by liveness', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(
      arbitraryRing.chain((r) =>
        fc.record({
          ring: fc.constant(r),
          partition: fc.integer({ min: 0, max: r.partitionCount - 1 }),
          up: fc.subarray([...r.members]),
          n: fc.integer({ min: 1, max: 6 }),
        }),
      ),
      ({ ring: r, partition, up, n }) => {
        // The reference: every owner clockwise, first occurrences only.
        const clockwise: string[] = [];
        for (let step = 0; step < r.partitionCount; step++) {
          const owner = r.owners[(partition + step) % r.partitionCount] as string;
          if (!clockwise.includes(owner)) clockwise.push(owner);
        }
        const primaries = primaryNodes(r, partition, n);
        assert.deepEqual(primaries, clockwise.slice(0, n));
        assert.equal(primaries[0], r.owners[partition]);

        const upSet = new Set(up);
        const list = preferenceList(r, partition, upSet, n);
        const expected = clockwise
          .map((node, index) => ({ node, partition, primary: index < n }))
          .filter((entry) => upSet.has(entry.node));
        assert.deepEqual(list, expected);
        const firstFallback = list.findIndex((entry) => !entry.primary);
        if (firstFallback >= 0) assert.ok(list.slice(firstFallback).every((entry) => !entry.primary));
        assert.deepEqual(
          list.filter((entry) => entry.primary).map((entry) => entry.node),
          primaries.filter((node) => upSet.has(node)),
        );
      },
    ),
    { seed, numRuns: 500 },
  );
});
