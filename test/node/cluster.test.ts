/**
 * A cluster in one process (TestCluster: openNode per node, memory engines, an in-memory
 * network, one manual clock): forwarding, quorums, sloppy quorum and hinted handoff, read
 * repair, failure detection, durability choice, and peers' garbage.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { decodeContext } from '../../src/core/context.ts';
import { partitionOfKey } from '../../src/core/hash.ts';
import type { StoredObject } from '../../src/core/object.ts';
import { clusterViewOf, preferenceOf as preferenceOfPartition } from '../../src/node/cluster.ts';
import { nodeConfigFrom } from '../../src/node/config.ts';
import { QuorumUnreachableError, RequestError, RequestTimeoutError } from '../../src/node/errors.ts';
import { parseReply, type ReplicaPutMessage } from '../../src/node/protocol.ts';
import type { ShoalNode } from '../../src/node/shoalNode.ts';
import { Prng } from '../../src/sim/prng.ts';
import { testSeed } from '../support/seed.ts';
import { TestCluster } from '../support/testCluster.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (value: string) => ({ value: enc.encode(value), contentType: 'text/plain' });

async function cluster(t: TestContext, ids: readonly string[], overrides: Record<string, unknown> = {}): Promise<TestCluster> {
  const started = await TestCluster.start(ids, overrides);
  t.after(() => started.stop());
  return started;
}

/** The preference list of a key, whole (every member, in ring order). */
function preferenceOf(c: TestCluster, key: string): string[] {
  const first = c.members.values().next().value;
  assert.ok(first !== undefined);
  const view = clusterViewOf(first.config);
  return [...preferenceOfPartition(view, partitionOfKey(enc.encode(key), first.config.partitionCount))];
}

/** A key whose preference list satisfies `wanted` (the first of k0, k1, … other than `except`). */
function keyWhere(c: TestCluster, wanted: (order: string[]) => boolean, except?: string): { key: string; order: string[] } {
  for (let i = 0; i < 10_000; i++) {
    const key = `k${i}`;
    const order = preferenceOf(c, key);
    if (key !== except && wanted(order)) return { key, order };
  }
  throw new Error('no such key');
}

const values = (object: StoredObject | undefined): string[] => (object?.siblings ?? []).map((s) => dec.decode(s.value)).sort();
const local = (node: ShoalNode, key: string): string[] => values(node.localVersions(enc.encode(key))?.object);

function coordinatorOf(context: string): string | undefined {
  const decoded = decodeContext(context, 'shoal');
  assert.ok(decoded.ok);
  return decoded.coordinator;
}

function rejectsWith(code: string) {
  return (error: unknown): boolean => error instanceof RequestError && error.code === code;
}

test('a node outside the top N forwards to the first primary, which issues the dot', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd']);
  const { key, order } = keyWhere(c, (o) => o[3] === 'd');
  const [p1, p2, p3] = order as [string, string, string];
  const written = await c.run(c.node('d').put(enc.encode(key), text('v1')));
  assert.deepEqual(
    written.object.siblings.map((s) => s.dot.actor),
    [c.node(p1).actor],
    'the first primary coordinated the write',
  );
  const forwards = c.network.sentOfType('forward');
  assert.deepEqual(forwards.map((f) => [f.from, f.to]), [['d', p1]]);
  for (const id of [p1, p2, p3]) assert.deepEqual(local(c.node(id), key), ['v1'], id);
  assert.equal(c.node('d').localVersions(enc.encode(key)), undefined, 'the forwarding node keeps no copy');

  const read = await c.run(c.node('d').get(enc.encode(key)));
  assert.deepEqual(values(read.object), ['v1']);
  assert.equal(read.context, written.context);
  assert.equal(c.network.sentOfType('forward').length, 1, 'a read is coordinated where it enters (it issues no dot)');
  assert.ok(c.network.sentOfType('replica-get').some((m) => m.from === 'd'), 'd read the replicas itself');

  // The first primary unreachable: the next one takes the request.
  c.network.setMode(p1, 'unreachable');
  const second = await c.run(c.node('d').put(enc.encode(key), { ...text('v2'), context: read.context }));
  assert.deepEqual(second.object.siblings.map((s) => s.dot.actor), [c.node(p2).actor]);
  assert.deepEqual(c.network.sentOfType('forward').slice(1).map((f) => f.to), [p2], 'after the put to the first');
});

test('a forward tells the receiver its time budget in whole milliseconds', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd'], { forwardTimeoutMs: 10 });
  const { key } = keyWhere(c, (o) => o[3] === 'd');
  await c.run(c.node('d').put(enc.encode(key), text('v')));
  const [forward] = c.network.sentOfType('forward');
  assert.equal((forward?.message as { timeoutMs: number }).timeoutMs, 7, '10 ms less a quarter, rounded down');
});

test('a bad option is refused where it enters; a forwarded quorum failure is tried elsewhere', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd']);
  const { key, order } = keyWhere(c, (o) => o[3] === 'd');
  await assert.rejects(c.run(c.node('d').put(enc.encode(key), text('v'), { w: 4 })), rejectsWith('REQUEST_OPTION_INVALID'));
  assert.equal(c.network.sentOfType('forward').length, 0, 'refused where it entered');
  c.network.setMode(order[1] as string, 'unreachable');
  c.network.setMode(order[2] as string, 'unreachable');
  const failed = c.run(c.node('d').put(enc.encode(key), text('v'), { w: 3 }));
  await assert.rejects(failed, (error: unknown) => {
    assert.ok(error instanceof QuorumUnreachableError, String(error));
    return true;
  });
  // The first primary could not reach W = 3; another coordinator's view might have, so d
  // tried the rest: the other primaries are unreachable, and d itself could not either.
  assert.equal(c.network.sentOfType('forward')[0]?.to, order[0]);
  assert.deepEqual(c.node('d').peers().filter((p) => p.status === 'down').map((p) => p.id).sort(), [order[1], order[2]].sort(), 'd tried the other primaries too');
});

test('when no primary can be reached the node coordinates itself with stand-ins and hints', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd', 'e']);
  const { key, order } = keyWhere(c, (o) => o[4] === 'e');
  const [p1, p2, p3, f1] = order as [string, string, string, string];
  for (const primary of [p1, p2, p3]) c.network.setMode(primary, 'unreachable');
  const written = await c.run(c.node('e').put(enc.encode(key), text('sloppy')));
  assert.deepEqual(written.object.siblings.map((s) => s.dot.actor), [c.node('e').actor], 'the node coordinated itself');
  assert.deepEqual(c.node(f1).localHints().byTarget, { [p1]: 1 });
  assert.deepEqual(c.node('e').localHints().byTarget, { [p2]: 1 });
});

test('W = 2 of 3: a write succeeds with one node down and gets a 503 with two down', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c']);
  c.network.setMode('c', 'unreachable');
  await c.run(c.node('a').put(enc.encode('k'), text('v1')));
  assert.deepEqual(local(c.node('b'), 'k'), ['v1']);
  assert.equal(c.node('a').peers().find((p) => p.id === 'c')?.status, 'down');

  c.network.setMode('b', 'unreachable');
  await assert.rejects(c.run(c.node('a').put(enc.encode('k2'), text('v2'))), (error: unknown) => {
    assert.ok(error instanceof QuorumUnreachableError);
    assert.equal(error.code, 'QUORUM_UNREACHABLE');
    assert.deepEqual(error.replicas, { needed: 2, answered: 1, failed: 1, targets: 2 });
    assert.match(error.message, /needed 2, 1 of 2 replicas answered/);
    return true;
  });
  // Both now known down: refused at once, nothing written.
  await assert.rejects(c.run(c.node('a').put(enc.encode('k3'), text('v3'))), rejectsWith('QUORUM_UNREACHABLE'));
  assert.equal(c.node('a').localVersions(enc.encode('k3')), undefined);
  await assert.rejects(c.run(c.node('a').get(enc.encode('k'))), rejectsWith('QUORUM_UNREACHABLE'));
  const one = await c.run(c.node('a').get(enc.encode('k'), { r: 1 }));
  assert.deepEqual(values(one.object), ['v1'], 'R = 1 still reads');
});

test('a silent replica costs one request timeout, then it is skipped', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c'], { requestTimeoutMs: 500 });
  c.network.setMode('c', 'dropping');
  const slow = await c.run(c.node('a').put(enc.encode('k'), text('v'), { w: 3 }).catch((error: unknown) => error));
  assert.ok(slow instanceof RequestTimeoutError, String(slow));
  assert.deepEqual(slow.replicas, { needed: 3, answered: 2, failed: 0, targets: 3 });
  assert.match(slow.message, /did not finish within 500 ms/);
  await c.advance(10);
  const silent = c.node('a').peers().find((p) => p.id === 'c');
  assert.equal(silent?.status, 'suspect', 'the timeout made it suspect');
  assert.match(silent?.lastError ?? '', /TIMEOUT/);
  const started = c.clock.monotonicMs();
  await c.run(c.node('a').put(enc.encode('k2'), text('v')));
  assert.ok(c.clock.monotonicMs() - started < 500, 'the next write does not wait for it');
});

test('the failure detector probes a down peer and marks it up when it answers', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c'], { probeIntervalMs: 100 });
  c.network.setMode('c', 'unreachable');
  await c.run(c.node('a').put(enc.encode('k'), text('v')));
  const down = c.node('a').peers().find((p) => p.id === 'c');
  assert.equal(down?.status, 'down');
  assert.match(down?.lastError ?? '', /UNREACHABLE/);
  await c.advance(1000);
  assert.equal(c.node('a').peers().find((p) => p.id === 'c')?.status, 'down', 'probes fail while it is unreachable');
  c.network.setMode('c', 'up');
  await c.advance(200);
  const up = c.node('a').peers().find((p) => p.id === 'c');
  assert.equal(up?.status, 'up');
  assert.ok(c.network.sentOfType('ping').some((m) => m.from === 'a' && m.to === 'c'));
});

test('concurrent writes through different coordinators, or through one, come back as siblings', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c']);
  await c.run(Promise.all([c.node('a').put(enc.encode('x'), text('from-a')), c.node('b').put(enc.encode('x'), text('from-b'))]));
  const both = await c.run(c.node('c').get(enc.encode('x')));
  assert.deepEqual(values(both.object), ['from-a', 'from-b']);

  await c.run(c.node('a').put(enc.encode('y'), text('first')));
  await c.run(c.node('a').put(enc.encode('y'), text('second')));
  const same = await c.run(c.node('b').get(enc.encode('y')));
  assert.deepEqual(values(same.object), ['first', 'second']);
  const a = c.node('a').actor;
  assert.deepEqual(same.object?.siblings.map((s) => `${s.dot.actor}:${s.dot.counter}`), [`${a}:1`, `${a}:2`]);

  const resolved = await c.run(c.node('c').put(enc.encode('y'), { ...text('merged'), context: same.context }));
  assert.deepEqual(values(resolved.object), ['merged']);
  assert.deepEqual(values((await c.run(c.node('a').get(enc.encode('y')))).object), ['merged']);
});

test('a write that supersedes what its coordinator has seen replaces those siblings, also when forwarded; unseen ones stay', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd']);
  const { key, order } = keyWhere(c, (o) => o[3] === 'd');
  const [p1, p2] = order as [string, string];
  const k = enc.encode(key);
  await c.run(Promise.all([c.node(p1).put(k, text('one')), c.node(p2).put(k, text('two'))]));
  await c.run(c.node(p1).get(k, { r: 3 })); // both siblings everywhere (read repair)
  await c.advance(300);
  const set = await c.run(c.node('d').put(k, { ...text('set'), supersedeSeen: true }));
  assert.deepEqual(values(set.object), ['set'], 'd forwards to the first primary, which supersedes both');
  assert.ok(c.network.sentOfType('forward').some((m) => m.to === p1 && (m.message as { supersedeSeen?: boolean }).supersedeSeen === true));
  // A concurrent write the coordinator has not seen (p1 cut off while p2 takes it) stays a sibling.
  c.network.setMode(p1, 'unreachable');
  await c.run(c.node(p2).put(k, text('unseen'), { w: 1 }));
  c.network.setMode(p1, 'up');
  const again = await c.run(c.node(p1).put(k, { ...text('set-again'), supersedeSeen: true }, { w: 1 }));
  assert.deepEqual(values(again.object), ['set-again']);
  assert.deepEqual(values((await c.run(c.node(p1).get(k, { r: 3 }))).object), ['set-again', 'unseen']);
});

test('a read names its fastest replica in the context, and a write carrying it is coordinated there (paper 4.5)', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd'], { probeIntervalMs: 100 });
  const { key, order } = keyWhere(c, (o) => o[3] === 'd');
  const [p1, p2] = order as [string, string];
  const k = enc.encode(key);
  await c.run(c.node(p1).put(k, text('v1')));
  const read = await c.run(c.node(p2).get(k));
  assert.equal(coordinatorOf(read.context), p2, 'a primary reads its own copy first');
  const forwardedRead = await c.run(c.node('d').get(k));
  assert.equal(coordinatorOf(forwardedRead.context), p1, 'd forwards to the first primary, whose own read is first');
  const written = await c.run(c.node(p1).put(k, { ...text('v2'), context: read.context }));
  assert.deepEqual(written.object.siblings.map((s) => s.dot.actor), [c.node(p2).actor], `${p1} hands the write to ${p2}`);
  assert.equal(coordinatorOf(written.context), p2);
  c.network.setMode(p2, 'unreachable');
  await c.run(c.node(p1).get(k)); // p1 learns that p2 is down
  await c.advance(50);
  const fallback = await c.run(c.node(p1).put(k, { ...text('v3'), context: written.context }));
  assert.deepEqual(fallback.object.siblings.map((s) => s.dot.actor), [c.node(p1).actor], 'a preferred replica believed down is passed over');
});

test('read repair brings a stale replica up to date', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c'], { probeIntervalMs: 100 });
  c.network.setMode('c', 'unreachable');
  await c.run(c.node('a').put(enc.encode('k'), text('v1')));
  assert.equal(c.node('c').localVersions(enc.encode('k')), undefined, 'c missed the write');
  c.network.setMode('c', 'up');
  await c.advance(300); // a's probe finds c again
  const read = await c.run(c.node('a').get(enc.encode('k')));
  assert.deepEqual(values(read.object), ['v1']);
  await c.advance(300); // the linger ends and the repair lands
  assert.deepEqual(local(c.node('c'), 'k'), ['v1']);
  assert.ok(c.network.sentOfType('replica-put').some((m) => m.to === 'c'));
  assert.equal(c.node('a').status().requestsInFlight, 0);
});

test('a fallback keeps a hint for a down primary and hands it back when the primary returns', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd'], { hintDeliveryIntervalMs: 100, probeIntervalMs: 100 });
  const { key, order } = keyWhere(c, () => true);
  const [p1, p3, fallback] = [order[0], order[2], order[3]] as [string, string, string];
  c.network.setMode(p3, 'unreachable');
  await c.run(c.node(p1).put(enc.encode(key), text('v1'))); // p3 fails (now known down); the fallback replaces it
  await c.run(c.node(p1).put(enc.encode(key), text('v2')));
  assert.deepEqual(c.node(fallback).localHints(), { total: 1, byTarget: { [p3]: 1 }, hintsMax: 100_000 });
  assert.equal(c.node(fallback).localVersions(enc.encode(key)), undefined, 'the hint is not in its own store');
  const hinted = c.network.sentOfType('replica-put').find((m) => m.to === fallback)?.message as ReplicaPutMessage;
  assert.equal(hinted.hintFor, p3);

  await c.advance(1000);
  assert.equal(c.node(fallback).localHints().total, 1, 'not delivered while the owner is unreachable');
  assert.ok(c.node(fallback).status().hints.failures >= 1);

  c.network.setMode(p3, 'up');
  await c.advance(60_000 + 1000); // past the longest backoff
  assert.deepEqual(local(c.node(p3), key), ['v1', 'v2'], 'both writes reached the owner');
  assert.equal(c.node(fallback).localHints().total, 0, 'deleted once the owner acknowledged');
  assert.equal(c.node(fallback).status().hints.delivered, 1, 'one hint per key: the two writes were merged');
});

test('reads that reach a fallback see its hinted versions', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd']);
  const { key, order } = keyWhere(c, () => true);
  const [p1, p3, fallback] = [order[0], order[2], order[3]] as [string, string, string];
  c.network.setMode(p3, 'unreachable');
  await c.run(c.node(p1).put(enc.encode(key), text('hinted')));
  assert.equal(c.node(fallback).localHints().total, 1);
  const partition = partitionOfKey(enc.encode(key), 64);
  const reply = parseReply(await c.run(c.network.transport('probe').request(fallback, { type: 'replica-get', partition, key: enc.encode(key) }, 1000)));
  assert.equal(reply.type, 'object');
  assert.ok(reply.object !== undefined, 'the fallback answers with its hint');
  // With two primaries down, a read at R = 2 is answered by the up primary and the fallback.
  c.network.setMode(order[1] as string, 'unreachable');
  await c.run(c.node(p1).get(enc.encode(key), { r: 1 })); // learns the second primary is down on the way
  const read = await c.run(c.node(p1).get(enc.encode(key), { r: 2 }));
  assert.deepEqual(values(read.object), ['hinted']);
});

test('a full hint store refuses to stand in; the coordinator counts it as failed', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd'], { hintsMax: 1 });
  const first = keyWhere(c, (o) => o[2] === 'c' && o[3] === 'd');
  const second = keyWhere(c, (o) => `${o}` === `${first.order}`, first.key);
  const [p1] = first.order as [string];
  c.network.setMode('c', 'unreachable');
  await c.run(c.node(p1).put(enc.encode(first.key), text('one'), { w: 3 }));
  assert.deepEqual(c.node('d').localHints().byTarget, { c: 1 }, 'd stood in for c');
  await assert.rejects(c.run(c.node(p1).put(enc.encode(second.key), text('two'), { w: 3 })), (error: unknown) => {
    assert.ok(error instanceof QuorumUnreachableError, String(error));
    assert.deepEqual({ ...error.replicas, answered: 0 }, { needed: 3, answered: 0, failed: 1, targets: 3 });
    return true;
  });
  assert.equal(c.node('d').localHints().total, 1, 'the bound holds');
  await c.run(c.node(p1).put(enc.encode(second.key), text('two'), { w: 2 }));
});

test('durableWrites one asks exactly one replica to fsync: the first other target', async (t) => {
  for (const mode of ['one', 'all', 'none'] as const) {
    const c = await cluster(t, ['a', 'b', 'c'], { durableWrites: mode, flushIntervalMs: 60_000 });
    await c.run(c.node('a').put(enc.encode('k'), text('v')));
    await c.advance(10);
    const puts = c.network.sentOfType('replica-put').map((m) => [m.to, (m.message as ReplicaPutMessage).durable]);
    const durableRemote = puts.filter(([, durable]) => durable).map(([to]) => to);
    const coordinatorDurable = c.member('a').engine.durableBatchesWritten > 0;
    switch (mode) {
      case 'one':
        assert.deepEqual(durableRemote, [puts[0]?.[0]], 'one remote replica, the first target');
        assert.equal(coordinatorDurable, false, 'the coordinator answers from its buffer');
        assert.equal(c.member(puts[0]?.[0] as string).engine.durableBatchesWritten, 1);
        assert.equal(c.member(puts[1]?.[0] as string).engine.durableBatchesWritten, 0);
        break;
      case 'all':
        assert.deepEqual(durableRemote.sort(), ['b', 'c']);
        assert.equal(coordinatorDurable, true);
        break;
      case 'none':
        assert.deepEqual(durableRemote, []);
        assert.equal(coordinatorDurable, false);
        break;
    }
  }
});

test('group commit: the durable target fsyncs in its own time only when W can be reached without it', async (t) => {
  const cases = [
    { mode: 'one', w: 2, grouped: true },
    { mode: 'one', w: 3, grouped: false },
    { mode: 'all', w: 2, grouped: false },
  ] as const;
  for (const { mode, w, grouped } of cases) {
    const c = await cluster(t, ['a', 'b', 'c'], { durableWrites: mode, flushIntervalMs: 60_000, groupCommitMs: 50 });
    await c.run(c.node('a').put(enc.encode('k'), text('v'), { w }));
    const durablePuts = c.network.sentOfType('replica-put').map((m) => m.message as ReplicaPutMessage).filter((m) => m.durable);
    assert.ok(durablePuts.length > 0, `${mode} w=${w}: a durable replica-put was sent`);
    assert.deepEqual(durablePuts.map((m) => m.groupCommit === true), durablePuts.map(() => grouped), `${mode} w=${w}`);
  }
});

test('per-request n, r and w are validated against the cluster N', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c']);
  const key = enc.encode('k');
  await assert.rejects(c.run(c.node('a').get(key, { n: 4 })), (e: unknown) => rejectsWith('REQUEST_OPTION_INVALID')(e) && /n must be an integer 1-3, got 4/.test(String(e)));
  await assert.rejects(c.run(c.node('a').put(key, text('v'), { n: 2, w: 3 })), /w must be an integer 1-2, got 3/);
  await assert.rejects(c.run(c.node('a').get(key, { r: 0 })), /r must be an integer 1-3/);
  await assert.rejects(c.run(c.node('a').get(key, { r: 1.5 })), rejectsWith('REQUEST_OPTION_INVALID'));
  const { key: single, order } = keyWhere(c, (o) => o[0] === 'a');
  await c.run(c.node('a').put(enc.encode(single), text('only one'), { n: 1 }));
  assert.equal(c.network.sentOfType('replica-put').length, 0, 'n = 1: the first primary alone');
  assert.equal(c.node(order[1] as string).localVersions(enc.encode(single)), undefined);
  const all = await c.run(c.node('b').get(enc.encode(single), { r: 3 }));
  assert.deepEqual(values(all.object), ['only one'], 'r = 3 asks all three');
  await c.advance(300);
  assert.deepEqual(local(c.node(order[1] as string), single), ['only one'], 'and read repair copies it to the others');
});

test('garbage from a peer gets an error reply, and the node carries on', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c']);
  // A buggy member: b's own endpoint sends it (a node that is not a member is refused first, below).
  const mallory = c.member('b').transport;
  const object = Uint8Array.of(1, 0x92, 0x90, 0x90); // objectCodec: version 1, [[], []]
  const partition = partitionOfKey(enc.encode('k'), 64);
  const garbage: unknown[] = [
    null,
    'hello',
    42,
    [1, 2, 3],
    { type: 'nonsense' },
    { type: 'replica-put', partition: 'x', key: enc.encode('k'), object, durable: true },
    { type: 'replica-put', partition, key: enc.encode('k'), object: Uint8Array.of(9, 9), durable: true },
    { type: 'replica-put', partition: (partition + 1) % 64, key: enc.encode('k'), object, durable: true },
    { type: 'replica-get', partition, key: new Uint8Array(0) },
    { type: 'forward', op: 'put', key: enc.encode('k'), n: 3, r: 2, w: 2, timeoutMs: 100 },
    { type: 'hint-delivery', partition, key: enc.encode('k') },
  ];
  for (const message of garbage) {
    const reply = (await c.run(mallory.request('a', message, 1000))) as { type: string; code: string; message: string };
    assert.equal(reply.type, 'error', JSON.stringify(String(message)));
    assert.equal(reply.code, 'BAD_MESSAGE');
    assert.match(reply.message, /bad internode message/);
  }
  // Well formed, but naming a node that is not a member: refused (views differ during membership changes), not garbage.
  const stranger = (await c.run(mallory.request('a', { type: 'replica-put', partition, key: enc.encode('k'), object, durable: true, hintFor: 'mallory' }, 1000))) as { type: string; code: string };
  assert.equal(stranger.type, 'error');
  assert.equal(stranger.code, 'UNKNOWN_MEMBER');
  // The same write from a node that never was a member is not taken at all.
  const outsider = c.network.transport('outsider');
  const refused = (await c.run(outsider.request('a', { type: 'replica-put', partition, key: enc.encode('k'), object, durable: true }, 1000))) as { type: string; code: string };
  assert.deepEqual([refused.type, refused.code], ['error', 'NOT_PERMITTED']);
  assert.equal(c.node('a').localVersions(enc.encode('k')), undefined, 'nothing was stored');
  await c.run(c.node('a').put(enc.encode('k'), text('fine')));
  assert.deepEqual(local(c.node('a'), 'k'), ['fine']);
  const ping = await c.run(outsider.request('a', { type: 'ping' }, 1000));
  assert.deepEqual(ping, { type: 'pong' });
});

test('a stopping node refuses peers, and the others carry on without it', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c']);
  await c.run(c.node('c').stop());
  const reply = await c.run(c.member('a').transport.request('c', { type: 'ping' }, 1000));
  assert.deepEqual(reply, { type: 'error', code: 'NODE_NOT_SERVING', message: 'node is stopping' });
  await c.run(c.node('a').put(enc.encode('k'), text('v')));
  await assert.rejects(c.run(c.node('c').get(enc.encode('k'))), rejectsWith('NODE_NOT_SERVING'));
});

test('a cluster of one runs the default quorum as N = R = W = 1', () => {
  const view = clusterViewOf(nodeConfigFrom({ id: 'solo' }));
  assert.deepEqual(view.quorum, { n: 1, r: 1, w: 1 });
  assert.deepEqual(view.quorumLowered, { n: 3, r: 2, w: 2 });
  assert.deepEqual(view.members, ['solo']);
  const trio = clusterViewOf(nodeConfigFrom({ id: 'a', cluster: 'a@127.0.0.1:1,b@127.0.0.1:2,c@127.0.0.1:3' }));
  assert.deepEqual(trio.quorum, { n: 3, r: 2, w: 2 });
  assert.equal(trio.quorumLowered, undefined);
  assert.deepEqual([...trio.peers.keys()], ['b', 'c']);
});

test('randomised: with nodes failing and healing, every acknowledged write is read back at the end', async (t) => {
  const seed = testSeed(t, import.meta.url);
  const random = Prng.fromSeed(seed);
  const ids = ['a', 'b', 'c', 'd', 'e'];
  const c = await TestCluster.start(ids, { hintDeliveryIntervalMs: 200, probeIntervalMs: 200, requestTimeoutMs: 500 }, { seed });
  t.after(() => c.stop());
  const keys = ['k1', 'k2', 'k3', 'k4'];
  const acknowledged = new Map<string, Set<string>>(keys.map((k) => [k, new Set()]));
  const written = new Set<string>();
  const pick = <T>(items: readonly T[]): T => items[random.int(items.length)] as T;
  for (let round = 0; round < 12; round++) {
    for (const id of ids) c.network.setMode(id, random.next() < 0.2 ? pick(['unreachable', 'dropping'] as const) : 'up');
    const writes = Array.from({ length: 4 }, (_, i) => {
      const key = pick(keys);
      const value = `r${round}w${i}`;
      written.add(value);
      const coordinator = pick(ids);
      return c.node(coordinator).put(enc.encode(key), text(value)).then(
        () => acknowledged.get(key)?.add(value),
        () => undefined,
      );
    });
    await c.run(Promise.all(writes));
  }
  for (const id of ids) c.network.setMode(id, 'up');
  await c.advance(90_000); // probes find every node again, hints go home
  for (const id of ids) assert.equal(c.node(id).localHints().total, 0, `${id} delivered its hints`);
  for (const key of keys) {
    const read = await c.run(c.node(pick(ids)).get(enc.encode(key), { r: 3 }));
    const seen = values(read.object);
    for (const value of acknowledged.get(key) ?? []) assert.ok(seen.includes(value), `${key}: acknowledged ${value} lost (seed ${seed})`);
    for (const value of seen) assert.ok(written.has(value), `${key}: ${value} was never written`);
  }
  await c.advance(1000); // read repair lands
  for (const key of keys) {
    const copies = preferenceOf(c, key).slice(0, 3).map((id) => local(c.node(id), key).join());
    assert.deepEqual(new Set(copies).size, 1, `${key}: the primaries converged (seed ${seed})`);
  }
});

test('a forward carrying a write id is applied once: a duplicate in flight shares its outcome, a later one is refused', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c']);
  const b = c.member('b').transport;
  const key = enc.encode('once');
  const forward = { type: 'forward', op: 'put', key, value: enc.encode('v'), contentType: 'text/plain', n: 3, r: 2, w: 2, timeoutMs: 1000, writeId: 'b.1/7' };
  const [first, twin] = await c.run(Promise.all([b.request('a', forward, 1000), b.request('a', forward, 1000)]));
  assert.deepEqual(parseReply(first), parseReply(twin), 'both copies of the forward got the one outcome');
  const late = parseReply(await c.run(b.request('a', forward, 1000)));
  assert.deepEqual([late.type, late.type === 'error' ? late.code : undefined], ['error', 'WRITE_DUPLICATE']);
  await c.advance(500);
  for (const id of ['a', 'b', 'c']) assert.equal(c.node(id).localVersions(key)?.object.siblings.length, 1, `${id} holds one version, not one per copy`);
  // Another write id is another write.
  await c.run(b.request('a', { ...forward, writeId: 'b.1/8' }, 1000));
  assert.equal(c.node('a').localVersions(key)?.object.siblings.length, 2);
});
