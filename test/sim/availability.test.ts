/**
 * The reachability timeline (reachability.ts) and the availability judge built on it
 * (availability.ts), on hand-made timelines and histories; and the checker's
 * `unavailable`, enforced only when strict.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AFTER_HEAL_MS, judgeAvailability, networkCondition, recoveryGraceMs, type AvailabilityInput } from '../../src/sim/availability.ts';
import { checkRun, type FinalState } from '../../src/sim/checker.ts';
import { History, type OpRecord } from '../../src/sim/history.ts';
import { ReachabilityTimeline, type LifeEvent, type SlowWindow } from '../../src/sim/reachability.ts';
import type { PartitionWindow } from '../../src/sim/swarmPlan.ts';

const NODES = ['n1', 'n2', 'n3'];
const started: LifeEvent[] = NODES.map((node) => ({ node, atMs: 0, event: 'serving' }));

function timeline(partitions: PartitionWindow[] = [], life: LifeEvent[] = [], slowPeers: SlowWindow[] = []): ReachabilityTimeline {
  return new ReachabilityTimeline({ partitions, slowPeers, life: [...started, ...life] });
}

describe('reachability timeline', () => {
  it('a split cuts both ways between its sides, for its window only', () => {
    const t = timeline([{ kind: 'split', startMs: 100, endMs: 200, sides: [['n1'], ['n2', 'n3']] }]);
    assert.deepEqual(t.reachableFrom('n1', NODES, 150, 160), ['n1']);
    assert.deepEqual(t.reachableFrom('n2', NODES, 150, 160), ['n2', 'n3']);
    assert.deepEqual(t.reachableFrom('n1', NODES, 201, 300), NODES);
    assert.deepEqual(t.reachableFrom('n1', NODES, 0, 100), ['n1'], 'closed intervals: touching the window counts');
  });

  it('a one-way window from a to b breaks the pair both ways round (no round trip either way), and no other pair', () => {
    const t = timeline([{ kind: 'one-way', startMs: 100, endMs: 200, from: 'n1', to: ['n2'] }]);
    assert.equal(t.linkedThroughout('n1', 'n2', 150, 150), false);
    assert.equal(t.linkedThroughout('n2', 'n1', 150, 150), false);
    assert.equal(t.linkedThroughout('n1', 'n3', 150, 150), true);
    assert.equal(t.linkedThroughout('n2', 'n3', 150, 150), true);
  });

  it('a node is unreachable from its crash until its next incarnation serves, and while paused', () => {
    const t = timeline([], [
      { node: 'n2', atMs: 100, event: 'crash' },
      { node: 'n2', atMs: 400, event: 'serving' },
      { node: 'n3', atMs: 500, event: 'pause' },
      { node: 'n3', atMs: 900, event: 'resume' },
    ]);
    assert.deepEqual(t.reachableFrom('n1', NODES, 50, 99), NODES);
    assert.deepEqual(t.reachableFrom('n1', NODES, 50, 150), ['n1', 'n3']);
    assert.deepEqual(t.reachableFrom('n1', NODES, 400, 450), NODES);
    assert.deepEqual(t.reachableFrom('n1', NODES, 450, 600), ['n1', 'n2']);
    assert.equal(t.servedThroughout('n3', 450, 600), true, 'a paused node still serves: it is only frozen');
    assert.equal(t.servedThroughout('n2', 50, 100), false, 'a crash at the very end counts against it');
    assert.equal(t.pausedWithin('n3', 900, 1000), true);
    assert.equal(t.pausedWithin('n3', 901, 1000), false);
  });

  it('a crash while paused ends the pause; a node that never started never answers', () => {
    const t = timeline([], [
      { node: 'n3', atMs: 100, event: 'pause' },
      { node: 'n3', atMs: 200, event: 'crash' },
      { node: 'n3', atMs: 300, event: 'serving' },
    ]);
    assert.equal(t.pausedWithin('n3', 250, 260), false);
    assert.equal(t.answersThroughout('n3', 300, 400), true);
    assert.equal(t.answersThroughout('n9', 0, 1), false);
    assert.deepEqual([...t.classesDuring(150, 250)].sort(), ['crash', 'pause']);
  });

  it('classes faults during an interval and those that ended within one; a slow peer still answers', () => {
    const t = timeline([{ kind: 'one-way', startMs: 100, endMs: 200, from: 'n1', to: ['n2'] }], [], [{ node: 'n3', startMs: 300, endMs: 400 }]);
    assert.deepEqual([...t.classesDuring(150, 160)], ['one-way']);
    assert.deepEqual([...t.classesDuring(350, 360)], ['slow']);
    assert.deepEqual(t.reachableFrom('n1', NODES, 350, 360), NODES);
    assert.deepEqual([...t.classesEndedWithin(201, 500)], ['slow']);
    assert.deepEqual([...t.classesEndedWithin(150, 500)].sort(), ['one-way', 'slow']);
    assert.equal(t.classesDuring(500, 600).size, 0);
  });
});

const QUORUM = { n: 3, r: 2, w: 2 };
const GRACE_MS = 300;

interface Request {
  readonly node?: string;
  readonly op?: 'get' | 'put';
  readonly startMs: number;
  readonly endMs: number;
  readonly outcome: 'ok' | 'failed' | 'timeout';
  readonly error?: string;
  readonly members?: readonly string[];
  readonly w?: number;
}

function records(requests: readonly Request[]): OpRecord[] {
  const history = new History();
  for (const request of requests) {
    const op = request.op ?? 'put';
    const quorum = request.w === undefined ? QUORUM : { ...QUORUM, w: request.w };
    const record = history.begin({ client: 'c1', op, key: 'k', node: request.node ?? 'n1', startMs: request.startMs, quorum, valueId: op === 'put' ? `c1-w${history.records.length + 1}` : undefined });
    record.entryMembers = request.members ?? NODES;
    if (request.outcome === 'ok') history.succeeded(record, request.endMs, undefined);
    else if (request.outcome === 'failed') history.failed(record, request.endMs, request.error ?? 'QUORUM_UNREACHABLE');
    else history.timedOut(record, request.endMs);
  }
  return history.records;
}

function input(requests: readonly Request[], t: ReachabilityTimeline, overrides: Partial<AvailabilityInput> = {}): AvailabilityInput {
  return { records: records(requests), timeline: t, recoveryGraceMs: GRACE_MS, changes: [], changeSpreadMs: 0, network: 'calm', ...overrides };
}

describe('availability', () => {
  it('takes a grace of a probe round and a request timeout (and a round trip) to recover', () => {
    assert.equal(recoveryGraceMs({ probeIntervalMs: 200, requestTimeoutMs: 300 }, 5), 1.5 * 200 + 300 + 10);
  });

  it('judges a request with W members reachable from its entry throughout, grace included, and counts it by fault class', () => {
    const split: PartitionWindow = { kind: 'split', startMs: 1000, endMs: 2000, sides: [['n1', 'n2'], ['n3']] };
    const judged = judgeAvailability(
      input(
        [
          { startMs: 1500, endMs: 1510, outcome: 'ok' }, // n1 and n2 reachable: 2 >= W
          { startMs: 1600, endMs: 1610, outcome: 'failed' }, // likewise, but failed: unavailable
          { startMs: 1700, endMs: 1710, outcome: 'failed', node: 'n3' }, // n3 alone: 1 < W
          { startMs: 2100, endMs: 2110, outcome: 'ok', w: 3 }, // n3 back only 100 ms ago: within the grace
          { startMs: 2400, endMs: 2410, outcome: 'timeout', w: 3 }, // after the grace: all three count
          { startMs: 2000 + AFTER_HEAL_MS + 10, endMs: 2000 + AFTER_HEAL_MS + 20, outcome: 'ok', w: 3 },
        ],
        timeline([split]),
      ),
    );
    const { counts } = judged;
    assert.equal(counts.requests, 6);
    assert.equal(counts.eligible, 4);
    assert.equal(counts.failed, 2);
    assert.equal(counts.excluded['too-few-reachable'], 2);
    assert.deepEqual(counts.byClass.split.during, { eligible: 2, failed: 1 });
    assert.deepEqual(counts.byClass.split.afterHeal, { eligible: 1, failed: 1 });
    assert.deepEqual(counts.none, { eligible: 1, failed: 0 });
    assert.deepEqual(counts.failedByCode, { QUORUM_UNREACHABLE: 1, timeout: 1 });
    assert.deepEqual(
      judged.unavailable.map((u) => [u.record.index, u.needed, u.reachable]),
      [
        [1, 2, ['n1', 'n2']],
        [4, 3, NODES],
      ],
    );
  });

  it('counts R for a get, and only the members of the entry node ring', () => {
    const judged = judgeAvailability(
      input(
        [
          { op: 'get', startMs: 500, endMs: 510, outcome: 'failed', members: ['n1', 'n2'] },
          { op: 'get', startMs: 600, endMs: 610, outcome: 'failed', members: ['n1'] },
        ],
        timeline(),
      ),
    );
    assert.equal(judged.counts.eligible, 1);
    assert.equal(judged.counts.excluded['too-few-reachable'], 1);
  });

  it('does not judge requests whose entry was down or paused (within the grace), shed ones, or ones during a membership change', () => {
    const t = timeline([], [
      { node: 'n1', atMs: 1000, event: 'crash' },
      { node: 'n1', atMs: 1200, event: 'serving' },
      { node: 'n2', atMs: 3000, event: 'pause' },
      { node: 'n2', atMs: 3100, event: 'resume' },
    ]);
    const judged = judgeAvailability(
      input(
        [
          { startMs: 900, endMs: 1000, outcome: 'failed', error: 'NODE_UNAVAILABLE' }, // its entry crashed under it
          { startMs: 1201, endMs: 1210, outcome: 'ok', members: ['n1', 'n3'] }, // a fresh incarnation is judged
          { startMs: 3200, endMs: 3210, outcome: 'failed', node: 'n2' }, // woke 100 ms ago
          { startMs: 4000, endMs: 4010, outcome: 'failed', error: 'OVERLOADED' },
          { startMs: 5000, endMs: 5010, outcome: 'failed' }, // overlaps a change's spread
        ],
        t,
        { changes: [{ startMs: 4500, endMs: 4800 }], changeSpreadMs: 500 },
      ),
    );
    assert.deepEqual(judged.counts.excluded, { 'membership-change': 1, 'entry-not-answering': 2, 'entry-slow': 0, 'too-few-reachable': 0, shed: 1, 'lossy-network': 0, 'slow-network': 0 });
    assert.equal(judged.counts.eligible, 1);
    assert.equal(judged.counts.failed, 0);
  });

  it('counts a slow peer as reachable, but does not judge a request that entered through it', () => {
    const t = timeline([], [], [{ node: 'n2', startMs: 100, endMs: 900 }]);
    const judged = judgeAvailability(
      input(
        [
          { startMs: 500, endMs: 510, outcome: 'failed', w: 3 },
          { startMs: 600, endMs: 610, outcome: 'failed', node: 'n2' },
        ],
        t,
      ),
    );
    assert.deepEqual([judged.counts.eligible, judged.counts.failed, judged.counts.excluded['entry-slow']], [1, 1, 1]);
    assert.deepEqual(judged.counts.byClass.slow.during, { eligible: 1, failed: 1 });
  });

  it('measures requests on a lossy or slow network apart, and never as unavailable', () => {
    assert.equal(networkCondition({ dropRate: 0.01, delayMaxMs: 1 }, { forwardTimeoutMs: 100 }), 'lossy');
    assert.equal(networkCondition({ dropRate: 0, delayMaxMs: 30 }, { forwardTimeoutMs: 100 }), 'slow');
    assert.equal(networkCondition({ dropRate: 0, delayMaxMs: 25 }, { forwardTimeoutMs: 100 }), 'calm');
    const judged = judgeAvailability(input([{ startMs: 500, endMs: 510, outcome: 'failed' }], timeline(), { network: 'lossy' }));
    assert.deepEqual(judged.counts.uncalm.lossy, { eligible: 1, failed: 1 });
    assert.equal(judged.counts.eligible, 0);
    assert.equal(judged.unavailable.length, 0);
  });
});

describe('checker: unavailable', () => {
  function final(requests: readonly Request[], strict: boolean): FinalState {
    return {
      reads: new Map(),
      primaries: new Map(),
      hintsLeft: new Map(),
      persisted: new Set(),
      durabilityPromised: () => false,
      anomalies: [],
      availability: { ...input(requests, timeline()), strict },
    };
  }

  it('is a violation only when strict, and always counted', () => {
    const requests: Request[] = [
      { startMs: 500, endMs: 510, outcome: 'failed' },
      { startMs: 600, endMs: 610, outcome: 'ok' },
    ];
    const history = records(requests);
    const lenient = checkRun(history, final(requests, false));
    assert.deepEqual(lenient.violations, []);
    assert.deepEqual([lenient.availability?.eligible, lenient.availability?.failed], [2, 1]);
    const strict = checkRun(history, final(requests, true));
    assert.deepEqual(strict.violations.map((v) => v.kind), ['unavailable']);
    assert.match(strict.violations[0]?.message ?? '', /#0 put failed \(QUORUM_UNREACHABLE\), though 3 member\(s\) \(n1 n2 n3\) were reachable from n1/);
  });
});
