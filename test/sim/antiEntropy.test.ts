/**
 * The simulator with anti-entropy: it runs in every seed, it is what converges the replicas
 * after healing (no read repair before the convergence check), tombstones are reaped while
 * the run goes on, and the real node with anti-entropy turned off fails the convergence
 * invariant (a checker that cannot fail proves nothing). Also the seeds that found node
 * bugs while anti-entropy came in (kept as regression seeds).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatFailure } from '../../src/sim/main.ts';
import { runSeed, type SeedResult } from '../../src/sim/swarm.ts';
import { ANTI_ENTROPY_INTERVAL_MS, withoutGrayFailures, type SwarmPlan } from '../../src/sim/swarmPlan.ts';

const SEEDS = Array.from({ length: 10 }, (_, i) => 880_000 + i);

const withoutAntiEntropy = (plan: SwarmPlan): SwarmPlan => ({ ...plan, settings: { ...plan.settings, antiEntropyIntervalMs: 0 } });

describe('sim: anti-entropy in every seed', () => {
  it('plans anti-entropy in every seed, reaps tombstones in most, and repairs and reaps during the runs', async () => {
    const results: SeedResult[] = [];
    for (const seed of SEEDS) {
      const result = await runSeed(seed);
      assert.ok(result.ok, formatFailure(result));
      const { antiEntropyIntervalMs } = result.plan.settings;
      assert.ok(antiEntropyIntervalMs >= ANTI_ENTROPY_INTERVAL_MS[0] && antiEntropyIntervalMs <= ANTI_ENTROPY_INTERVAL_MS[1], `seed ${seed}: interval ${antiEntropyIntervalMs}`);
      assert.ok(result.repairs.exchanges > 0, `seed ${seed} made no anti-entropy exchange`);
      assert.ok(result.convergedAfterMs !== undefined && result.convergenceBudgetMs !== undefined && result.convergedAfterMs <= result.convergenceBudgetMs);
      results.push(result);
    }
    assert.ok(results.some((r) => r.repairs.keysRepaired > 0), 'anti-entropy repaired no key in any seed');
    assert.ok(results.some((r) => r.repairs.tombstonesReaped > 0), 'no seed reaped a tombstone');
  });

  it('fails the convergence invariant when the real node runs without anti-entropy', async () => {
    const kinds = new Set<string>();
    for (const seed of SEEDS) {
      const result = await runSeed(seed, { adjustPlan: withoutAntiEntropy });
      assert.equal(result.repairs.exchanges, 0);
      for (const violation of result.violations) kinds.add(violation.kind);
      if (kinds.has('not-converged')) break;
    }
    assert.ok(kinds.has('not-converged'), `no not-converged in ${SEEDS.length} seeds without anti-entropy; saw ${[...kinds].join(', ') || 'none'}`);
  });
});

/**
 * Seeds that found a node bug outside anti-entropy once the simulator ran anti-entropy in
 * every seed: a partition transfer paced by the admission controller counted a 10 s timeout
 * of one batch as work and then paused about 19 times as long (share 0.05), so a membership
 * change stalled past the liveness phase (hints-left, membership-diverged, not-converged).
 * Fixed in 68c712f (transferSender.ts paces on the batch read only). Each fails when that
 * fix is undone (checked with the node as of a9ea45a); any change to the node or to
 * swarmPlan.ts reshuffles runs, so when undoing it on purpose expect to need
 * `npm run sim -- --seeds 1000` to see it fail again. They run without the gray failures
 * that came later (withoutGrayFailures), as they ran when they were found.
 */
const NODE_FIX_SEEDS: readonly (readonly [seed: number, found: string])[] = [
  [2000031, 'a transfer batch timed out once (10 s); the pause after it stalled the membership change (membership-diverged)'],
  [16, 'the same, stalling the remove of a crashed member (hints-left, not-converged)'],
  [1028, 'the same, stalling a leave'],
  [5000413, 'a put at W = 3 acknowledged while only 2 nodes held it: a leaving replica (drop delay 0) acknowledged the write as it handed the partition over and dropped its copy before the ack reached the coordinator (under-replicated-ack); fixed: partitionDrop.ts waits at least twice the request timeout'],
];

/** Seeds that made the simulator itself wrong (a false alarm): they must pass. */
const SIMULATOR_SEEDS: readonly (readonly [seed: number, found: string])[] = [
  [5000153, 'the final snapshot caught a reaping round halfway (peers held the marker, the initiator still the tombstone): divergence'],
  [300397, 'the hint audit: a departed owner’s hint went to a replica that streamed the partition to a joiner, which kept it as a hint for the joiner (hint-dropped)'],
];

describe('sim: anti-entropy regression seeds', () => {
  for (const [seed, found] of [...NODE_FIX_SEEDS, ...SIMULATOR_SEEDS]) {
    it(`seed ${seed}: ${found}`, async () => {
      const result = await runSeed(seed, { adjustPlan: withoutGrayFailures });
      assert.ok(result.ok, formatFailure(result));
    });
  }
});
