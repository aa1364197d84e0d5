import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  claimJoin,
  claimJoinChange,
  claimLeave,
  claimLeaveChange,
  claimRing,
  distinctOwnersAchievable,
  distinctWindowSize,
  ownedPartitionTarget,
  ringTransfers,
  type ClaimChange,
} from '../../src/core/claim.ts';
import { ownedPartitionCounts, repeatedOwnerWindows, RingError, type Ring } from '../../src/core/ring.ts';
import { testSeed } from '../support/seed.ts';

function assertBalanced(ring: Ring): void {
  const { floor, ceil } = ownedPartitionTarget(ring.partitionCount, ring.members.length);
  for (const [member, count] of ownedPartitionCounts(ring)) {
    assert.ok(count === floor || count === ceil, `${member} owns ${count}, not ${floor}..${ceil}`);
  }
}

function assertDistinctWhereAchievable(ring: Ring, replicas: number): void {
  const { partitionCount: q } = ring;
  const s = ring.members.length;
  if (!distinctOwnersAchievable(q, s, replicas)) return;
  assert.deepEqual(repeatedOwnerWindows(ring, distinctWindowSize(q, s, replicas)), [], `Q=${q} S=${s} N=${replicas}`);
}

/** How often each claim method was used over every property run, printed for the report. */
interface MethodCounts {
  minimal: number;
  swapped: number;
  periodic: number;
  fresh: number;
  /** Moves beyond the minimal count, summed over the swapped (periodic, fresh) claims. */
  swappedExtra: number;
  periodicExtra: number;
  freshExtra: number;
  freshQ: number;
}
const stats = new Map<string, MethodCounts>();
after(() => {
  for (const [kind, s] of stats) {
    console.log(
      `[claim stats] ${kind}: minimal=${s.minimal} swapped=${s.swapped} (+${s.swappedExtra} moves) ` +
        `periodic=${s.periodic} (+${s.periodicExtra} moves) fresh=${s.fresh} (+${s.freshExtra} moves, Q total ${s.freshQ})`,
    );
  }
});

function record(kind: 'join' | 'leave', before: Ring, change: ClaimChange, minimalMoves: number): void {
  const s = stats.get(kind) ?? { minimal: 0, swapped: 0, periodic: 0, fresh: 0, swappedExtra: 0, periodicExtra: 0, freshExtra: 0, freshQ: 0 };
  stats.set(kind, s);
  s[change.method]++;
  const extra = ringTransfers(before, change.ring).length - minimalMoves;
  if (change.method === 'swapped') s.swappedExtra += extra;
  if (change.method === 'periodic') s.periodicExtra += extra;
  if (change.method === 'fresh') {
    s.freshExtra += extra;
    s.freshQ += before.partitionCount;
  }
}

const clusterArbitrary = fc.record({
  q: fc.constantFrom(8, 16, 32, 64, 128, 256),
  replicas: fc.integer({ min: 1, max: 4 }),
  ids: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 2, maxLength: 24 }),
});

test('claimJoin: balanced, distinct where achievable, deterministic, moves only what the joiner takes', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(clusterArbitrary, ({ q, replicas, ids }) => {
      const [joiner, ...founders] = ids as [string, ...string[]];
      const before = claimRing(founders, q, replicas);
      const change = claimJoinChange(before, joiner, replicas);
      const after = change.ring;
      const taken = ownedPartitionCounts(after).get(joiner) as number;
      record('join', before, change, taken);
      assert.deepEqual(after.members, [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      assertBalanced(after);
      assertDistinctWhereAchievable(after, replicas);
      assert.deepEqual(claimJoin(before, joiner, replicas), after, 'deterministic');
      const transfers = ringTransfers(before, after);
      const changed = after.owners.filter((owner, p) => owner !== before.owners[p]).length;
      assert.equal(transfers.length, changed);
      const share = q / ids.length;
      assert.ok(taken === Math.floor(share) || taken === Math.ceil(share), `joiner took ${taken}, share ${share}`);
      if (change.method === 'minimal') {
        // Exactly the joiner's share moves, and all of it comes from the others.
        assert.deepEqual(transfers.map((t) => t.to), new Array(taken).fill(joiner));
      }
    }),
    { seed, numRuns: 400 },
  );
});

test('claimLeave: balanced, distinct where achievable, deterministic, hands off the leaver’s partitions', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(clusterArbitrary, fc.nat(), ({ q, replicas, ids }, pick) => {
      const before = claimRing(ids, q, replicas);
      const leaver = before.members[pick % ids.length] as string;
      const change = claimLeaveChange(before, leaver, replicas);
      const after = change.ring;
      record('leave', before, change, ownedPartitionCounts(before).get(leaver) as number);
      assert.ok(!after.members.includes(leaver) && !after.owners.includes(leaver));
      assertBalanced(after);
      assertDistinctWhereAchievable(after, replicas);
      assert.deepEqual(claimLeave(before, leaver, replicas), after, 'deterministic');
      const transfers = ringTransfers(before, after);
      assert.equal(transfers.length, after.owners.filter((owner, p) => owner !== before.owners[p]).length);
      // Every leaver partition moves; any other move is a distinctness repair (a swap).
      const leaverMoves = transfers.filter((t) => t.from === leaver).length;
      assert.equal(leaverMoves, ownedPartitionCounts(before).get(leaver));
      if (change.method === 'minimal') assert.equal(transfers.length, leaverMoves);
    }),
    { seed, numRuns: 400 },
  );
});

test('a chain of joins and leaves stays balanced and distinct where achievable', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(
      clusterArbitrary,
      fc.array(fc.oneof(fc.constant<'join'>('join'), fc.constant<'leave'>('leave')), { minLength: 1, maxLength: 8 }),
      ({ q, replicas, ids }, steps) => {
        let ring = claimRing(ids.slice(0, 2), q, replicas);
        let next = 2;
        steps.forEach((step, i) => {
          if (step === 'join' && next < ids.length) {
            ring = claimJoinChange(ring, ids[next++] as string, replicas).ring;
          } else if (step === 'leave' && ring.members.length > 1) {
            ring = claimLeave(ring, ring.members[i % ring.members.length] as string, replicas);
          }
          assertBalanced(ring);
          assertDistinctWhereAchievable(ring, replicas);
        });
      },
    ),
    { seed, numRuns: 200 },
  );
});

test('a join into a round-robin ring takes evenly spaced partitions', () => {
  const before = claimRing(['a', 'b', 'c', 'd'], 16, 3);
  const after = claimJoin(before, 'e', 3);
  assert.equal(ownedPartitionCounts(after).get('e'), 3);
  assert.deepEqual(repeatedOwnerWindows(after, 3), []);
  assert.equal(ringTransfers(before, after).length, 3);
});

test('claimJoin and claimLeave refuse members that are already in, or not in, the ring', () => {
  const ring = claimRing(['a', 'b'], 8, 2);
  assert.throws(() => claimJoin(ring, 'a', 2), (e) => e instanceof RingError && e.code === 'duplicate-member');
  assert.throws(() => claimLeave(ring, 'z', 2), (e) => e instanceof RingError && e.code === 'invalid-member');
  assert.throws(() => claimLeave(claimRing(['a'], 8, 1), 'a', 1), (e) => e instanceof RingError && e.code === 'no-members');
  assert.throws(() => ringTransfers(ring, claimRing(['a', 'b'], 16, 2)), RangeError);
});
