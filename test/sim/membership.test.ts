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
import { withoutGrayFailures, type MembershipAction, type SwarmPlan } from '../../src/sim/swarmPlan.ts';

/** A calm four-node plan with slow transfers (one object per batch, paused) and these changes. */
function withChanges(actions: readonly MembershipAction[], spares: readonly string[]): (plan: SwarmPlan) => SwarmPlan {
  return (plan) => ({
    ...withoutGrayFailures(plan),
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
 * Seeds that fail when one of the node fixes the simulator led to is undone (checked with
 * the node as of commit a7630b9; the first seed that found each bug is in parentheses when
 * it no longer reproduces it: any change to the node or to swarmPlan.ts reshuffles runs,
 * so when a fix is undone on purpose, expect to need `npm run sim -- --seeds 1000` to see
 * it fail again). Every seed must still plan membership changes. They run without the gray
 * failures that came later (withoutGrayFailures), as they ran when they were found.
 */
const NODE_FIX_SEEDS: readonly (readonly [seed: number, found: string])[] = [
  [1606439709, 'a removed node that still answered as a seed planned a join nobody else would merge (membershipService.ts change(): not-a-member)'],
  [20077, 'a join applied by the seed whose answer was lost or overtaken by a duplicate’s refusal: the joiner never adopted the cluster (membershipService.ts gossip; first seed 3)'],
  [1342, 'a joiner whose join lost a race with another planner could not ask again (membershipService.ts join; first seed 1150)'],
  [20172, 'one of the two above'],
  [20001, 'hints for removed members stayed forever (hintedHandoff.ts: they go to the current replicas; first seed 22)'],
  [40, 'a hint naming a just-removed member refused as a malformed message (replicaService.ts: UNKNOWN_MEMBER)'],
  [20113, 'a node reissued a dot after dropping a handed-over partition (openNode.ts/partitionDrop.ts: a new actor first; first seed 5069)'],
  [40455, 'member entries of a change that lost a race (a node marked removed but still owning partitions) blocked the winner (state.ts currentMembers; first seed 5026)'],
  [40430, 'a joiner coordinating alone wrote only into a partition nobody reads (targets.ts; first seed 20278, where an acknowledged write was lost)'],
  [301441, 'a hint handed back to a node that was down while a change made it a replica again was passed on by its stale view, never kept (replicaService.ts: keep)'],
  [300482, 'a former replica acknowledged a stale coordinator’s write as one of W copies but kept none (replicaService.ts: keep)'],
  [9000597, 'a hint delivered after its partition had moved on twice stayed in a store nobody reads: an acknowledged write lost (replica/nodeReplica.ts: handed on to the current replicas)'],
  [3694132910, 'a forged state marking a join’s transfers done made the old replicas drop copies the joiner never got (partitionDrop.ts: new replicas confirm holding first; first seed of the forgery nemesis)'],
  [3694133287, 'the same, another seed'],
];

/** Seeds that made the simulator itself wrong (a false alarm, an operator stuck): they must pass. */
const SIMULATOR_SEEDS: readonly (readonly [seed: number, found: string])[] = [
  [1007, 'the hint audit: an owner passes a hint on to the partition’s new replica'],
  [20174, 'the operator: a join whose node is then crashed for good and removed'],
  [2433529726, 'the operator: a join whose node then leaves'],
  [901191, 'the removal-loss excuse: the only durable copy was on a node removed right after a hint for it was acknowledged'],
  [1201707, 'the drop audit: a receiver that handed the partition on to a later change’s replica'],
  [1201483, 'the drop audit: writes that reach a leaver after it handed the partition over are judged elsewhere'],
  [1200792, 'the same, another way'],
  [3000545, 'the drop audit: a value written for fewer than N replicas, coordinated by a stand-in that was handing the partition over'],
  [1102247598, 'the drop audit: a leaver coordinating a stale view’s request keeps the write as a hint for another replica'],
  [1501202, 'the redundancy audit: a superseded put whose actor was pruned from the vector'],
  [5001612, 'the hint audit: the owner’s copy pruned an actor (vectorEntriesMax) that the delivered hint still lists'],
  [436518499, 'the operator: a forced remove settled in one view lost the merge to a leave of the same ring version; judged only on a state every live member holds (also seed 1606439967); the agreed view counts leaving members too'],
];

/** Seeds found with gray failures in their plans (issue 15): they replay with them. */
const GRAY_FAILURE_SEEDS: readonly (readonly [seed: number, found: string])[] = [
  [3, 'a node paused and cut off, back on its stale ring, took a W = 1 write into a partition an earlier change took from it; no transfer or anti-entropy had it: the drop hands stranded partitions over too (partitionDrop.ts strandedToo)'],
  [7150, 'a hedged target that answered late and its stand-in both counted towards W = 3; once the hint went home two nodes held the write (core/quorum: a stand-in fills the place of the replica it stands in for)'],
  [201112, 'a failed-over write applied twice: the copy a paused primary coordinated on waking came back beside the write that superseded the other copy, its id forgotten among 16 (core/object.ts: superseded write ids, 60 s and 64 at most)'],
  [202161, 'the same, on another hot key'],
  [201165, 'a leaver whose leave a forged state settled held a W = 1 write no one else had; the next change’s replicas held the partition, so the drop took that for confirmation and deleted it: a stranded partition is confirmed only by a replica this node streamed its copy to (partitionDrop.ts)'],
];

describe('sim: membership regression seeds', () => {
  for (const [seed, found] of [...NODE_FIX_SEEDS, ...SIMULATOR_SEEDS]) {
    it(`seed ${seed}: ${found}`, async () => {
      const result = await runSeed(seed, { adjustPlan: withoutGrayFailures });
      assert.ok(result.plan.membership.actions.length > 0, `seed ${seed} plans no membership change any more`);
      assert.ok(result.ok, formatFailure(result));
    });
  }
  for (const [seed, found] of GRAY_FAILURE_SEEDS) {
    it(`seed ${seed} (gray failures): ${found}`, async () => {
      const result = await runSeed(seed);
      const { pauses, slowPeers, grayOneWay } = result.plan;
      assert.ok(pauses.length + slowPeers.length + grayOneWay > 0, `seed ${seed} plans no gray failure any more`);
      assert.ok(result.ok, formatFailure(result));
    });
  }
});
