/**
 * The checker's self-test on hand-made histories: a checker that cannot fail proves
 * nothing, so every violation kind is shown caught, and every legitimate excuse accepted.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeUtf8 } from '../../src/core/bytes.ts';
import type { VersionVector } from '../../src/core/clock.ts';
import type { Sibling, StoredObject } from '../../src/core/object.ts';
import { initialClusterState } from '../../src/node/cluster.ts';
import { nodeConfigFrom } from '../../src/node/config.ts';
import { checkRun, formatViolation, type Convergence, type FinalState, type MembershipSnapshot, type ViolationKind } from '../../src/sim/checker.ts';
import { History, type OpRecord } from '../../src/sim/history.ts';

const QUORUM = { n: 3, r: 2, w: 2 };

type Version = readonly [valueId: string, actor: string, counter: number] | readonly ['(tombstone)', string, number];

/** An object whose siblings are `versions` and whose vector covers exactly them. */
function obj(...versions: Version[]): StoredObject {
  const siblings: Sibling[] = versions.map(([id, actor, counter]) => ({
    value: id === '(tombstone)' ? new Uint8Array(0) : encodeUtf8(id),
    contentType: 'text/plain',
    deleted: id === '(tombstone)',
    dot: { actor, counter },
    timeMs: 0,
  }));
  return { vector: vectorOf(versions.map(([, actor, counter]) => [actor, counter] as const)), siblings };
}

function vectorOf(entries: readonly (readonly [string, number])[]): VersionVector {
  const top = new Map<string, number>();
  for (const [actor, counter] of entries) top.set(actor, Math.max(top.get(actor) ?? 0, counter));
  return [...top].sort(([a], [b]) => (a < b ? -1 : 1)).map(([actor, counter]) => ({ actor, counter, timeMs: 0 }));
}

class Scenario {
  readonly history = new History();
  private clockMs = 0;

  /** A put that the node acknowledged (or not), getting `dot`. */
  put(valueId: string, dot: readonly [string, number], options: { key?: string; context?: VersionVector; ack?: 'ok' | 'failed' | 'timeout' } = {}): OpRecord {
    const record = this.history.begin({ client: 'c1', op: 'put', key: options.key ?? 'k', node: 'n1', startMs: this.tick(), quorum: QUORUM, valueId, context: options.context });
    this.finish(record, options.ack ?? 'ok', obj([valueId, ...dot]));
    return record;
  }

  delete(context: VersionVector, ack: 'ok' | 'failed' = 'failed'): OpRecord {
    const record = this.history.begin({ client: 'c1', op: 'delete', key: 'k', node: 'n1', startMs: this.tick(), quorum: QUORUM, context });
    this.finish(record, ack, obj(['(tombstone)', 'n9.1', 1]));
    return record;
  }

  get(object: StoredObject | undefined, key = 'k'): OpRecord {
    const record = this.history.begin({ client: 'c2', op: 'get', key, node: 'n2', startMs: this.tick(), quorum: QUORUM });
    this.history.succeeded(record, this.tick(), object);
    return record;
  }

  /** The final state: the final read returned `object`, every primary holds it. */
  final(object: StoredObject | undefined, overrides: Partial<FinalState> = {}): FinalState {
    const read = this.history.begin({ client: 'final', op: 'get', key: 'k', node: 'n1', startMs: this.tick(), quorum: QUORUM });
    this.history.succeeded(read, this.tick(), object);
    return {
      reads: new Map([['k', read]]),
      primaries: new Map([['k', ['n1', 'n2', 'n3'].map((node) => ({ node, object }))]]),
      hintsLeft: new Map([['n1', 0]]),
      persisted: new Set(this.history.records.flatMap((r) => (r.valueId === undefined ? [] : [r.valueId]))),
      durabilityPromised: () => true,
      anomalies: [],
      ...overrides,
    };
  }

  kinds(final: FinalState): ViolationKind[] {
    return checkRun(this.history.records, final).violations.map((v) => v.kind);
  }

  private finish(record: OpRecord, ack: 'ok' | 'failed' | 'timeout', object: StoredObject): void {
    if (ack === 'ok') this.history.succeeded(record, this.tick(), object);
    else if (ack === 'failed') this.history.failed(record, this.tick(), 'QUORUM_UNREACHABLE');
    else this.history.timedOut(record, this.tick());
  }

  private tick(): number {
    return (this.clockMs += 10);
  }
}

const covering = (...entries: (readonly [string, number])[]): VersionVector => vectorOf(entries);

describe('checker: lost writes', () => {
  it('passes an acknowledged write that is present at the end', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    assert.deepEqual(s.kinds(s.final(obj(['c1-w1', 'n1.1', 1]))), []);
  });

  it('catches an acknowledged write missing at the end', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    s.put('c1-w2', ['n2.1', 1]);
    const final = s.final(obj(['c1-w2', 'n2.1', 1]));
    const report = checkRun(s.history.records, final);
    assert.deepEqual(report.violations.map((v) => v.kind), ['lost-write']);
    const [violation] = report.violations;
    assert.deepEqual(violation?.valueIds, ['c1-w1']);
    assert.match(formatViolation(violation!), /c1-w1.*n1\.1:1[\s\S]*#0 .*put k @n1 value=c1-w1/);
  });

  it('accepts an absence explained by an acknowledged write whose context covered it', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    s.put('c1-w2', ['n1.1', 2], { context: covering(['n1.1', 1]) });
    assert.deepEqual(s.kinds(s.final(obj(['c1-w2', 'n1.1', 2]))), []);
  });

  it('accepts an absence explained by a failed write that is present (a 503 is not a rollback)', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    s.put('c1-w2', ['n1.1', 2], { context: covering(['n1.1', 1]), ack: 'failed' });
    assert.deepEqual(s.kinds(s.final(obj(['c1-w2', 'n1.1', 2]))), []);
  });

  it('accepts an absence explained by a chain: a failed write covered it, and an acknowledged one covered that', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    s.put('c1-w2', ['n1.1', 2], { context: covering(['n1.1', 1]), ack: 'timeout' });
    s.put('c1-w3', ['n1.1', 3], { context: covering(['n1.1', 2]) });
    assert.deepEqual(s.kinds(s.final(obj(['c1-w3', 'n1.1', 3]))), []);
  });

  it('catches an absence a failed write cannot explain: it covered the value but vanished itself', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    s.put('c1-w2', ['n1.1', 2], { context: covering(['n1.1', 1]), ack: 'failed' });
    assert.deepEqual(s.kinds(s.final(undefined)), ['lost-write']);
  });

  it('accepts an absence explained by a delete, even a failed one (tombstones carry no value id)', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    s.delete(covering(['n1.1', 1]), 'failed');
    assert.deepEqual(s.kinds(s.final(undefined)), []);
  });

  it('does not let a context that missed the dot excuse anything', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 2]);
    s.put('c1-w2', ['n1.1', 3], { context: covering(['n1.1', 1]) });
    assert.deepEqual(s.kinds(s.final(obj(['c1-w2', 'n1.1', 3]))), ['lost-write']);
  });

  it('counts a write lost from buffers only as allowed when the config does not promise durability', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    const weak = s.final(undefined, { persisted: new Set(), durabilityPromised: () => false });
    const report = checkRun(s.history.records, weak);
    assert.deepEqual(report.violations, []);
    assert.deepEqual(report.bufferLosses, ['c1-w1']);
    assert.deepEqual(s.kinds({ ...weak, durabilityPromised: () => true }), ['lost-write']);
    assert.deepEqual(s.kinds({ ...weak, persisted: new Set(['c1-w1']) }), ['lost-write']);
  });

  it('judges a late acknowledgement as an acknowledgement', () => {
    const s = new Scenario();
    const record = s.put('c1-w1', ['n1.1', 1], { ack: 'timeout' });
    s.history.succeeded(record, 1000, obj(['c1-w1', 'n1.1', 1]));
    assert.equal(record.lateOutcome, 'ok');
    assert.deepEqual(s.kinds(s.final(undefined)), ['lost-write']);
  });
});

describe('checker: phantoms and dots', () => {
  it('catches a read of a value no client wrote', () => {
    const s = new Scenario();
    s.get(obj(['c7-w7', 'n1.1', 1]));
    assert.ok(s.kinds(s.final(undefined)).includes('phantom'));
  });

  it('catches a read of a value that is not a client value at all', () => {
    const s = new Scenario();
    const garbage: StoredObject = { vector: [{ actor: 'n1.1', counter: 1, timeMs: 0 }], siblings: [{ value: Uint8Array.of(0xff), contentType: 'x', deleted: false, dot: { actor: 'n1.1', counter: 1 }, timeMs: 0 }] };
    s.get(garbage);
    assert.deepEqual(s.kinds(s.final(undefined)), ['phantom']);
  });

  it('catches a read that returned a value before its put started, or from another key', () => {
    const early = new Scenario();
    early.get(obj(['c1-w1', 'n1.1', 1]));
    early.put('c1-w1', ['n1.1', 1]);
    assert.deepEqual(early.kinds(early.final(obj(['c1-w1', 'n1.1', 1]))), ['phantom']);
    const crossed = new Scenario();
    crossed.put('c1-w1', ['n1.1', 1], { key: 'other' });
    crossed.get(obj(['c1-w1', 'n1.1', 1]));
    assert.ok(crossed.kinds(crossed.final(undefined)).includes('phantom'));
  });

  it('catches one dot naming two values of one key, but not the same dot on two keys', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    s.put('c1-w2', ['n1.1', 1], { context: covering(['n1.1', 1]) });
    assert.ok(s.kinds(s.final(obj(['c1-w2', 'n1.1', 1]))).includes('dot-conflict'));
    const keys = new Scenario();
    keys.put('c1-w1', ['n1.1', 1]);
    keys.put('c1-w2', ['n1.1', 1], { key: 'other' });
    assert.deepEqual(keys.kinds(keys.final(obj(['c1-w1', 'n1.1', 1]))), []);
  });

  it('counts a put applied twice (two dots, one value) without failing; superseding one copy supersedes the write', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    s.get(obj(['c1-w1', 'n2.1', 1])); // the second application, seen on its own
    const neither = s.final(obj());
    const lost = checkRun(s.history.records, neither);
    assert.deepEqual(lost.appliedTwice, ['c1-w1']);
    assert.deepEqual(lost.violations.map((v) => v.kind), ['lost-write'], 'no copy present, none covered');
    // The node drops the other copy by its write id (core/object.ts supersededWrites).
    s.put('c1-w2', ['n1.1', 2], { context: covering(['n1.1', 1]) });
    assert.deepEqual(s.kinds(s.final(obj(['c1-w2', 'n1.1', 2]))), []);
  });

  it('catches one write visible as two live siblings, in an answer or in a final copy', () => {
    const inRead = new Scenario();
    inRead.put('c1-w1', ['n1.1', 1]);
    inRead.get(obj(['c1-w1', 'n1.1', 1], ['c1-w1', 'n2.1', 1]));
    const report = checkRun(inRead.history.records, inRead.final(obj(['c1-w1', 'n1.1', 1])));
    assert.deepEqual(report.violations.map((v) => v.kind), ['applied-as-siblings']);
    assert.match(report.violations[0]?.message ?? '', /c1-w1 twice, as siblings n1\.1:1 and n2\.1:1/);
    assert.deepEqual(report.appliedTwice, ['c1-w1'], 'still counted as applied twice');
    const inCopy = new Scenario();
    inCopy.put('c1-w1', ['n1.1', 1]);
    const twice = obj(['c1-w1', 'n1.1', 1], ['c1-w1', 'n2.1', 1]);
    const final = inCopy.final(obj(['c1-w1', 'n1.1', 1]), { primaries: new Map([['k', [{ node: 'n3', object: twice }]]]) });
    assert.ok(inCopy.kinds(final).includes('applied-as-siblings'));
    const tombstones = new Scenario();
    tombstones.put('c1-w1', ['n1.1', 1]);
    tombstones.get(obj(['c1-w1', 'n1.1', 1], ['(tombstone)', 'n2.1', 1], ['(tombstone)', 'n3.1', 1]));
    assert.deepEqual(tombstones.kinds(tombstones.final(obj(['c1-w1', 'n1.1', 1]))), [], 'concurrent tombstones are no value');
  });

  it('reports node anomalies (malformed internode messages, errors logged)', () => {
    const s = new Scenario();
    assert.deepEqual(s.kinds(s.final(undefined, { anomalies: ['n1 refused a message from n2 as malformed'] })), ['node-anomaly']);
  });
});

describe('checker: liveness after healing', () => {
  it('catches a final read that failed', () => {
    const s = new Scenario();
    const final = s.final(undefined);
    const read = final.reads.get('k') as OpRecord;
    read.outcome = 'failed';
    read.error = 'QUORUM_UNREACHABLE';
    assert.deepEqual(s.kinds(final), ['final-read-failed']);
  });

  it('catches hints left behind', () => {
    const s = new Scenario();
    assert.deepEqual(s.kinds(s.final(undefined, { hintsLeft: new Map([['n4', 2]]) })), ['hints-left']);
  });

  it('catches primaries that hold different versions, and a read that disagrees with them', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    const held = obj(['c1-w1', 'n1.1', 1]);
    const diverged = s.final(held, { primaries: new Map([['k', [{ node: 'n1', object: held }, { node: 'n2', object: undefined }]]]) });
    assert.deepEqual(s.kinds(diverged), ['divergence']);
    const t = new Scenario();
    t.put('c1-w1', ['n1.1', 1]);
    t.put('c1-w2', ['n2.1', 1]);
    const both = obj(['c1-w1', 'n1.1', 1], ['c1-w2', 'n2.1', 1]);
    const misread = t.final(both);
    const read = misread.reads.get('k') as OpRecord;
    read.versions = (read.versions ?? []).slice(0, 1);
    assert.deepEqual(t.kinds(misread), ['lost-write', 'divergence']);
  });
});

describe('checker: membership', () => {
  const state = initialClusterState(nodeConfigFrom({ id: 'n1', clusterName: 'sim', cluster: 'n1@10.0.0.1:7000,n2@10.0.0.2:7000,n3@10.0.0.3:7000', engine: 'memory' }));
  const view = (members: string, plan: object | null = null): string =>
    JSON.stringify({ ringVersion: 2, plan, members: members.split(' ').map((m) => ({ id: m.split(':')[0], status: m.split(':')[1], version: 1 })) });
  const snapshot = (overrides: Partial<MembershipSnapshot> = {}): MembershipSnapshot => ({
    members: ['n1', 'n2', 'n3'],
    views: new Map(['n1', 'n2', 'n3'].map((id) => [id, view('n1:valid n2:valid n3:valid n4:removed')])),
    finalState: state,
    retired: ['n4'],
    busy: [],
    ...overrides,
  });

  it('passes members that agree on a settled state listing exactly the live members', () => {
    const s = new Scenario();
    assert.deepEqual(s.kinds(s.final(undefined, { membership: snapshot() })), []);
  });

  it('catches members that disagree, a change still pending, a dead node still listed, a change that never finished', () => {
    const s = new Scenario();
    const differ = snapshot({ views: new Map([...snapshot().views, ['n3', view('n1:valid n2:valid n3:valid n4:valid')]]) });
    const report = checkRun(s.history.records, s.final(undefined, { membership: differ }));
    assert.deepEqual(report.violations.map((v) => v.kind), ['membership-diverged']);
    assert.match(report.violations[0]?.message ?? '', /disagree.*n3: v2 settled \[n1:valid\/1 n2:valid\/1 n3:valid\/1 n4:valid\/1\]/);
    const pending = view('n1:valid n2:valid n3:valid n4:removed', { kind: 'remove', member: 'n4', transfersDone: 1, transfersTotal: 3 });
    assert.deepEqual(s.kinds(s.final(undefined, { membership: snapshot({ views: new Map(['n1', 'n2', 'n3'].map((id) => [id, pending])) }) })), ['membership-diverged']);
    const listed = view('n1:valid n2:valid n3:valid n4:valid');
    const stillListed = checkRun(s.history.records, s.final(undefined, { membership: snapshot({ views: new Map(['n1', 'n2', 'n3'].map((id) => [id, listed])) }) }));
    assert.match(stillListed.violations.map((v) => v.message).join('\n'), /lists \[n1 n2 n3 n4\].*live members are \[n1 n2 n3\]/);
    assert.deepEqual(s.kinds(s.final(undefined, { membership: snapshot({ busy: ['join n5 (asking)'] }) })), ['membership-diverged']);
  });

  it('counts a write only a node removed after a permanent crash had seen as a removal loss, not a lost write', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    const final = s.final(undefined, { removalExposed: new Set(['c1-w1']) });
    const report = checkRun(s.history.records, final);
    assert.deepEqual(report.violations, []);
    assert.deepEqual(report.removalLosses, ['c1-w1']);
    assert.deepEqual(s.kinds({ ...final, removalExposed: new Set() }), ['lost-write']);
  });
});

describe('checker: convergence by anti-entropy, and deleted values that come back', () => {
  const convergence = (copies: readonly [string, StoredObject | undefined][], overrides: Partial<Convergence> = {}): Convergence => ({
    waitedMs: 12_000,
    budgetMs: 12_000,
    converged: false,
    copies: new Map([['k', copies.map(([node, object]) => ({ node, object }))]]),
    clientCalls: 0,
    ...overrides,
  });

  it('passes replicas that hold one version, or all hold nothing', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    const held = obj(['c1-w1', 'n1.1', 1]);
    assert.deepEqual(s.kinds(s.final(held, { convergence: convergence([['n1', held], ['n2', obj(['c1-w1', 'n1.1', 1])], ['n3', held]]) })), []);
    const t = new Scenario();
    assert.deepEqual(t.kinds(t.final(undefined, { convergence: convergence([['n1', undefined], ['n2', undefined]]) })), []);
  });

  it('catches replicas anti-entropy left different, naming the key, each replica and what it holds', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    const held = obj(['c1-w1', 'n1.1', 1]);
    const report = checkRun(s.history.records, s.final(held, { convergence: convergence([['n1', held], ['n2', undefined], ['n3', held]]) }));
    assert.deepEqual(report.violations.map((v) => v.kind), ['not-converged']);
    assert.match(
      report.violations[0]?.message ?? '',
      /^after 12\.0 s of anti-entropy with no client call \(budget 12\.0 s\), the replicas of k under the final ring still differ: n1: \[c1-w1@n1\.1:1 \| \{n1\.1:1\}\] digest [0-9a-f]{8}; n2: \[nothing\] digest none; n3: /,
    );
  });

  it('tells versions apart by vector and dots, not by time', () => {
    const s = new Scenario();
    const older = obj(['c1-w1', 'n1.1', 1]);
    const later: StoredObject = { ...older, siblings: older.siblings.map((sibling) => ({ ...sibling, timeMs: 99 })) };
    const wider: StoredObject = { ...older, vector: vectorOf([['n1.1', 1], ['n2.1', 4]]) };
    assert.deepEqual(s.kinds(s.final(undefined, { convergence: convergence([['n1', older], ['n2', later]]) })), []);
    assert.deepEqual(s.kinds(s.final(undefined, { convergence: convergence([['n1', older], ['n2', wider]]) })), ['not-converged']);
  });

  it('reports a client call made while it waited (read repair must not be what converges the replicas)', () => {
    const s = new Scenario();
    const report = checkRun(s.history.records, s.final(undefined, { convergence: convergence([], { clientCalls: 3 }) }));
    assert.deepEqual(report.violations.map((v) => v.kind), ['not-converged']);
    assert.match(report.violations[0]?.message ?? '', /made 3 client call\(s\) while waiting/);
  });

  it('catches a value an acknowledged delete covered, back in the final read and in every replica', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    s.delete(covering(['n1.1', 1]), 'ok');
    const back = obj(['c1-w1', 'n1.1', 1]);
    const report = checkRun(s.history.records, s.final(back, { convergence: convergence([['n1', back], ['n2', back]]) }));
    assert.deepEqual(report.violations.map((v) => v.kind), ['resurrected']);
    assert.equal(
      report.violations[0]?.message,
      'c1-w1 (dot n1.1:1) is held by every replica (n1 n2) once anti-entropy converged them, though acknowledged delete #1 (tombstone n9.1:1) had superseded it: its context covered that dot',
    );
    assert.match(formatViolation(report.violations[0]!), /#1 .*delete k @n1 tomb=n9\.1:1 ctx=\{n1\.1:1\}/);
    const readOnly = new Scenario();
    readOnly.put('c1-w1', ['n1.1', 1]);
    readOnly.delete(covering(['n1.1', 1]), 'ok');
    const kinds = readOnly.kinds(readOnly.final(back));
    assert.deepEqual(kinds, ['resurrected']);
  });

  it('catches a value an acknowledged put superseded, back at the end', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    s.put('c1-w2', ['n1.1', 2], { context: covering(['n1.1', 1]) });
    assert.deepEqual(s.kinds(s.final(obj(['c1-w1', 'n1.1', 1], ['c1-w2', 'n1.1', 2]))), ['resurrected']);
  });

  it('excuses a delete that was itself lost: only in buffers with no durability promised, or with a removed node', () => {
    const lost = (overrides: Partial<FinalState>, persistedTombstones: ReadonlySet<string>): ViolationKind[] => {
      const s = new Scenario();
      s.put('c1-w1', ['n1.1', 1]);
      s.delete(covering(['n1.1', 1]), 'ok');
      return s.kinds(s.final(obj(['c1-w1', 'n1.1', 1]), { persistedTombstones, ...overrides }));
    };
    assert.deepEqual(lost({ durabilityPromised: () => false }, new Set()), []);
    assert.deepEqual(lost({ durabilityPromised: () => false }, new Set(['k|n9.1:1'])), ['resurrected']);
    assert.deepEqual(lost({ durabilityPromised: () => true }, new Set()), ['resurrected']);
    assert.deepEqual(lost({ removalExposed: new Set(['delete#1']) }, new Set(['k|n9.1:1'])), []);
  });

  it('leaves a replica that never got the delete to not-converged (stale, not resurrected), and ignores failed deletes', () => {
    const s = new Scenario();
    s.put('c1-w1', ['n1.1', 1]);
    s.delete(covering(['n1.1', 1]), 'ok');
    const tomb = obj(['(tombstone)', 'n9.1', 1]);
    const stale = obj(['c1-w1', 'n1.1', 1]);
    assert.deepEqual(s.kinds(s.final(tomb, { convergence: convergence([['n1', tomb], ['n2', stale]]), primaries: new Map([['k', [{ node: 'n1', object: tomb }]]]) })), ['not-converged']);
    const failed = new Scenario();
    failed.put('c1-w1', ['n1.1', 1]);
    failed.delete(covering(['n1.1', 1]), 'failed');
    assert.deepEqual(failed.kinds(failed.final(stale)), []);
  });
});
