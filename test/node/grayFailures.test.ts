/**
 * Gray failures (issue 15): peers that are slow, silent or one-sided rather than dead.
 * Coordinators hedge around a silent replica (coordinator/hedge.ts), and the failure
 * detector suspects a peer from its silence and trusts only answers to its own requests
 * (failureDetector.ts).
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { partitionOfKey } from '../../src/core/hash.ts';
import { clusterViewOf, preferenceOf } from '../../src/node/cluster.ts';
import { TestCluster } from '../support/testCluster.ts';

const enc = new TextEncoder();
const text = (value: string) => ({ value: enc.encode(value), contentType: 'text/plain' });

async function cluster(t: TestContext, ids: readonly string[], overrides: Record<string, unknown> = {}): Promise<TestCluster> {
  const started = await TestCluster.start(ids, overrides);
  t.after(() => started.stop());
  return started;
}

/** A key whose whole preference list starts with `prefix`. */
function keyStartingWith(c: TestCluster, prefix: readonly string[]): string {
  const config = c.member(prefix[0] as string).config;
  const view = clusterViewOf(config);
  for (let i = 0; i < 10_000; i++) {
    const key = `k${i}`;
    const order = preferenceOf(view, partitionOfKey(enc.encode(key), config.partitionCount));
    if (prefix.every((node, at) => order[at] === node)) return key;
  }
  throw new Error(`no key with a preference list starting ${prefix.join(',')}`);
}

test('a write hedges around a silent replica: W = N succeeds through a stand-in, well before the timeout', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd'], { requestTimeoutMs: 1000 });
  const key = keyStartingWith(c, ['a', 'b', 'c', 'd']);
  c.network.setMode('c', 'dropping');
  const started = c.clock.monotonicMs();
  await c.run(c.node('a').put(enc.encode(key), text('v'), { w: 3 }));
  const tookMs = c.clock.monotonicMs() - started;
  assert.ok(tookMs <= 200 + 10, `answered after the hedge delay (at most hedgeDelayMaxMs), not the 1000 ms timeout: ${tookMs} ms`);
  const toD = c.network.sentOfType('replica-put').filter((m) => m.from === 'a' && m.to === 'd');
  assert.equal(toD.length, 1, 'd, the next of the preference list, was asked as a stand-in');
  const read = await c.run(c.node('d').get(enc.encode(key), { r: 1 }));
  assert.equal(read.object?.siblings.length, 1, 'the stand-in holds the write (as a hint for c)');
});

test('a read hedges around a silent replica: R = N succeeds through a stand-in holding the key', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd'], { requestTimeoutMs: 1000, probeIntervalMs: 60_000 });
  const key = keyStartingWith(c, ['a', 'b', 'c', 'd']);
  c.network.setMode('c', 'dropping');
  await c.run(c.node('b').put(enc.encode(key), text('v'), { w: 3 }));
  assert.ok(c.network.sentOfType('replica-put').some((m) => m.from === 'b' && m.to === 'd'), 'the write went to d, as a hint for c');
  const started = c.clock.monotonicMs();
  const read = await c.run(c.node('a').get(enc.encode(key), { r: 3 }));
  assert.ok(c.clock.monotonicMs() - started <= 210, 'answered after the hedge delay');
  assert.equal(read.object?.siblings.length, 1);
  assert.ok(c.network.sentOfType('replica-get').some((m) => m.from === 'a' && m.to === 'd'), 'd was asked');
});

test('hedges go only to stand-ins believed up, and a request without one waits for its own targets', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd'], { requestTimeoutMs: 1000 });
  const key = keyStartingWith(c, ['a', 'b', 'c', 'd']);
  c.network.setMode('d', 'unreachable');
  await c.run(c.node('a').put(enc.encode(keyStartingWith(c, ['d', 'a'])), text('v'), { w: 1 }));
  assert.equal(c.node('a').peers().find((p) => p.id === 'd')?.status, 'down');
  c.network.setMode('c', 'dropping');
  const failed = await c.run(c.node('a').put(enc.encode(key), text('v'), { w: 3 }).catch((error: unknown) => error));
  assert.ok(failed instanceof Error, 'no stand-in is up: the write cannot reach W = 3');
  assert.equal(c.network.sentOfType('replica-put').filter((m) => m.to === 'd' && m.from === 'a').length, 0, 'no hedge to a peer judged down');
});

test('a peer that sends us requests but never answers ours is down for us, and up again within a probe round of healing', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c'], { requestTimeoutMs: 500, probeIntervalMs: 200 });
  // One way: a's messages to c vanish (requests and replies alike); c's reach a.
  c.network.block('a', 'c');
  const key = keyStartingWith(c, ['a', 'b', 'c']);
  await c.run(c.node('a').put(enc.encode(key), text('from-a')));
  const fromC = c.network.sent.filter((m) => m.from === 'c' && m.to === 'a').length;
  await c.run(c.node('c').put(enc.encode(keyStartingWith(c, ['c', 'a', 'b'])), text('from-c'), { w: 1 }));
  await c.advance(1000);
  assert.ok(c.network.sent.filter((m) => m.from === 'c' && m.to === 'a').length > fromC, "c's requests go on reaching a");
  const seen = c.node('a').peers().find((p) => p.id === 'c');
  assert.equal(seen?.status, 'down', JSON.stringify(seen));
  c.network.unblock('a', 'c');
  await c.advance(300 + 500);
  assert.equal(c.node('a').peers().find((p) => p.id === 'c')?.status, 'up', 'a probe found it');
});

test('silence with requests waiting makes a peer suspect before any timeout, with the evidence in its view', async (t) => {
  // Probes rarely: the silence is judged when the next request goes to the peer.
  const c = await cluster(t, ['a', 'b', 'c'], { requestTimeoutMs: 5000, probeIntervalMs: 60_000 });
  const key = keyStartingWith(c, ['a', 'b', 'c']);
  await c.run(c.node('a').put(enc.encode(key), text('warm')));
  c.network.setMode('c', 'dropping');
  const pending = c.node('a').put(enc.encode(key), text('v'), { w: 3 }).catch((error: unknown) => error);
  await c.advance(600);
  assert.equal(c.node('a').peers().find((p) => p.id === 'c')?.status, 'up', 'not suspected while nothing else is sent to it');
  const read = c.node('a').get(enc.encode(key), { r: 3 }).catch((error: unknown) => error);
  const seen = c.node('a').peers().find((p) => p.id === 'c');
  assert.equal(seen?.status, 'suspect', 'suspected long before the 5 s timeout');
  assert.match(seen?.lastError ?? '', /^SILENT: no answer for \d+ ms with \d+ requests waiting/);
  assert.ok((seen?.evidence.inFlight ?? 0) >= 1);
  assert.ok((seen?.evidence.suspicion ?? 0) >= 8, JSON.stringify(seen?.evidence));
  assert.ok((seen?.evidence.samples ?? 0) > 0 && seen?.evidence.rttMs !== undefined, 'its earlier answers were measured');
  await c.run(Promise.all([pending, read]));
});

test('a hedge stand-in that holds nothing for the key counts toward R only once the replica it stands in for failed', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c', 'd'], { requestTimeoutMs: 1000, probeIntervalMs: 60_000 });
  const key = keyStartingWith(c, ['a', 'b', 'c', 'd']);
  await c.run(c.node('a').put(enc.encode(key), text('v'), { w: 3 }));
  c.network.setMode('c', 'dropping');
  const started = c.clock.monotonicMs();
  const read = await c.run(c.node('a').get(enc.encode(key), { r: 3 }));
  const tookMs = c.clock.monotonicMs() - started;
  assert.ok(c.network.sentOfType('replica-get').some((m) => m.from === 'a' && m.to === 'd'), 'd was asked at the hedge');
  // d's empty answer is no evidence against c while c may still answer: the read waits for
  // c's request to run out, then answers (sloppy quorum) rather than fail.
  assert.ok(tookMs >= 1000 - 1, `answered once c's request ran out, not at the hedge: ${tookMs} ms`);
  assert.equal(read.object?.siblings.length, 1, 'the value a and b hold');
});

test('a node that lost every peer probes when a request finds too few up, and serves that request once a peer answers', async (t) => {
  const c = await cluster(t, ['a', 'b', 'c'], { probeIntervalMs: 60_000, hedgeDelayMaxMs: 200 });
  c.network.setMode('b', 'unreachable');
  c.network.setMode('c', 'unreachable');
  await c.run(c.node('a').put(enc.encode(keyStartingWith(c, ['a', 'b', 'c'])), text('v'), { w: 1 }));
  assert.deepEqual(c.node('a').peers().map((p) => p.status), ['down', 'down']);
  // Still cut off: the request waits for the probes it asked for, at most hedgeDelayMaxMs, then is refused.
  let started = c.clock.monotonicMs();
  const refused = await c.run(c.node('a').get(enc.encode('k'), { r: 2 }).catch((error: unknown) => error));
  assert.ok(refused instanceof Error, 'no peer came back: refused');
  const waitedMs = c.clock.monotonicMs() - started;
  assert.ok(waitedMs >= 200 - 1 && waitedMs <= 200 + 10, `waited for a peer up to hedgeDelayMaxMs: ${waitedMs} ms`);
  // Healed: the next request's probes are answered within a round trip, and it is served.
  c.network.setMode('b', 'up');
  c.network.setMode('c', 'up');
  await c.advance(15_000); // the prober kicks a round at most once per quarter interval (60 s here)
  started = c.clock.monotonicMs();
  const read = await c.run(c.node('a').get(enc.encode('k'), { r: 2 }).catch((error: unknown) => error));
  assert.ok(!(read instanceof Error), `served once a peer answered a probe: ${String(read)}`);
  assert.ok(c.clock.monotonicMs() - started < 50, 'within a round trip or so, not a probe round later');
  assert.ok(c.node('a').peers().some((p) => p.status === 'up'));
});
