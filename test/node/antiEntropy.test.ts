/**
 * Anti-entropy exchanges between two replicas' stores and hash trees, paired directly
 * (the answering side is the same code the node's message handlers use).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DIGEST_VERSION, segmentOf } from '../../src/core/antiEntropy/hashTree.ts';
import { partitionOfKey } from '../../src/core/hash.ts';
import { objectsEqual, putObject, syncObjects, type StoredObject } from '../../src/core/object.ts';
import { answeringPeer, exchangePartition, OBJECT_BYTES_PER_MESSAGE_MAX, type ExchangePeer } from '../../src/node/antiEntropy/exchange.ts';
import { PartitionTrees, TREES_RECORD } from '../../src/node/antiEntropy/partitionTrees.ts';
import { reapPartition } from '../../src/node/antiEntropy/tombstoneReaper.ts';
import { mergeBatch } from '../../src/node/membership/transferReceiver.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { Prng } from '../../src/sim/prng.ts';
import { ManualClock } from '../../src/sim/simClock.ts';
import { MemoryEngine, MemoryMetaStore } from '../../src/storage/memoryEngine.ts';
import { NodeReplica } from '../../src/node/replica/nodeReplica.ts';
import { REMOVE_OBJECT, type PartitionReader } from '../../src/ports/replica.ts';
import { HintStore } from '../../src/storage/hintStore.ts';
import { ObjectStore } from '../../src/storage/objectStore.ts';
import { testSeed } from '../support/seed.ts';

const enc = new TextEncoder();
const Q = 4;
const shape = { segments: 256, branching: 16, digestVersion: DIGEST_VERSION };
const limits = { siblingsMax: 100, vectorEntriesMax: 10 };

interface Replica {
  readonly store: ObjectStore;
  /** The replica object over the store: what anti-entropy reads and merges through. */
  readonly data: NodeReplica;
  readonly trees: PartitionTrees;
  readonly engine: MemoryEngine;
  readonly meta: MemoryMetaStore;
}

function replica(clock: ManualClock): Replica {
  const meta = new MemoryMetaStore();
  const trees = new PartitionTrees(shape, meta, silentLogger);
  const engine = new MemoryEngine();
  const store = new ObjectStore(engine, clock, { flushIntervalMs: 10, observer: trees.observe });
  const routing = { members: [], holds: [], forwardTo: [], preference: [], quorum: { n: 3 } };
  const data = new NodeReplica({ self: 'a', store, hints: new HintStore(new MemoryEngine(), { hintsMax: 0 }), engine, routing: () => routing });
  return { store, data, trees, engine, meta };
}

function written(current: StoredObject | undefined, actor: string, value: string): StoredObject {
  const outcome = putObject(current, { context: current?.vector ?? [], actor, value: enc.encode(value), contentType: 'text/plain', deleted: false, nowMs: 1 }, limits);
  assert.ok(outcome.ok);
  return outcome.object;
}

function peerOf(side: Replica, counters: { requests: number }): ExchangePeer {
  const answering = answeringPeer(side.trees, side.data, (partition, keys, objects) => mergeBatch({ replica: side.data, partitionCount: Q, keyBytesMax: 1024 }, partition, keys, objects));
  const counted = <A extends unknown[], R>(f: (...args: A) => Promise<R>) => (...args: A): Promise<R> => {
    counters.requests++;
    return f(...args);
  };
  return { root: counted(answering.root), roots: counted(answering.roots), children: counted(answering.children), keys: counted(answering.keys), fetch: counted(answering.fetch), push: counted(answering.push), digests: counted(answering.digests), reap: counted(answering.reap) };
}

async function put(side: Replica, key: string, object: StoredObject): Promise<void> {
  const bytes = enc.encode(key);
  await side.store.update(partitionOfKey(bytes, Q), bytes, (current) => syncObjects(current, object), { durable: false });
}

test('an exchange makes two diverged replicas hold the same versions, and touches only what differs', async (t) => {
  const seed = testSeed(t, import.meta.url);
  const random = Prng.fromSeed(seed);
  const clock = new ManualClock();
  const a = replica(clock);
  const b = replica(clock);
  for (let p = 0; p < Q; p++) {
    a.trees.rebuild(p, a.data);
    b.trees.rebuild(p, b.data);
  }
  const keys = Array.from({ length: 2000 }, (_, i) => `key-${i}`);
  for (const key of keys) {
    const object = written(undefined, 'x.1', key);
    await put(a, key, object);
    await put(b, key, object);
  }
  // Divergence: keys only on a, only on b, and concurrent versions of the same key.
  const onlyA = keys.filter(() => random.next() < 0.005);
  const onlyB = keys.filter(() => random.next() < 0.005);
  const both = keys.filter(() => random.next() < 0.005);
  for (const key of onlyA) await put(a, `${key}-a`, written(undefined, 'a.1', 'a'));
  for (const key of onlyB) await put(b, `${key}-b`, written(undefined, 'b.1', 'b'));
  for (const key of both) {
    await put(a, key, written(a.store.get(partitionOfKey(enc.encode(key), Q), enc.encode(key)), 'a.1', 'a-edit'));
    await put(b, key, written(b.store.get(partitionOfKey(enc.encode(key), Q), enc.encode(key)), 'b.1', 'b-edit'));
  }
  const before = new Map<string, StoredObject | undefined>();
  const all = [...keys, ...onlyA.map((k) => `${k}-a`), ...onlyB.map((k) => `${k}-b`)];
  for (const key of all) {
    const bytes = enc.encode(key);
    const p = partitionOfKey(bytes, Q);
    before.set(key, syncObjects(a.store.get(p, bytes), b.store.get(p, bytes)));
  }
  const counters = { requests: 0 };
  let pushed = 0;
  let fetched = 0;
  let bytes = 0;
  for (let p = 0; p < Q; p++) {
    const outcome = await exchangePartition(p, a.trees, a.data, peerOf(b, counters));
    pushed += outcome.keysPushed;
    fetched += outcome.keysFetched;
    bytes += outcome.bytes;
    assert.deepEqual(a.trees.tree(p)?.root(), b.trees.tree(p)?.root(), `partition ${p} in sync`);
  }
  assert.equal(pushed, onlyA.length + both.length);
  assert.equal(fetched, onlyB.length + both.length);
  for (const key of all) {
    const k = enc.encode(key);
    const p = partitionOfKey(k, Q);
    const expected = before.get(key) as StoredObject;
    assert.ok(objectsEqual(a.store.get(p, k) as StoredObject, expected), `${key} on a`);
    assert.ok(objectsEqual(b.store.get(p, k) as StoredObject, expected), `${key} on b`);
  }
  const dataBytes = all.length * 40;
  assert.ok(bytes < dataBytes / 2, `${bytes} bytes exchanged for a data set of ~${dataBytes}`);
  // In sync now: the next round is one root comparison per partition.
  counters.requests = 0;
  for (let p = 0; p < Q; p++) assert.equal((await exchangePartition(p, a.trees, a.data, peerOf(b, counters))).inSync, true);
  assert.equal(counters.requests, Q);
});

test('trees saved at a clean stop come back trusted; after a crash (no save) nothing is trusted', async () => {
  const clock = new ManualClock();
  const a = replica(clock);
  a.trees.rebuild(0, a.data);
  await put(a, 'k', written(undefined, 'a.1', 'v'));
  await a.trees.save();
  const reopened = new PartitionTrees(shape, a.meta, silentLogger);
  assert.equal(await reopened.load(), 1);
  assert.deepEqual(reopened.tree(0)?.root(), a.trees.tree(0)?.root());
  const afterCrash = new PartitionTrees(shape, a.meta, silentLogger);
  assert.equal(await afterCrash.load(), 0, 'the load marked the record dirty: a crash now leaves nothing trusted');
  await a.trees.save();
  const saved = a.meta.get(TREES_RECORD) as Record<string, unknown>;
  await a.meta.put(TREES_RECORD, { ...saved, digestVersion: undefined } as never);
  assert.equal(await new PartitionTrees(shape, a.meta, silentLogger).load(), 0, 'trees saved with digests of another format are rebuilt');
});

test('a peer that asks with another tree shape, out-of-range nodes, or sends garbage objects is refused', async () => {
  const clock = new ManualClock();
  const b = replica(clock);
  b.trees.rebuild(0, b.data);
  const peer = peerOf(b, { requests: 0 });
  await assert.rejects(peer.root(0, { ...shape, segments: 1024, branching: 32 }), /tree shape/);
  await assert.rejects(peer.root(0, { ...shape, digestVersion: 1 }), /digest version 1 differs/, 'a peer whose digests are of another format');
  await assert.rejects(peer.root(1, shape), /no trusted hash tree/);
  await assert.rejects(peer.children(0, 1, [5]), /not at depth/);
  await assert.rejects(peer.keys(0, [9999]), /segments must be/);
  const key = enc.encode('k');
  await assert.rejects(peer.push(partitionOfKey(key, Q), [key], [new Uint8Array([1, 2, 3])]), /object/);
  assert.equal(b.engine.count(), 0, 'nothing stored');
});

function deleted(current: StoredObject, actor: string, nowMs: number): StoredObject {
  const outcome = putObject(current, { context: current.vector, actor, value: new Uint8Array(0), contentType: 'application/octet-stream', deleted: true, nowMs }, limits);
  assert.ok(outcome.ok);
  return outcome.object;
}

test('reaping: a tombstone becomes a marker only where every replica holds the same one, and a write that lands meanwhile is kept', async () => {
  const clock = new ManualClock();
  const [a, b, c] = [replica(clock), replica(clock), replica(clock)];
  const key = 'k';
  const bytes = enc.encode(key);
  const partition = partitionOfKey(bytes, Q);
  for (const side of [a, b, c]) side.trees.rebuild(partition, side.data);
  const value = written(undefined, 'a.1', 'v');
  const tombstone = deleted(value, 'a.1', 100);
  await put(a, key, tombstone);
  await put(b, key, tombstone);
  await put(c, key, value);
  const settings = { tombstoneGraceMs: 1000, markerRetentionMs: 10_000 };
  const peers = [peerOf(b, { requests: 0 }), peerOf(c, { requests: 0 })];
  const early = await reapPartition(partition, a.data, peers, settings, 500);
  assert.equal(early.candidates, 0, 'within the grace period nothing is a candidate');
  const blocked = await reapPartition(partition, a.data, peers, settings, 5000);
  assert.deepEqual(blocked, { candidates: 1, tombstonesReaped: 0, markersRemoved: 0 }, 'c still holds the value: no reaping');
  await put(c, key, tombstone);
  const done = await reapPartition(partition, a.data, peers, settings, 5000);
  assert.equal(done.tombstonesReaped, 1);
  for (const [name, side] of [['a', a], ['b', b], ['c', c]] as const) assert.deepEqual(side.store.get(partition, bytes)?.siblings, [], `${name} holds the marker`);
  // The old value arriving late merges into the marker and vanishes.
  await put(c, key, value);
  assert.equal(c.store.get(partition, bytes)?.siblings.length, 0);
  // A write that lands on b between the digest check and the reap request is not reaped.
  const racing = { ...peers[0] as ExchangePeer, reap: async (p: number, keys: readonly Uint8Array[], digests: readonly Uint8Array[]) => {
    await put(b, key, written(b.store.get(partition, bytes), 'b.1', 'racing write'));
    return (peers[0] as ExchangePeer).reap(p, keys, digests);
  } };
  const removal = await reapPartition(partition, a.data, [racing, peers[1] as ExchangePeer], settings, 20_000);
  assert.equal(removal.markersRemoved, 1, 'a and c removed their markers');
  assert.deepEqual(b.store.get(partition, bytes)?.siblings.map((s) => new TextDecoder().decode(s.value)), ['racing write'], 'b kept the write that raced the reap');
  assert.equal(a.store.get(partition, bytes), undefined);
});

test('a rebuild that hits a disk error stops, is reported, and is retried only after a growing pause', () => {
  const clock = new ManualClock();
  const a = replica(clock);
  const failing: PartitionReader = { readOwn: () => undefined, forEachInPartition: () => undefined, visitPartitionPage: () => { throw new Error('EIO: input/output error'); } };
  assert.equal(a.trees.rebuild(1, failing, 0), false);
  assert.equal(a.trees.isTrusted(1), false);
  assert.deepEqual(a.trees.stats(), { trusted: 0, rebuilds: 0, rebuildFailures: 1, lastRebuildError: 'EIO: input/output error' });
  assert.equal(a.trees.rebuildDue(1, 999), false, 'not retried at once');
  assert.equal(a.trees.rebuildDue(1, 1000), true);
  a.trees.rebuild(1, failing, 1000);
  assert.equal(a.trees.rebuildDue(1, 2999), false, 'the pause doubles');
  assert.equal(a.trees.rebuildDue(2, 0), true, 'other partitions are not held back');
  assert.equal(a.trees.rebuild(1, a.data, 3000), true, 'once the disk answers, the tree is built');
  assert.equal(a.trees.rebuildDue(1, 3000), true);
});

test('large objects travel in several messages, each within the byte bound, both ways', async () => {
  const clock = new ManualClock();
  const [a, b] = [replica(clock), replica(clock)];
  const big = (tag: string) => tag.repeat(1024 * 1024 + 512 * 1024);
  const keysIn0: string[] = [];
  for (let i = 0; keysIn0.length < 6; i++) if (partitionOfKey(enc.encode(`big-${i}`), Q) === 0) keysIn0.push(`big-${i}`);
  for (const side of [a, b]) side.trees.rebuild(0, side.data);
  for (const [i, key] of keysIn0.entries()) await put(i % 2 === 0 ? a : b, key, written(undefined, i % 2 === 0 ? 'a.1' : 'b.1', big(String(i))));
  const sizes: number[] = [];
  const peer = peerOf(b, { requests: 0 });
  const watched: ExchangePeer = {
    ...peer,
    fetch: async (partition, keys) => {
      const objects = await peer.fetch(partition, keys);
      sizes.push(objects.reduce((sum, o) => sum + o.length, 0));
      return objects;
    },
    push: async (partition, keys, objects) => {
      sizes.push(objects.reduce((sum, o) => sum + o.length, 0));
      return peer.push(partition, keys, objects);
    },
  };
  const outcome = await exchangePartition(0, a.trees, a.data, watched);
  assert.equal(outcome.keysPushed + outcome.keysFetched, 6);
  // 1.5 MiB objects, 4 MiB per message: two per message at most, three on each side.
  assert.equal(sizes.length, 4, `messages: ${sizes.join(', ')}`);
  assert.ok(sizes.every((size) => size <= OBJECT_BYTES_PER_MESSAGE_MAX), `each message within the bound: ${sizes.join(', ')}`);
  for (const key of keysIn0) assert.ok(objectsEqual(a.store.get(0, enc.encode(key)), b.store.get(0, enc.encode(key))), key);
});

test('trees count tombstones and markers, so reaping skips partitions that hold none', async () => {
  const clock = new ManualClock();
  const a = replica(clock);
  const bytes = enc.encode('k');
  const partition = partitionOfKey(bytes, Q);
  a.trees.rebuild(partition, a.data);
  assert.equal(a.trees.mayHoldReapable(partition), false, 'an empty partition: nothing to reap');
  const value = written(undefined, 'a.1', 'v');
  await put(a, 'k', value);
  assert.equal(a.trees.mayHoldReapable(partition), false, 'a value is not reapable');
  await put(a, 'k', deleted(value, 'a.1', 100));
  assert.equal(a.trees.mayHoldReapable(partition), true, 'the delete is counted as it lands');
  const steps = await reapPartition(partition, a.data, [], { tombstoneGraceMs: 0, markerRetentionMs: 0 }, 1000, (n) => a.trees.countedReapable(partition, n));
  assert.equal(steps.tombstonesReaped, 1);
  assert.equal(a.trees.mayHoldReapable(partition), true, 'the marker is still there');
  await reapPartition(partition, a.data, [], { tombstoneGraceMs: 0, markerRetentionMs: 0 }, 1000, (n) => a.trees.countedReapable(partition, n));
  assert.equal(a.store.get(partition, bytes), undefined);
  assert.equal(a.trees.mayHoldReapable(partition), false, 'the marker is gone: nothing left to reap');
  const other = new PartitionTrees(shape, a.meta, silentLogger);
  await a.trees.save();
  await other.load();
  assert.equal(other.mayHoldReapable(partition), false, 'the counts are saved with the trees: no scan needed after a clean restart');
});

test('a rebuild done page by page, with writes landing between the pages, ends equal to the store', async (t) => {
  const random = Prng.fromSeed(testSeed(t, import.meta.url));
  const clock = new ManualClock();
  const a = replica(clock);
  const keyOf = (i: number) => `key-${i}`;
  const inPartition0 = Array.from({ length: 4000 }, (_, i) => keyOf(i)).filter((key) => partitionOfKey(enc.encode(key), Q) === 0);
  const half = inPartition0.slice(0, inPartition0.length / 2);
  for (const key of half) await put(a, key, written(undefined, 'a.1', 'v0'));
  await clock.advance(100); // most of them flushed to the engine; later writes stay in the buffer
  let step: string;
  let pages = 0;
  do {
    step = a.trees.rebuildPage(0, a.data, 25);
    pages++;
    for (let i = 0; i < 5; i++) {
      const key = inPartition0[random.int(inPartition0.length)] as string;
      const bytes = enc.encode(key);
      const current = a.store.get(0, bytes);
      if (current !== undefined && random.next() < 0.2) await a.store.update(0, bytes, () => REMOVE_OBJECT, { durable: false });
      else await put(a, key, written(current, 'a.1', `v${pages}`));
    }
    if (random.next() < 0.3) await clock.advance(100);
  } while (step === 'more');
  assert.equal(step, 'done');
  assert.ok(pages > 5, `rebuilt over ${pages} pages`);
  const paged = a.trees.tree(0)?.root();
  assert.ok(a.trees.rebuild(0, a.data));
  assert.deepEqual(paged, a.trees.tree(0)?.root(), 'the paged tree matches a rebuild in one go');
});

test('a replica that is only behind fetches and sends nothing back; segments are listed whole within the reply bound', async () => {
  const clock = new ManualClock();
  const [a, b] = [replica(clock), replica(clock)];
  for (const side of [a, b]) for (let p = 0; p < Q; p++) side.trees.rebuild(p, side.data);
  const keys = Array.from({ length: 400 }, (_, i) => `k-${i}`).filter((key) => partitionOfKey(enc.encode(key), Q) === 1);
  for (const key of keys) {
    const first = written(undefined, 'a.1', 'old');
    await put(a, key, first);
    await put(b, key, first);
  }
  const newer = keys.slice(0, 10);
  for (const key of newer) await put(a, key, written(a.store.get(1, enc.encode(key)), 'a.1', 'new'));
  const outcome = await exchangePartition(1, b.trees, b.data, peerOf(a, { requests: 0 }));
  assert.deepEqual({ fetched: outcome.keysFetched, pushed: outcome.keysPushed }, { fetched: 10, pushed: 0 });
  assert.deepEqual(a.trees.tree(1)?.root(), b.trees.tree(1)?.root());
  const answering = peerOf(a, { requests: 0 });
  const all = Array.from({ length: shape.segments }, (_, i) => i).slice(0, 64);
  const listed = await answering.keys(1, all);
  assert.equal(listed.covered, 64, 'a few keys per segment: every asked segment fits');
  assert.equal(listed.keys.length, keys.filter((key) => segmentOf(enc.encode(key), shape) < 64).length);
});

test('a segment listing hashes the partition a page at a time, letting other work in between', async () => {
  const clock = new ManualClock();
  const a = replica(clock);
  a.trees.rebuild(0, a.data);
  const keys = Array.from({ length: 12_000 }, (_, i) => `p-${i}`).filter((key) => partitionOfKey(enc.encode(key), Q) === 0);
  assert.ok(keys.length > 2000, `${keys.length} keys in partition 0`);
  for (const key of keys) await put(a, key, written(undefined, 'a.1', 'v'));
  let pauses = 0;
  const answering = answeringPeer(a.trees, a.data, async () => {}, { betweenPages: async () => void pauses++ });
  const segments = Array.from({ length: 64 }, (_, i) => i);
  const listed = await answering.keys(0, segments);
  assert.ok(pauses >= 2, `paused ${pauses} times for ${keys.length} keys`);
  assert.equal(listed.keys.length, keys.filter((key) => segmentOf(enc.encode(key), shape) < 64).length);
});
