import assert from 'node:assert/strict';
import { test } from 'node:test';
import { covers, type Dot, type VersionVector } from '../../src/core/clock.ts';
import { objectsEqual, putObject, syncObjects, type StoredObject } from '../../src/core/object.ts';
import { NodeReplica } from '../../src/node/replica/nodeReplica.ts';
import { HintStore } from '../../src/storage/hintStore.ts';
import { MemoryEngine } from '../../src/storage/memoryEngine.ts';
import { ObjectStore } from '../../src/storage/objectStore.ts';
import { Prng } from '../../src/sim/prng.ts';
import { ManualClock } from '../../src/sim/simClock.ts';
import { testSeed } from '../support/seed.ts';

const LIMITS = { siblingsMax: 1000, vectorEntriesMax: 1000 };
const KEY = new TextEncoder().encode('key');
const PARTITION = 7;

function write(current: StoredObject | undefined, actor: string, value: string, context: VersionVector = []): StoredObject {
  const outcome = putObject(
    current,
    { context, actor, value: new TextEncoder().encode(value), contentType: 'text/plain', deleted: false, nowMs: 1000 },
    LIMITS,
  );
  assert.ok(outcome.ok);
  return outcome.object;
}

function valuesOf(object: StoredObject | undefined): string[] {
  return (object?.siblings ?? []).map((s) => new TextDecoder().decode(s.value)).sort();
}

/** The replica object's merge over `store` (a node that holds every partition and hands none over). */
function applyReplicaWrite(store: ObjectStore, partition: number, key: Uint8Array, object: StoredObject, options = { durable: false }): Promise<StoredObject> {
  const routing = { members: [], holds: [], forwardTo: [], preference: [], quorum: { n: 3 } };
  const replica = new NodeReplica({ self: 'a', store, hints: new HintStore(new MemoryEngine(), { hintsMax: 0 }), engine: new MemoryEngine(), routing: () => routing });
  return replica.merge(partition, key, object, options);
}

function newStore(): { store: ObjectStore; clock: ManualClock } {
  const clock = new ManualClock();
  return { store: new ObjectStore(new MemoryEngine(), clock, { bufferObjectsMax: 100 }), clock };
}

test('a stale replica write never erases a newer version', async () => {
  const { store } = newStore();
  const v1 = write(undefined, 'a.1', 'v1');
  const v2 = write(v1, 'a.1', 'v2', v1.vector);
  await applyReplicaWrite(store, PARTITION, KEY, v2);
  const merged = await applyReplicaWrite(store, PARTITION, KEY, v1);
  assert.deepEqual(valuesOf(merged), ['v2']);
  assert.deepEqual(valuesOf(store.get(PARTITION, KEY)), ['v2']);
  await store.close();
});

test('a newer replica write supersedes the version it descends from', async () => {
  const { store } = newStore();
  const v1 = write(undefined, 'a.1', 'v1');
  await applyReplicaWrite(store, PARTITION, KEY, v1);
  const merged = await applyReplicaWrite(store, PARTITION, KEY, write(v1, 'b.1', 'v2', v1.vector), { durable: true });
  assert.deepEqual(valuesOf(merged), ['v2']);
  await store.close();
});

test('concurrent replica writes become siblings, in either order', async () => {
  const x = write(undefined, 'a.1', 'x');
  const y = write(undefined, 'b.1', 'y');
  const first = newStore();
  await applyReplicaWrite(first.store, PARTITION, KEY, x);
  const xy = await applyReplicaWrite(first.store, PARTITION, KEY, y);
  const second = newStore();
  await applyReplicaWrite(second.store, PARTITION, KEY, y);
  const yx = await applyReplicaWrite(second.store, PARTITION, KEY, x);
  assert.deepEqual(valuesOf(xy), ['x', 'y']);
  assert.ok(objectsEqual(xy, yx));
  await Promise.all([first.store.close(), second.store.close()]);
});

interface History {
  /** Every object version any replica ever held. */
  readonly versions: StoredObject[];
  /** Each write's dot and the context it superseded. */
  readonly writes: { readonly dot: Dot; readonly context: VersionVector }[];
}

/** Three coordinators writing from contexts read anywhere, and syncing now and then. */
function randomHistory(random: Prng, steps: number): History {
  const replicas: (StoredObject | undefined)[] = [undefined, undefined, undefined];
  const versions: StoredObject[] = [];
  const writes: History['writes'] = [];
  const pick = (): number => random.int(replicas.length);
  for (let step = 0; step < steps; step++) {
    const at = pick();
    if (random.chance(0.7)) {
      const readFrom = replicas[pick()];
      const context = random.chance(0.2) || readFrom === undefined ? [] : readFrom.vector;
      const outcome = putObject(
        replicas[at],
        { context, actor: `r${at}.1`, value: new TextEncoder().encode(`w${step}`), contentType: 'text/plain', deleted: random.chance(0.15), nowMs: step },
        LIMITS,
      );
      assert.ok(outcome.ok && outcome.dot !== undefined);
      writes.push({ dot: outcome.dot, context });
      replicas[at] = outcome.object;
    } else {
      replicas[at] = syncObjects(replicas[at], replicas[pick()]);
    }
    const current = replicas[at];
    if (current !== undefined) versions.push(current);
  }
  return { versions, writes };
}

test('replica writes in any order converge to exactly the writes no context superseded', async (t) => {
  const seed = testSeed(t, import.meta.url);
  const random = Prng.fromSeed(seed);
  for (let run = 0; run < 30; run++) {
    const history = randomHistory(random, random.intBetween(4, 33));
    // Every step a sync of two empty replicas (seed 816780501 run 17): nothing to apply.
    if (history.versions.length === 0) continue;
    const survivors = history.writes
      .filter((w) => !history.writes.some((other) => covers(other.context, w.dot)))
      .map((w) => `${w.dot.actor}:${w.dot.counter}`)
      .sort();
    const results: StoredObject[] = [];
    for (let order = 0; order < 2; order++) {
      const { store } = newStore();
      for (const version of random.shuffle(history.versions)) await applyReplicaWrite(store, PARTITION, KEY, version);
      const final = store.get(PARTITION, KEY);
      assert.ok(final !== undefined, `seed ${seed} run ${run}`);
      results.push(final);
      await store.close();
    }
    const [a, b] = results as [StoredObject, StoredObject];
    assert.ok(objectsEqual(a, b), `seed ${seed} run ${run}: orders disagree`);
    assert.deepEqual(a.siblings.map((s) => `${s.dot.actor}:${s.dot.counter}`).sort(), survivors, `seed ${seed} run ${run}`);
  }
});
