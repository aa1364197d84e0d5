/**
 * A model of clients, coordinators and replicas (paper 4.4/4.5) checking the dotted
 * version vector rules end to end: clients read from some replicas (keeping the returned
 * vector as their context and the sibling dots they saw), write through a random
 * coordinator with that possibly stale context, and replicas sync in random orders.
 * At the end every replica is synced and the result is checked against the write log.
 * Every write carries a write id, and some are applied again at another replica (a hedged
 * or failed-over forward coordinated twice, issue 15): a replica holding the id applies
 * nothing, others issue a second dot; a client is shown one sibling per write id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { covers, descends, vectorsEqual, type Dot, type VersionVector } from '../../src/core/clock.ts';
import {
  objectDescends,
  objectsEqual,
  oneSiblingPerWrite,
  putObject,
  syncObjects,
  SUPERSEDED_WRITES_MAX,
  type StoredObject,
} from '../../src/core/object.ts';
import { testSeed } from '../support/seed.ts';

type Op =
  | { kind: 'read'; client: number; replicaMask: number; repair: boolean }
  | { kind: 'write'; client: number; replica: number; deleted: boolean; lastWriteWins: boolean; adoptResult: boolean }
  | { kind: 'sync'; from: number; to: number; bothWays: boolean }
  | { kind: 'restart'; replica: number }
  | { kind: 'forget'; client: number }
  | { kind: 'duplicate'; write: number; replica: number };

interface Scenario {
  replicaCount: number;
  clientCount: number;
  siblingsMax: number;
  vectorEntriesMax: number;
  lastWriteWinsAllowed: boolean;
  ops: Op[];
}

interface LoggedWrite {
  readonly index: number;
  readonly dot: Dot;
  readonly value: string;
  readonly writeId: string;
  readonly lastWriteWins: boolean;
  readonly deleted: boolean;
  /** The client's context: what the client claimed to have read. */
  readonly context: VersionVector;
  /** Everything the write superseded: the context, or for last-write-wins also the replica's vector. */
  readonly supersedes: VersionVector;
  /** Dots of the siblings the client had seen when it wrote. */
  readonly seen: ReadonlySet<string>;
}

interface Client {
  context: VersionVector;
  seen: Set<string>;
}

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), client: fc.nat(7), replicaMask: fc.integer({ min: 1, max: 15 }), repair: fc.boolean() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      client: fc.nat(7),
      replica: fc.nat(7),
      deleted: fc.integer({ min: 0, max: 6 }).map((n) => n === 0),
      lastWriteWins: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
      adoptResult: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('sync' as const), from: fc.nat(7), to: fc.nat(7), bothWays: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), replica: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('forget' as const), client: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), write: fc.nat(79), replica: fc.nat(7) }) },
);

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.record({
  replicaCount: fc.integer({ min: 2, max: 4 }),
  clientCount: fc.integer({ min: 1, max: 4 }),
  siblingsMax: fc.constantFrom(2, 3, 5, 100),
  vectorEntriesMax: fc.constantFrom(1, 2, 3, 10, 1000),
  lastWriteWinsAllowed: fc.boolean(),
  ops: fc.array(opArbitrary, { minLength: 1, maxLength: 80, size: 'max' }),
});

function dotKey(dot: Dot): string {
  return `${dot.actor}/${dot.counter}`;
}

function siblingDots(object: StoredObject | undefined): Set<string> {
  return new Set((object?.siblings ?? []).map((sibling) => dotKey(sibling.dot)));
}

function syncAll(objects: readonly (StoredObject | undefined)[]): StoredObject | undefined {
  return objects.reduce<StoredObject | undefined>((merged, object) => syncObjects(merged, object), undefined);
}

class Model {
  readonly replicas: (StoredObject | undefined)[];
  readonly epochs: number[];
  readonly clients: Client[];
  readonly log: LoggedWrite[] = [];
  /** Objects seen along the way, for the lattice checks. */
  readonly snapshots: StoredObject[] = [];
  readonly actorsUsed = new Set<string>();
  refusedWrites = 0;

  constructor(readonly scenario: Scenario) {
    this.replicas = new Array<StoredObject | undefined>(scenario.replicaCount).fill(undefined);
    this.epochs = new Array<number>(scenario.replicaCount).fill(0);
    this.clients = Array.from({ length: scenario.clientCount }, () => ({ context: [], seen: new Set<string>() }));
  }

  run(): void {
    for (const op of this.scenario.ops) this.apply(op);
  }

  private apply(op: Op): void {
    const { replicaCount, clientCount } = this.scenario;
    switch (op.kind) {
      case 'read':
        return this.read(op.client % clientCount, op.replicaMask, op.repair);
      case 'write':
        return this.write(op.client % clientCount, op.replica % replicaCount, op);
      case 'sync':
        return this.sync(op.from % replicaCount, op.to % replicaCount, op.bothWays);
      case 'restart':
        // A restarted coordinator writes under a new actor (node id plus start epoch).
        this.restart(op.replica % replicaCount);
        return;
      case 'forget':
        this.clients[op.client % clientCount] = { context: [], seen: new Set() };
        return;
      case 'duplicate':
        return this.duplicate(op.write, op.replica % replicaCount);
    }
  }

  /** Applies an earlier write again, with its own id and context, at another replica. */
  private duplicate(writeIndex: number, replica: number): void {
    if (this.log.length === 0) return;
    const original = this.log[writeIndex % this.log.length] as LoggedWrite;
    const actor = `r${replica}#${this.epochs[replica]}`;
    const current = this.replicas[replica];
    const outcome = putObject(
      current,
      { context: original.context, actor, value: new TextEncoder().encode(original.value), contentType: 'text/plain', deleted: original.deleted, nowMs: this.log.length, lastWriteWins: original.lastWriteWins, writeId: original.writeId },
      { siblingsMax: this.scenario.siblingsMax, vectorEntriesMax: this.scenario.vectorEntriesMax },
    );
    if (!outcome.ok) return;
    if (current !== undefined && current.siblings.some((sibling) => sibling.writeId === original.writeId)) {
      assert.equal(outcome.object, current, 'a replica holding the write id applies nothing');
      return;
    }
    if (outcome.dot === undefined) {
      assert.ok(current?.supersededWrites?.some((entry) => entry.writeId === original.writeId), 'only a remembered superseded write is not applied');
      assert.equal(outcome.object, current, 'a replica that superseded the write applies nothing');
      return;
    }
    this.actorsUsed.add(actor);
    this.log.push({ ...original, index: this.log.length, dot: outcome.dot, supersedes: original.lastWriteWins ? [...original.context, ...(current?.vector ?? [])] : original.context });
    this.replicas[replica] = outcome.object;
    this.snapshots.push(outcome.object);
  }

  private read(clientIndex: number, replicaMask: number, repair: boolean): void {
    const chosen = this.replicas.map((_, i) => i).filter((i) => (replicaMask >> i) & 1);
    const indexes = chosen.length > 0 ? chosen : [0];
    const merged = syncAll(indexes.map((i) => this.replicas[i]));
    this.clients[clientIndex] = { context: merged?.vector ?? [], seen: siblingDots(merged) };
    if (merged !== undefined) {
      this.snapshots.push(merged);
      if (repair) for (const i of indexes) this.replicas[i] = syncObjects(this.replicas[i], merged);
    }
  }

  private write(
    clientIndex: number,
    replica: number,
    op: { deleted: boolean; lastWriteWins: boolean; adoptResult: boolean },
  ): void {
    const client = this.clients[clientIndex] as Client;
    const actor = `r${replica}#${this.epochs[replica]}`;
    this.actorsUsed.add(actor);
    const value = `w${this.log.length}`;
    const lastWriteWins = op.lastWriteWins && this.scenario.lastWriteWinsAllowed;
    const current = this.replicas[replica];
    const outcome = putObject(
      current,
      {
        context: client.context,
        actor,
        value: new TextEncoder().encode(value),
        contentType: 'text/plain',
        deleted: op.deleted,
        nowMs: this.log.length,
        lastWriteWins,
        writeId: value,
      },
      { siblingsMax: this.scenario.siblingsMax, vectorEntriesMax: this.scenario.vectorEntriesMax },
    );
    if (!outcome.ok) {
      assert.ok(outcome.siblingCount > this.scenario.siblingsMax);
      this.refusedWrites++;
      return;
    }
    assert.ok(outcome.object.siblings.length <= this.scenario.siblingsMax, 'a put never exceeds siblingsMax');
    assert.ok(outcome.dot !== undefined, 'a new write gets a dot');
    this.log.push({
      index: this.log.length,
      dot: outcome.dot,
      value,
      writeId: value,
      lastWriteWins,
      deleted: op.deleted,
      context: client.context,
      supersedes: lastWriteWins ? [...client.context, ...(current?.vector ?? [])] : client.context,
      seen: client.seen,
    });
    this.replicas[replica] = outcome.object;
    this.snapshots.push(outcome.object);
    if (op.adoptResult) this.clients[clientIndex] = { context: outcome.object.vector, seen: siblingDots(outcome.object) };
  }

  private restart(replica: number): void {
    this.epochs[replica] = (this.epochs[replica] as number) + 1;
  }

  private sync(from: number, to: number, bothWays: boolean): void {
    const merged = syncObjects(this.replicas[to], this.replicas[from]);
    this.replicas[to] = merged;
    if (bothWays) this.replicas[from] = merged;
  }
}

/** `supersedes` may list an actor twice (last-write-wins concatenation); covers by the max. */
function coversAny(entries: VersionVector, dot: Dot): boolean {
  return entries.some((entry) => entry.actor === dot.actor && entry.counter >= dot.counter);
}

function checkFinalState(model: Model): void {
  const { log, replicas } = model;
  const final = syncAll(replicas);
  const reversed = syncAll([...replicas].reverse());
  assert.ok(objectsEqual(final, reversed), 'the sync order does not matter');
  for (const replica of replicas) assert.ok(objectsEqual(syncObjects(replica, final), final), 'replicas converge');
  if (final === undefined) {
    assert.equal(log.length, 0);
    return;
  }
  const byDot = new Map(log.map((write) => [dotKey(write.dot), write]));
  assert.equal(byDot.size, log.length, 'every write (every copy of one) got its own dot');
  checkShownOncePerWrite(final);

  // No sibling that was never written, and each one carries its write's content.
  for (const sibling of final.siblings) {
    const written = byDot.get(dotKey(sibling.dot));
    assert.ok(written !== undefined, `sibling ${dotKey(sibling.dot)} was never written`);
    assert.equal(new TextDecoder().decode(sibling.value), written.value);
    assert.equal(sibling.deleted, written.deleted);
    assert.ok(covers(final.vector, sibling.dot), 'the vector covers its own siblings');
  }

  const present = siblingDots(final);
  const truncationPossible = model.actorsUsed.size > model.scenario.vectorEntriesMax;
  const forgettingPossible = new Set(log.map((write) => write.writeId)).size > SUPERSEDED_WRITES_MAX;
  const supersedersOf = (write: LoggedWrite): LoggedWrite[] => log.filter((other) => other !== write && coversAny(other.supersedes, write.dot));
  for (const write of log) {
    const supersededBy = supersedersOf(write);
    assert.ok(supersededBy.every((other) => other.index > write.index), 'only later writes supersede');
    // Copies of one write (one write id, several dots) live and die together: a copy
    // superseded anywhere takes every other copy with it, in whatever order they arrive.
    const copies = log.filter((other) => other.writeId === write.writeId);
    const copySuperseded = copies.some((copy) => supersedersOf(copy).length > 0);
    if (!present.has(dotKey(write.dot))) {
      assert.ok(supersededBy.length > 0 || copySuperseded, `write ${write.value} (${dotKey(write.dot)}) was lost`);
    }
    // Without truncation nothing superseded comes back (no false conflicts), nor does a
    // copy of a superseded write while its id is remembered.
    if (!truncationPossible && supersededBy.length > 0) {
      assert.ok(!present.has(dotKey(write.dot)), `superseded write ${write.value} came back`);
    }
    if (!truncationPossible && !forgettingPossible && copySuperseded) {
      assert.ok(!present.has(dotKey(write.dot)), `a copy (${dotKey(write.dot)}) of superseded write ${write.value} came back`);
    }
  }

  // A context covers only what its client read, or what was superseded before.
  for (const write of log) {
    for (const earlier of log) {
      if (earlier.index >= write.index || !covers(write.context, earlier.dot)) continue;
      const seen = write.seen.has(dotKey(earlier.dot));
      // A copy of a write is dropped, unseen, once another copy of it was superseded.
      const supersededBefore = log.some(
        (other) => other.index < write.index && log.some((copy) => copy.writeId === earlier.writeId && other !== copy && coversAny(other.supersedes, copy.dot)),
      );
      assert.ok(seen || supersededBefore, `write ${write.value} superseded ${earlier.value} without reading it`);
    }
  }
}

/** A client sees each write once: one sibling per write id, every id present kept, the vector whole. */
function checkShownOncePerWrite(object: StoredObject): void {
  const shown = oneSiblingPerWrite(object);
  const ids = shown.siblings.map((sibling) => sibling.writeId);
  assert.equal(new Set(ids).size, ids.length, 'no write shown as two siblings');
  assert.deepEqual(new Set(ids), new Set(object.siblings.map((sibling) => sibling.writeId)), 'every write present is shown');
  assert.ok(vectorsEqual(shown.vector, object.vector), 'the context covers every copy');
  assert.ok(shown.siblings.every((sibling) => object.siblings.includes(sibling)));
}

function checkLattice(objects: readonly StoredObject[]): void {
  const sample = objects.slice(-6);
  for (const a of sample) {
    assert.ok(objectsEqual(syncObjects(a, a), a), 'sync is idempotent');
    assert.ok(objectDescends(a, a), 'objectDescends is reflexive');
    for (const b of sample) {
      const ab = syncObjects(a, b);
      assert.ok(objectsEqual(ab, syncObjects(b, a)), 'sync is commutative');
      assert.ok(objectDescends(ab, a) && objectDescends(ab, b), 'sync is an upper bound');
      if (objectDescends(a, b) && objectDescends(b, a)) {
        assert.ok(vectorsEqual(a.vector, b.vector));
        assert.deepEqual(siblingDots(a), siblingDots(b));
      }
      if (descends(a.vector, b.vector) && descends(b.vector, a.vector)) assert.ok(vectorsEqual(a.vector, b.vector));
      for (const c of sample) {
        assert.ok(objectsEqual(syncObjects(ab, c), syncObjects(a, syncObjects(b, c))), 'sync is associative');
        if (objectDescends(a, b) && objectDescends(b, c)) assert.ok(objectDescends(a, c), 'objectDescends is transitive');
        if (descends(a.vector, b.vector) && descends(b.vector, c.vector)) assert.ok(descends(a.vector, c.vector));
      }
    }
  }
}

test('dotted version vectors: no write lost, none invented, replicas converge (model)', (t) => {
  const seed = testSeed(t, import.meta.url);
  fc.assert(
    fc.property(scenarioArbitrary, (scenario) => {
      const model = new Model(scenario);
      model.run();
      checkFinalState(model);
      checkLattice([...model.snapshots, ...model.replicas.filter((r): r is StoredObject => r !== undefined)]);
    }),
    { seed, numRuns: 300 },
  );
});
