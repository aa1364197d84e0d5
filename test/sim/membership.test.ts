/**
 * The simulator with membership changes: forced plans that join, leave and remove while
 * clients run (one crashing a transfer sender halfway, so the transfer resumes from its
 * saved cursor), a leave the core must refuse, and the seeds that found bugs in the node
 * (kept as regression seeds).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatFailure } from '../../src/sim/main.ts';
import { runSeed } from '../../src/sim/swarm.ts';
import type { MembershipAction, SwarmPlan } from '../../src/sim/swarmPlan.ts';

/** A calm four-node plan with slow transfers (one object per batch, paused) and these changes. */
function withChanges(actions: readonly MembershipAction[], spares: readonly string[]): (plan: SwarmPlan) => SwarmPlan {
  return (plan) => ({
    ...plan,
    nodes: ['n1', 'n2', 'n3', 'n4'],
    settings: { ...plan.settings, r: 2, w: 2, transferBatchObjectsMax: 1, transferPauseMs: 60, transferConcurrency: 1, dropDelayMs: 100, gossipIntervalMs: 200 },
    faults: { delayMinMs: 0.5, delayMaxMs: 3, dropRate: 0, duplicateRate: 0, refusedRate: 1 },
    partitions: [],
    crashes: [],
    membership: { spares, actions },
    workload: { ...plan.workload, keys: Array.from({ length: 64 }, (_, i) => `k${i}`), quorum: { n: 3, r: 2, w: 2 }, quorumOverrideRate: 0 },
    safetyMs: 6000,
  });
}

describe('sim: membership changes', () => {
  it('a spare joins, a member leaves, a dead member is removed, while clients run; a crashed sender resumes its transfer', async () => {
    const lines: string[] = [];
    const actions: MembershipAction[] = [
      { kind: 'join', atMs: 300, node: 'n5', startMs: 100, crash: { afterMs: 150, downMs: 200, target: 'sender' } },
      { kind: 'leave', atMs: 2500, node: 'n2', crash: undefined },
      { kind: 'remove', atMs: 4200, node: 'n3', detectMs: 200, force: true, crash: undefined },
    ];
    const result = await runSeed(31, { adjustPlan: withChanges(actions, ['n5']), print: (line) => lines.push(line) });
    assert.ok(result.ok, formatFailure(result));
    assert.deepEqual({ ...result.changes }, { joins: 1, leaves: 1, removes: 1, refusals: result.changes.refusals, abandoned: 0, changeCrashes: 1 });
    assert.ok(result.ackedWrites > 0);
    assert.ok(lines.some((line) => /resuming a partition transfer from its saved cursor/.test(line)), 'the restarted sender resumed from its cursor');
    assert.ok(lines.some((line) => /n5\/1 .*node opened .*"members":\["n5"\]/.test(line)), 'the spare opened alone');
  });

  it('a leave that would leave fewer than N members is refused, and the run stays correct', async () => {
    const actions: MembershipAction[] = [{ kind: 'leave', atMs: 500, node: 'n1', crash: undefined }];
    const three = (plan: SwarmPlan): SwarmPlan => ({ ...withChanges(actions, [])(plan), nodes: ['n1', 'n2', 'n3'] });
    const result = await runSeed(32, { adjustPlan: three });
    assert.ok(result.ok, formatFailure(result));
    assert.equal(result.changes.leaves, 0);
    assert.ok(result.changes.refusals >= 1);
  });
});

/**
 * Seeds whose runs found bugs (each fixed; the comment says where). They stay here so the
 * bugs stay fixed; each seed must still plan membership changes, or it no longer tests
 * what it was kept for (a change to swarmPlan.ts would reshuffle them: find new ones).
 */
const REGRESSION_SEEDS: readonly (readonly [seed: number, found: string])[] = [
  [3, 'a join applied by the seed whose answer was overtaken by the refusal of a duplicate request: the joiner never adopted the cluster (membershipService.ts gossip)'],
  [22, 'hints for removed members stayed forever (hintedHandoff.ts: they go to the current replicas)'],
  [40, 'a hint naming a just-removed member refused as a malformed message (replicaService.ts: UNKNOWN_MEMBER)'],
  [1150, 'a joiner whose join lost a race could not ask again (membershipService.ts join)'],
  [1342, 'the same, another way'],
  [5026, 'member entries of a change that lost a race (a node marked removed but still owning partitions) blocked the winner (state.ts currentMembers)'],
  [5069, 'a node reissued a dot after dropping a handed-over partition (openNode.ts/partitionDrop.ts: a new actor first)'],
  [20278, 'a joiner coordinating alone wrote only into a partition nobody reads: an acknowledged write lost (targets.ts)'],
  [301441, 'a hint handed back to a node that was down while a change made it a replica again was passed on by its stale view, never kept (replicaService.ts: keep)'],
  [300141, 'the same, another way'],
  [300482, 'a former replica acknowledged a stale coordinator’s write as one of W copies but kept none (replicaService.ts: keep)'],
  [1007, 'the hint audit: an owner passes a hint on to the partition’s new replica'],
  [20174, 'the operator: a join whose node is then crashed for good and removed'],
  [901191, 'the removal-loss excuse: the only durable copy was on a node removed right after a hint for it was acknowledged'],
  [2433529726, 'the operator: a join whose node then leaves'],
  [1102247598, 'the drop audit: a leaver coordinating a stale view’s request keeps the write as a hint for another replica'],
];

describe('sim: membership regression seeds', () => {
  for (const [seed, found] of REGRESSION_SEEDS) {
    it(`seed ${seed}: ${found}`, async () => {
      const result = await runSeed(seed);
      assert.ok(result.plan.membership.actions.length > 0, `seed ${seed} plans no membership change any more`);
      assert.ok(result.ok, formatFailure(result));
    });
  }
});
