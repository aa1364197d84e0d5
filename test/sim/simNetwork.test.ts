import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportError } from '../../src/ports/transport.ts';
import { Prng } from '../../src/sim/prng.ts';
import { Scheduler, Trace } from '../../src/sim/scheduler.ts';
import { SimClock } from '../../src/sim/simClock.ts';
import { SimNetwork, type NetworkFaults, type SimTransport } from '../../src/sim/simNetwork.ts';

const QUIET: NetworkFaults = { delayMinMs: 1, delayMaxMs: 5, dropRate: 0, duplicateRate: 0, refusedRate: 0 };

interface Net {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  endpoint(id: string, incarnation?: number): SimTransport;
}

function net(faults: Partial<NetworkFaults> = {}): Net {
  const scheduler = new Scheduler(new Trace());
  const network = new SimNetwork(scheduler, Prng.fromSeed(3).fork('network'), { ...QUIET, ...faults });
  return {
    scheduler,
    network,
    endpoint: (id, incarnation = 1) => network.attach(id, new SimClock(scheduler, { offsetMs: 0, driftPpm: 0 }, `${id}/${incarnation}`), incarnation),
  };
}

/** Serves requests by echoing them, counting how often the handler ran. */
function echo(endpoint: SimTransport): { calls: number } {
  const counter = { calls: 0 };
  endpoint.serve(async (from, message) => {
    counter.calls++;
    return { from, message };
  });
  return counter;
}

async function outcome(promise: Promise<unknown>): Promise<{ ok: true; value: unknown } | { ok: false; code: string }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, code: error instanceof TransportError ? error.code : String(error) }),
  );
}

describe('SimNetwork', () => {
  it('delivers a request and its reply within the delay bounds, as deep copies', async () => {
    const { scheduler, endpoint } = net();
    const a = endpoint('a');
    const b = endpoint('b');
    let received: { data: Uint8Array } | undefined;
    b.serve(async (_from, message) => {
      received = message as { data: Uint8Array };
      return { data: received.data };
    });
    const sent = { data: Uint8Array.of(1, 2, 3) };
    const reply = outcome(a.request('b', sent, 100));
    sent.data[0] = 9; // the sender's later mutation must not reach the receiver
    await scheduler.runUntil(50);
    const result = await reply;
    assert.deepEqual(received?.data, Uint8Array.of(1, 2, 3));
    assert.ok(result.ok);
    assert.deepEqual((result.value as { data: Uint8Array }).data, Uint8Array.of(1, 2, 3));
    assert.ok(scheduler.executedEvents === 2);
  });

  it('times a dropped request out on the requester clock', async () => {
    const { scheduler, endpoint, network } = net({ dropRate: 1 });
    const a = endpoint('a');
    echo(endpoint('b'));
    const reply = outcome(a.request('b', 'hello', 30));
    await scheduler.runUntil(29);
    assert.equal(a.pendingRequests, 1);
    await scheduler.runUntil(31);
    assert.deepEqual(await reply, { ok: false, code: 'TIMEOUT' });
    assert.equal(network.stats.dropped, 1);
  });

  it('delivers a duplicated request twice and settles the request once', async () => {
    const { scheduler, endpoint, network } = net({ duplicateRate: 1 });
    const a = endpoint('a');
    const counter = echo(endpoint('b'));
    const reply = outcome(a.request('b', 'hello', 100));
    await scheduler.runUntil(50);
    assert.equal(counter.calls, 2);
    assert.ok((await reply).ok);
    assert.equal(network.stats.duplicated, 1);
  });

  it('drops only a→b messages in a one-way partition a→b, and heals', async () => {
    const { scheduler, endpoint, network } = net();
    const a = endpoint('a');
    const b = endpoint('b');
    const toB = echo(b);
    const toA = echo(a);
    network.block('a', 'b');
    const ab = outcome(a.request('b', 'x', 20));
    const ba = outcome(b.request('a', 'y', 20));
    await scheduler.runUntil(30);
    assert.deepEqual(await ab, { ok: false, code: 'TIMEOUT' });
    // b's request reaches a, but a's reply travels a→b and is lost.
    assert.equal(toA.calls, 1);
    assert.deepEqual(await ba, { ok: false, code: 'TIMEOUT' });
    assert.equal(toB.calls, 0);
    network.unblock('a', 'b');
    const healed = outcome(a.request('b', 'x', 20));
    await scheduler.runUntil(60);
    assert.ok((await healed).ok);
  });

  it('a split blocks both ways; overlapping partitions each lift only their own block', async () => {
    const { endpoint, network } = net();
    endpoint('a');
    endpoint('b');
    network.split(['a'], ['b']);
    network.block('a', 'b');
    assert.deepEqual(network.blockedLinks(), ['a>b', 'b>a']);
    network.unblock('a', 'b');
    assert.equal(network.canReach('a', 'b'), false);
    network.unblock('a', 'b');
    network.unblock('b', 'a');
    assert.equal(network.canReach('a', 'b'), true);
    assert.equal(network.canReach('b', 'a'), true);
  });

  it('loses a message in flight when a partition starts before it lands', async () => {
    const { scheduler, endpoint, network } = net({ delayMinMs: 10, delayMaxMs: 10 });
    const a = endpoint('a');
    const counter = echo(endpoint('b'));
    const reply = outcome(a.request('b', 'x', 50));
    scheduler.schedule(5, 'partition', () => network.block('a', 'b'));
    await scheduler.runUntil(60);
    assert.equal(counter.calls, 0);
    assert.deepEqual(await reply, { ok: false, code: 'TIMEOUT' });
  });

  it('a crash rejects the crashed node’s requests and drops its replies and messages to it', async () => {
    const { scheduler, endpoint } = net({ delayMinMs: 5, delayMaxMs: 5 });
    const a = endpoint('a');
    const b = endpoint('b');
    let release: (() => void) | undefined;
    b.serve(() => new Promise((resolve) => (release = () => resolve('late'))));
    const fromA = outcome(a.request('b', 'x', 100));
    const fromB = outcome(b.request('a', 'y', 100));
    await scheduler.runUntil(6);
    b.kill();
    assert.deepEqual(await fromB, { ok: false, code: 'CLOSED' });
    release?.(); // the zombie handler finishes: its reply must not leave
    const toDead = outcome(a.request('b', 'z', 30));
    await scheduler.runUntil(200);
    assert.deepEqual(await fromA, { ok: false, code: 'TIMEOUT' });
    assert.deepEqual(await toDead, { ok: false, code: 'TIMEOUT' });
    assert.deepEqual(await outcome(b.request('a', 'again', 10)), { ok: false, code: 'CLOSED' });
  });

  it('refuses requests to a crashed node fast when it says so (connection refused)', async () => {
    const { scheduler, endpoint } = net({ refusedRate: 1 });
    const a = endpoint('a');
    endpoint('b').kill();
    const reply = outcome(a.request('b', 'x', 100));
    await scheduler.runUntil(20);
    assert.deepEqual(await reply, { ok: false, code: 'UNREACHABLE' });
  });

  it('turns a handler failure into REMOTE_ERROR, and reaches the restarted incarnation', async () => {
    const { scheduler, endpoint } = net();
    const a = endpoint('a');
    const b1 = endpoint('b', 1);
    b1.serve(async () => {
      throw new Error('no such key');
    });
    const failed = outcome(a.request('b', 'x', 50));
    await scheduler.runUntil(20);
    assert.deepEqual(await failed, { ok: false, code: 'REMOTE_ERROR' });
    assert.throws(() => endpoint('b', 2), /already has an open endpoint/);
    b1.kill();
    echo(endpoint('b', 2));
    const answered = outcome(a.request('b', 'x', 50));
    await scheduler.runUntil(40);
    assert.ok((await answered).ok);
  });

  it('refuses invalid fault settings', () => {
    const scheduler = new Scheduler(new Trace());
    assert.throws(() => new SimNetwork(scheduler, Prng.fromSeed(1), { ...QUIET, dropRate: 2 }), /dropRate/);
    assert.throws(() => new SimNetwork(scheduler, Prng.fromSeed(1), { ...QUIET, delayMinMs: 5, delayMaxMs: 1 }), /delay/);
  });
});
