import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { claimRing, ownedPartitionTarget } from '../../../src/core/claim.ts';
import { ownedPartitionCounts, type Ring } from '../../../src/core/ring.ts';
import {
  makeMemberTable,
  MembershipError,
  mergeMemberTables,
  type Member,
  type MemberStatus,
} from '../../../src/core/membership/member.ts';
import {
  foundCluster,
  isSettled,
  markTransferDone,
  mergeStates,
  servingRing,
  currentMembers,
  type ClusterState,
  type MembershipChange,
} from '../../../src/core/membership/state.ts';
import { decodeState, encodeState } from '../../../src/core/membership/codec.ts';
import { lostPartitions, replicasOf, replicaTransfers } from '../../../src/core/membership/transfers.ts';
import { planJoin, planLeave, planRemove, type PlanResult } from '../../../src/core/membership/plan.ts';
import { testSeed } from '../../support/seed.ts';

const ids = ['a', 'b', 'c', 'd', 'e'];
const statuses: MemberStatus[] = ['joining', 'valid', 'leaving', 'down', 'removed'];
const q = 16;
const replicas = 2;
// A few rings over the same ids, so equal ring versions often carry different rings.
const rings: Ring[] = [claimRing(['a', 'b'], q, replicas), claimRing(['a', 'b', 'c'], q, replicas), claimRing(ids, q, replicas)];

const memberArbitrary = fc.record({
  id: fc.constantFrom(...ids),
  address: fc.record({ host: fc.constantFrom('10.0.0.1', '10.0.0.2'), port: fc.constantFrom(7000, 7001) }),
  status: fc.constantFrom(...statuses),
  version: fc.integer({ min: 0, max: 3 }),
});

const stateArbitrary: fc.Arbitrary<ClusterState> = fc
  .record({
    members: fc.uniqueArray(memberArbitrary, { selector: (m) => m.id, maxLength: ids.length }),
    ringIndex: fc.nat({ max: rings.length - 1 }),
    ringVersion: fc.integer({ min: 1, max: 3 }),
    previousIndex: fc.option(fc.nat({ max: rings.length - 1 }), { nil: undefined }),
    doneFlags: fc.array(fc.boolean(), { maxLength: 40 }),
    member: fc.constantFrom(...ids),
  })
  .map(({ members, ringIndex, ringVersion, previousIndex, doneFlags, member }) => {
    const ring = rings[ringIndex] as Ring;
    let change: MembershipChange | undefined;
    if (previousIndex !== undefined) {
      const previousRing = rings[previousIndex] as Ring;
      const transfers = replicaTransfers(previousRing, ring, replicas).map((t, i) => ({ ...t, done: doneFlags[i] ?? false }));
      change = { kind: 'join', member, previousRing, transfers };
    }
    return { clusterName: 'shoal', clusterId: 'test', replicas, members: makeMemberTable(members), ring, ringVersion, change };
  });

test('mergeStates is commutative, associative and idempotent', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(stateArbitrary, stateArbitrary, stateArbitrary, (a, b, c) => {
      assert.deepEqual(mergeStates(a, b), mergeStates(b, a));
      assert.deepEqual(mergeStates(mergeStates(a, b), c), mergeStates(a, mergeStates(b, c)));
      assert.deepEqual(mergeStates(a, a), mergeStates(a, mergeStates(a, a)));
      assert.deepEqual(mergeStates(mergeStates(a, b), b), mergeStates(a, b));
    }),
    { seed, numRuns: 500 },
  );
});

test('mergeStates keeps the newer member entries and the higher ring version', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(stateArbitrary, stateArbitrary, (a, b) => {
      const merged = mergeStates(a, b);
      assert.equal(merged.ringVersion, Math.max(a.ringVersion, b.ringVersion));
      for (const entry of merged.members) {
        for (const side of [a, b]) {
          const other = side.members.find((m) => m.id === entry.id);
          if (other !== undefined) assert.ok(entry.version >= other.version);
        }
      }
      assert.deepEqual(merged.members.map((m) => m.id), [...new Set([...a.members, ...b.members].map((m) => m.id))].sort());
    }),
    { seed, numRuns: 300 },
  );
});

test('gossip converges: pairwise exchanges in any order leave every node with the same state', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(
      fc.array(stateArbitrary, { minLength: 2, maxLength: 6 }),
      fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 40 }),
      (initial, exchanges) => {
        const nodes = [...initial];
        const exchange = (i: number, j: number): void => {
          const merged = mergeStates(nodes[i] as ClusterState, nodes[j] as ClusterState);
          nodes[i] = merged;
          nodes[j] = merged;
        };
        for (const [i, j] of exchanges) exchange(i % nodes.length, j % nodes.length);
        // Random gossip reaches everyone eventually; a star exchange stands in for "eventually".
        for (let round = 0; round < 2; round++) for (let i = 1; i < nodes.length; i++) exchange(0, i);
        const everything = initial.reduce((acc, state) => mergeStates(acc, state));
        for (const node of nodes) assert.deepEqual(node, everything);
      },
    ),
    { seed, numRuns: 300 },
  );
});

test('member tables are sorted, reject duplicates and bad entries, and merge per id', () => {
  const entry = (id: string, status: MemberStatus, version: number): Member => ({
    id,
    address: { host: 'h', port: 1 },
    status,
    version,
  });
  assert.deepEqual(makeMemberTable([entry('b', 'valid', 1), entry('a', 'valid', 1)]).map((m) => m.id), ['a', 'b']);
  assert.throws(() => makeMemberTable([entry('a', 'valid', 1), entry('a', 'down', 2)]), MembershipError);
  assert.throws(() => makeMemberTable([entry('', 'valid', 1)]), MembershipError);
  assert.throws(() => makeMemberTable([{ ...entry('a', 'valid', 1), address: { host: 'h', port: 0 } }]), MembershipError);
  const merged = mergeMemberTables([entry('a', 'valid', 2)], [entry('a', 'down', 1), entry('b', 'joining', 1)]);
  assert.deepEqual(merged.map((m) => [m.id, m.status]), [['a', 'valid'], ['b', 'joining']]);
  // Equal versions: the later lifecycle stage wins, the same from both sides.
  const tie = mergeMemberTables([entry('a', 'valid', 3)], [entry('a', 'removed', 3)]);
  assert.equal(tie[0]?.status, 'removed');
});

test('states of different clusters do not merge', () => {
  const founder: Member = { id: 'a', address: { host: 'h', port: 1 }, status: 'valid', version: 1 };
  const one = foundCluster('one', [founder], q, 1);
  assert.throws(() => mergeStates(one, foundCluster('two', [founder], q, 1)), MembershipError);
  assert.throws(() => mergeStates(one, foundCluster('one', [founder], q * 2, 1)), MembershipError);
  // Same name, another founding (a node alone that has not joined): refused too.
  const alone = foundCluster('one', [{ ...founder, id: 'z' }], q, 1);
  assert.notEqual(alone.clusterId, one.clusterId);
  assert.throws(() => mergeStates(one, alone), MembershipError);
  assert.equal(foundCluster('one', [founder], q, 1).clusterId, one.clusterId, 'the same founding gives the same id on every node');
});

function threeNodeCluster(): ClusterState {
  return foundCluster(
    'shoal',
    ['a', 'b', 'c'].map((id, i) => ({ id, address: { host: '127.0.0.1', port: 7000 + i }, status: 'valid', version: 1 })),
    64,
    3,
  );
}

function accepted(result: PlanResult): Extract<PlanResult, { ok: true }> {
  assert.ok(result.ok, result.ok ? '' : result.reason);
  return result;
}

/** Marks every transfer done, as their senders will after streaming them. */
function settle(state: ClusterState): ClusterState {
  return (state.change?.transfers ?? []).reduce((acc, t) => markTransferDone(acc, t.partition, t.to), state);
}

test('planJoin adds a joining member that takes about Q/(S+1) partitions, all listed as transfers', () => {
  const state = threeNodeCluster();
  const plan = accepted(planJoin(state, { id: 'd', address: { host: '127.0.0.1', port: 7003 } }));
  assert.equal(plan.state.members.find((m) => m.id === 'd')?.status, 'joining');
  assert.equal(plan.state.ringVersion, state.ringVersion + 1);
  assert.deepEqual(plan.state.change?.transfers, plan.transfers);
  // d owns 16 ring positions; each one makes d a replica of N = 3 key partitions.
  assert.equal(plan.transfers.length, 48);
  for (const t of plan.transfers) {
    assert.equal(t.to, 'd');
    assert.ok(replicasOf(state.ring, t.partition, 3).includes(t.from));
    assert.ok(!replicasOf(plan.state.ring, t.partition, 3).includes(t.from), 'the replaced replica sends');
  }
  // Until every transfer is done, the old ring serves; then the new one, and d is valid.
  assert.equal(servingRing(plan.state), state.ring);
  const half = plan.transfers.slice(0, 24).reduce((acc, t) => markTransferDone(acc, t.partition, t.to), plan.state);
  assert.equal(servingRing(half), state.ring);
  assert.equal(currentMembers(half).find((m) => m.id === 'd')?.status, 'joining');
  const done = settle(plan.state);
  assert.ok(isSettled(done));
  assert.equal(servingRing(done), plan.state.ring);
  assert.deepEqual(currentMembers(done).find((m) => m.id === 'd'), { id: 'd', address: { host: '127.0.0.1', port: 7003 }, status: 'valid', version: 2 });
  // The senders are exactly the nodes that lose a replica.
  const senders = new Set(plan.transfers.map((t) => `${t.from}:${t.partition}`));
  const losers = ['a', 'b', 'c'].flatMap((id) => lostPartitions(state.ring, plan.state.ring, 3, id).map((p) => `${id}:${p}`));
  assert.deepEqual([...senders].sort(), losers.sort());
  const { floor, ceil } = ownedPartitionTarget(64, 4);
  for (const count of ownedPartitionCounts(plan.state.ring).values()) assert.ok(count >= floor && count <= ceil);
});

test('planLeave and planRemove hand the member’s partitions to the others', () => {
  const four = settle(accepted(planJoin(threeNodeCluster(), { id: 'd', address: { host: 'h', port: 1 } })).state);
  const five = settle(accepted(planJoin(four, { id: 'e', address: { host: 'h', port: 2 } })).state);
  const leave = accepted(planLeave(five, 'b'));
  assert.equal(leave.state.members.find((m) => m.id === 'b')?.status, 'leaving');
  // b sends every replica it held; other moves are the few swaps that keep windows distinct.
  const fromB = leave.transfers.filter((t) => t.from === 'b').map((t) => t.partition);
  assert.deepEqual(fromB, Array.from({ length: 64 }, (_, p) => p).filter((p) => replicasOf(five.ring, p, 3).includes('b')));
  assert.ok(!leave.state.ring.owners.includes('b'));
  const leftSettled = settle(leave.state);
  assert.equal(currentMembers(leftSettled).find((m) => m.id === 'b')?.status, 'removed');
  const remove = accepted(planRemove(five, 'c'));
  const removed = remove.state.members.find((m) => m.id === 'c');
  assert.equal(removed?.status, 'removed');
  assert.equal(removed?.version, 2);
  assert.ok(!remove.state.ring.members.includes('c'));
  // The dead member never sends: surviving replicas do.
  assert.ok(remove.transfers.length > 0 && remove.transfers.every((t) => t.from !== 'c' && replicasOf(five.ring, t.partition, 3).includes(t.from)));
});

test('a cluster smaller than N grows its replica sets as members join', () => {
  const one = foundCluster('shoal', [{ id: 'a', address: { host: 'h', port: 1 }, status: 'valid', version: 1 }], 16, 3);
  const two = accepted(planJoin(one, { id: 'b', address: { host: 'h', port: 2 } }));
  // Every partition gains b as a replica, copied from a.
  assert.equal(two.transfers.length, 16);
  assert.ok(two.transfers.every((t) => t.from === 'a' && t.to === 'b'));
  const three = accepted(planJoin(settle(two.state), { id: 'c', address: { host: 'h', port: 3 } }));
  assert.equal(three.transfers.length, 16);
  assert.ok(three.transfers.every((t) => t.to === 'c'));
});

test('merging progress of one change ORs its done flags', () => {
  const plan = accepted(planJoin(threeNodeCluster(), { id: 'd', address: { host: 'h', port: 1 } }));
  const [first, second] = plan.transfers;
  assert.ok(first !== undefined && second !== undefined);
  const one = markTransferDone(plan.state, first.partition, first.to);
  const other = markTransferDone(plan.state, second.partition, second.to);
  const merged = mergeStates(one, other);
  assert.equal(merged.change?.transfers.filter((t) => t.done).length, 2);
  assert.equal(markTransferDone(one, first.partition, first.to), one);
});

test('plans are refused with a reason: unknown id, too few members, pending transfers, duplicate join', () => {
  const state = threeNodeCluster();
  const refusal = (result: PlanResult): string => (result.ok ? 'accepted' : result.code);
  assert.equal(refusal(planLeave(state, 'zz')), 'unknown-member');
  assert.equal(refusal(planRemove(state, 'zz')), 'unknown-member');
  assert.equal(refusal(planLeave(state, 'a')), 'too-few-members');
  assert.equal(refusal(planRemove(state, 'a')), 'too-few-members');
  assert.equal(refusal(planJoin(state, { id: 'b', address: { host: 'h', port: 1 } })), 'already-member');
  const joined = accepted(planJoin(state, { id: 'd', address: { host: 'h', port: 1 } })).state;
  assert.equal(refusal(planJoin(joined, { id: 'e', address: { host: 'h', port: 2 } })), 'transfers-pending');
  assert.equal(refusal(planLeave(joined, 'a')), 'transfers-pending');
  const four = settle(joined);
  const left = settle(accepted(planLeave(four, 'd')).state);
  assert.equal(refusal(planLeave(left, 'd')), 'not-valid');
  // A removed id stays a tombstone: rejoining needs a new id.
  assert.equal(refusal(planJoin(left, { id: 'd', address: { host: 'h', port: 1 } })), 'already-member');
  const failed = planLeave(state, 'a');
  assert.ok(!failed.ok && /fewer than N=3/.test(failed.reason));
});

test('plans are deterministic', () => {
  const state = threeNodeCluster();
  const member = { id: 'd', address: { host: 'h', port: 1 } };
  assert.deepEqual(planJoin(state, member), planJoin(state, member));
});

test('states survive the wire form, and malformed ones are refused with a reason', () => {
  const plan = accepted(planJoin(threeNodeCluster(), { id: 'd', address: { host: '127.0.0.1', port: 7003 } }));
  const progressed = markTransferDone(plan.state, plan.transfers[0]?.partition ?? 0, 'd');
  for (const state of [threeNodeCluster(), progressed]) {
    const wire = JSON.parse(JSON.stringify(encodeState(state))) as unknown;
    assert.deepEqual(decodeState(wire), state);
  }
  const good = encodeState(progressed);
  const bad: unknown[] = [
    null,
    [],
    { ...good, replicas: 0 },
    { ...good, ringVersion: -1 },
    { ...good, clusterName: '' },
    { ...good, ring: { members: ['a'], owners: ['zz'] } },
    { ...good, members: [{ id: 'a', host: 'h', port: 70000, status: 'valid', version: 1 }] },
    { ...good, members: [{ id: 'a', host: 'h', port: 1, status: 'sleeping', version: 1 }] },
    { ...good, change: { ...good.change, kind: 'merge' } },
    { ...good, change: { ...good.change, transfers: [[999, 'a', 'd', false]] } },
    { ...good, change: { ...good.change, transfers: [[1, 'zz', 'd', false]] } },
    { ...good, change: { ...good.change, previousRing: { members: ['a'], owners: ['a', 'a'] } } },
  ];
  for (const input of bad) {
    assert.throws(() => decodeState(input), (error: unknown) => error instanceof MembershipError && error.code === 'invalid-state', JSON.stringify(input));
  }
});
