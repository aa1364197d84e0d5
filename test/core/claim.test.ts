import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  claimRing,
  distinctOwnersAchievable,
  distinctWindowSize,
  ownedPartitionTarget,
} from '../../src/core/claim.ts';
import {
  makeRing,
  ownedPartitionCounts,
  ownerOf,
  partitionsOwnedBy,
  repeatedOwnerWindows,
  RingError,
  type Ring,
} from '../../src/core/ring.ts';
import { Prng } from '../../src/sim/prng.ts';
import { testSeed } from '../support/seed.ts';

function memberIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `node-${String(i).padStart(4, '0')}`);
}

function assertBalanced(ring: Ring): void {
  const { floor, ceil } = ownedPartitionTarget(ring.partitionCount, ring.members.length);
  for (const [member, count] of ownedPartitionCounts(ring)) {
    assert.ok(count === floor || count === ceil, `${member} owns ${count}, not ${floor} or ${ceil}`);
  }
}

/** Whether ANY balanced ring has every window of `windowSize` distinct: a pruned exhaustive search. */
function someBalancedRingIsDistinct(partitionCount: number, memberCount: number, windowSize: number): boolean {
  const perMember = Math.floor(partitionCount / memberCount);
  const heavyCount = partitionCount % memberCount;
  // Members are interchangeable within a class, so the heavy ones are 0..heavyCount-1.
  const capacity = Array.from({ length: memberCount }, (_, m) => (m < heavyCount ? perMember + 1 : perMember));
  const used = new Array<number>(memberCount).fill(0);
  const sequence: number[] = [];
  const distinctAt = (end: number): boolean => {
    const window = new Set<number>();
    for (let k = 0; k < windowSize; k++) window.add(sequence[(end - k + partitionCount) % partitionCount] as number);
    return window.size === windowSize;
  };
  const search = (): boolean => {
    const position = sequence.length;
    if (position === partitionCount) {
      for (let end = 0; end < windowSize - 1; end++) if (!distinctAt(end)) return false;
      return true;
    }
    for (let member = 0; member < memberCount; member++) {
      if (used[member] === capacity[member]) continue;
      // Only the first unused member of each class: the others give symmetric rings.
      const firstUnusedOfClass = capacity.findIndex((c, m) => c === capacity[member] && used[m] === 0);
      if (used[member] === 0 && firstUnusedOfClass !== member) continue;
      sequence.push(member);
      used[member] = (used[member] as number) + 1;
      const ok = (position < windowSize - 1 || distinctAt(position)) && search();
      sequence.pop();
      used[member] = (used[member] as number) - 1;
      if (ok) return true;
    }
    return false;
  };
  return search();
}

test('distinctOwnersAchievable agrees with an exhaustive search of all balanced rings', () => {
  for (const q of [1, 2, 4, 8, 16]) {
    for (let members = 1; members <= Math.min(q + 1, 10); members++) {
      for (let replicas = 1; replicas <= 6; replicas++) {
        const windowSize = distinctWindowSize(q, members, replicas);
        assert.equal(
          distinctOwnersAchievable(q, members, replicas),
          someBalancedRingIsDistinct(q, members, windowSize),
          `Q=${q} S=${members} N=${replicas}`,
        );
      }
    }
  }
});

test('claimRing is balanced, and distinct in every window whenever a balanced ring can be (exhaustive)', () => {
  const infeasibleWithMoreMembersThanReplicas: string[] = [];
  for (let q = 8; q <= 1024; q *= 2) {
    for (let replicas = 1; replicas <= 5; replicas++) {
      for (let memberCount = 1; memberCount <= q; memberCount++) {
        const ring = claimRing(memberIds(memberCount), q, replicas);
        assertBalanced(ring);
        const windowSize = distinctWindowSize(q, memberCount, replicas);
        const repeats = repeatedOwnerWindows(ring, windowSize);
        if (distinctOwnersAchievable(q, memberCount, replicas)) {
          assert.deepEqual(repeats, [], `Q=${q} S=${memberCount} N=${replicas}`);
        } else if (memberCount <= replicas) {
          // Round robin: only the S - 1 windows that cross the wrap-around repeat.
          const wrapWindows = Array.from({ length: memberCount - 1 }, (_, i) => q - memberCount + 1 + i);
          assert.deepEqual(repeats, wrapWindows, `Q=${q} S=${memberCount} N=${replicas}`);
        } else {
          infeasibleWithMoreMembersThanReplicas.push(`Q=${q} N=${replicas} S=${memberCount}`);
        }
      }
    }
  }
  // The only cases with S > N where no balanced ring is distinct (see claim.ts).
  assert.deepEqual(infeasibleWithMoreMembersThanReplicas, ['Q=8 N=5 S=6', 'Q=8 N=5 S=7']);
});

test('claimRing spreads the heavier members evenly between the lighter ones', () => {
  // Q=8, S=3: a and b own 3, c owns 2; heavy slots are where floor(p * 6 / 8) steps.
  const ring = claimRing(['c', 'b', 'a'], 8, 2);
  assert.deepEqual(ring.owners, ['c', 'a', 'b', 'a', 'c', 'b', 'a', 'b']);
  assert.deepEqual(repeatedOwnerWindows(ring, 2), []);
  // S divides Q: plain round robin in sorted order.
  assert.deepEqual(claimRing(['d', 'c', 'b', 'a'], 8, 3).owners, ['a', 'b', 'c', 'd', 'a', 'b', 'c', 'd']);
});

test('claimRing is a function of the member set, balanced, and distinct where achievable (random)', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 0, max: 12 }),
      fc.integer({ min: 1, max: 7 }),
      fc.nat(),
      (members, exponent, replicas, shuffleSeed) => {
        const q = 2 ** exponent;
        const ring = claimRing(members, q, replicas);
        assert.deepEqual(ring.members, [...members].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        assert.equal(ring.partitionCount, q);
        assert.equal(ring.owners.length, q);
        assertBalanced(ring);
        const shuffled = Prng.fromSeed(shuffleSeed).shuffle(members);
        assert.deepEqual(claimRing(shuffled, q, replicas), ring);
        const windowSize = distinctWindowSize(q, members.length, replicas);
        if (distinctOwnersAchievable(q, members.length, replicas)) {
          assert.deepEqual(repeatedOwnerWindows(ring, windowSize), []);
        }
      },
    ),
    { seed, numRuns: 300 },
  );
});

test('claimRing rejects duplicate, empty and missing members, and bad counts', () => {
  assert.throws(() => claimRing(['a', 'b', 'a'], 8, 3), (error) => error instanceof RingError && error.code === 'duplicate-member');
  assert.throws(() => claimRing([], 8, 3), (error) => error instanceof RingError && error.code === 'no-members');
  assert.throws(() => claimRing(['a', ''], 8, 3), (error) => error instanceof RingError && error.code === 'invalid-member');
  assert.throws(() => claimRing(['a'], 12, 3), RangeError);
  assert.throws(() => claimRing(['a'], 8, 0), RangeError);
  assert.throws(() => claimRing(['a'], 8, 1.5), RangeError);
});

test('with more members than partitions, each partition has its own owner and the rest own none', () => {
  const ring = claimRing(memberIds(10), 4, 3);
  assert.equal(new Set(ring.owners).size, 4);
  assert.equal(ring.members.length, 10);
  assertBalanced(ring);
});

test('makeRing validates owners and derives the partition count', () => {
  const ring = makeRing(['b', 'a'], ['a', 'b', 'a', 'b']);
  assert.deepEqual(ring.members, ['a', 'b']);
  assert.equal(ring.partitionCount, 4);
  assert.ok(Object.isFrozen(ring) && Object.isFrozen(ring.owners));
  assert.throws(() => makeRing(['a'], ['a', 'b']), (error) => error instanceof RingError && error.code === 'unknown-owner');
  assert.throws(() => makeRing(['a'], ['a', 'a', 'a']), RangeError);
});

test('ownerOf and partitionsOwnedBy agree, and every partition has exactly one owner', () => {
  const ring = claimRing(memberIds(5), 64, 3);
  const all: number[] = [];
  for (const member of ring.members) {
    const owned = partitionsOwnedBy(ring, member);
    for (const partition of owned) assert.equal(ownerOf(ring, partition), member);
    all.push(...owned);
  }
  assert.deepEqual(all.sort((a, b) => a - b), Array.from({ length: 64 }, (_, p) => p));
  assert.deepEqual(partitionsOwnedBy(ring, 'stranger'), []);
  assert.throws(() => ownerOf(ring, 64), RangeError);
  assert.throws(() => ownerOf(ring, -1), RangeError);
});

test('repeatedOwnerWindows finds windows that wrap around the ring', () => {
  const ring = makeRing(['a', 'b', 'c'], ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b']);
  assert.deepEqual(repeatedOwnerWindows(ring, 3), [6, 7]);
  assert.deepEqual(repeatedOwnerWindows(ring, 2), []);
  assert.deepEqual(repeatedOwnerWindows(ring, 1), []);
});
