/**
 * The simulator in the test suite: many seeds of the real node (SHOAL_SIM_SEEDS, default
 * 300, from base seed SHOAL_SEED, default random and printed), the stand-in node with
 * each planted flaw caught, and determinism (one seed, one trace).
 *
 * Availability (issue 15) is enforced over the whole run rather than per request: at least
 * AVAILABILITY_MIN of the requests that could have succeeded (availability.ts) did. Per
 * request (`npm run sim -- --strict-availability`) a handful of the ~10,000 judged in 300
 * seeds still fail: a quorum whose every hedge went to a peer that was cut off too.
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { formatFailure, replayCommand } from '../../src/sim/main.ts';
import { addCounts, emptyCounts, successShare } from '../../src/sim/availability.ts';
import { runSeed, type SeedResult } from '../../src/sim/swarm.ts';
import { planSwarm, type SwarmPlan } from '../../src/sim/swarmPlan.ts';
import { openStandIn, type StandInFlaw } from './standInNode.ts';

const SEEDS_DEFAULT = 300;
/** The paper's availability bar as issue 15 sets it for the simulator: 99.9% of the requests that could succeed. */
const AVAILABILITY_MIN = 0.999;
/** Failures printed in full (the rest by seed only). */
const FAILURES_SHOWN_MAX = 3;

function envInteger(name: string, fallback: () => number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback();
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  return value;
}

describe('swarm: the real node', () => {
  const count = envInteger('SHOAL_SIM_SEEDS', () => SEEDS_DEFAULT);
  const base = envInteger('SHOAL_SEED', () => randomInt(0, 2 ** 32));
  it(`keeps every invariant over ${count} seeds`, async () => {
    console.log(`[seed] sim swarm: base seed ${base}, ${count} seeds; replay all: SHOAL_SEED=${base} SHOAL_SIM_SEEDS=${count} node --import tsx --test test/sim/swarm.test.ts  (or: npm run sim -- --seeds ${count} --base ${base})`);
    const failures: SeedResult[] = [];
    let availability = emptyCounts();
    let listingKeysJudged = 0;
    for (let seed = base; seed < base + count; seed++) {
      const result = await runSeed(seed);
      if (!result.ok) failures.push(result);
      availability = addCounts(availability, result.availability);
      listingKeysJudged += result.listings.stableKeysJudged;
    }
    const shown = failures.slice(0, FAILURES_SHOWN_MAX).map((failure) => formatFailure(failure));
    assert.equal(
      failures.length,
      0,
      `${failures.length} of ${count} seeds failed: ${failures.map((f) => f.seed).join(' ')}\n\n${shown.join('\n\n')}\n\nreplay one: ${replayCommand(failures[0]?.seed ?? base)}`,
    );
    const share = successShare(availability);
    assert.ok(
      share >= AVAILABILITY_MIN,
      `only ${share} of ${availability.eligible} requests that could have succeeded did (${availability.failed} failed; by code ${JSON.stringify(availability.failedByCode)}); ` +
        `list them: npm run sim -- --seeds ${count} --base ${base} --strict-availability`,
    );
    // The listing checks (sim/lister.ts) held complete listings to keys that had to appear.
    assert.ok(listingKeysJudged > 0, `no complete listing was held to any key in ${count} seeds`);
  });
});

describe('swarm: the simulator proves itself on a stand-in node', () => {
  const seeds = Array.from({ length: 20 }, (_, i) => 7000 + i);

  it('a correct stand-in passes every seed', async () => {
    for (const seed of seeds) {
      const result = await runSeed(seed, { openNode: openStandIn('none') });
      assert.ok(result.ok, formatFailure(result));
      assert.ok(result.ops.ok > 0, `seed ${seed} ran no successful operation`);
    }
  });

  const caught: [StandInFlaw, RegExp][] = [
    ['overwrite', /^(lost-write|dot-conflict)$/],
    ['phantom', /^phantom$/],
    ['no-repair', /^not-converged$/],
    ['forget-deletes', /^resurrected$/],
  ];
  for (const [flaw, kind] of caught) {
    it(`catches a node that has the flaw "${flaw}"`, async () => {
      const kinds = new Set<string>();
      for (const seed of seeds) {
        const result = await runSeed(seed, { openNode: openStandIn(flaw) });
        for (const violation of result.violations) kinds.add(violation.kind);
      }
      assert.ok([...kinds].some((k) => kind.test(k)), `no ${kind} violation in ${seeds.length} seeds; saw ${[...kinds].join(', ') || 'none'}`);
    });
  }

  it('fails a run that reads the wall clock', async () => {
    const result = await runSeed(seeds[0] as number, { openNode: openStandIn('wall-clock') });
    assert.equal(result.ok, false);
    assert.match(result.error ?? '', /used Date\.now/);
  });

  it('crash-restarts every node in turn, and a node that writes durably loses nothing', async () => {
    const result = await runSeed(seeds[1] as number, { openNode: openStandIn('none'), adjustPlan: withManyCrashes });
    assert.ok(result.ok, formatFailure(result));
    assert.ok(result.crashes >= 3, `expected crashes, got ${result.crashes}`);
    assert.equal(result.bufferLosses, 0);
  });
});

/** The plan with a crash of every node, one after another. */
function withManyCrashes(plan: SwarmPlan): SwarmPlan {
  const crashes = plan.nodes.map((node, i) => ({ node, atMs: 300 + i * 400, downMs: 250 }));
  return { ...plan, crashes };
}

describe('swarm: determinism', () => {
  it('gives the same trace for the same seed, and another for another seed (real node)', async () => {
    const first = await runSeed(4242);
    const second = await runSeed(4242);
    const other = await runSeed(4243);
    assert.equal(first.traceHash, second.traceHash);
    assert.equal(first.events, second.events);
    assert.deepEqual(first.ops, second.ops);
    assert.notEqual(first.traceHash, other.traceHash);
  });

  it('replays a seed with a paused node and a slow peer exactly, availability tallies included', async () => {
    let seed = 4242;
    while (planSwarm(seed).pauses.length === 0 || planSwarm(seed).slowPeers.length === 0) seed++;
    const first = await runSeed(seed);
    const second = await runSeed(seed);
    assert.equal(first.traceHash, second.traceHash, `seed ${seed}`);
    assert.deepEqual(first.availability, second.availability);
    assert.ok(first.availability.requests > 0);
  });

  it('gives the same trace whether or not it prints it', async () => {
    const lines: string[] = [];
    const quiet = await runSeed(99, { openNode: openStandIn('none') });
    const verbose = await runSeed(99, { openNode: openStandIn('none'), print: (line) => lines.push(line) });
    assert.equal(quiet.traceHash, verbose.traceHash);
    assert.ok(lines.length >= quiet.events, 'every event is printed');
    assert.match(lines[0] ?? '', /seed 99: S=\d/);
  });
});
