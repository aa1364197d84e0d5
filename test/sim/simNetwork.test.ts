import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransportError, type PeerAddress } from '../../src/ports/transport.ts';
import { Prng } from '../../src/sim/prng.ts';
import { Scheduler, Trace } from '../../src/sim/scheduler.ts';
import { ManualClock, SimClock } from '../../src/sim/simClock.ts';
import { DIRECT_NETWORK, SimNetwork, type NetworkFaults, type SimTransport } from '../../src/sim/simNetwork.ts';
import { TestNetwork } from '../support/testNetwork.ts';

const QUIET: NetworkFaults = { delayMinMs: 1, delayMaxMs: 5, dropRate: 0, duplicateRate: 0, refusedRate: 0 };

interface Net {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  endpoint(id: string, incarnation?: number): SimTransport;
}

function net(faults: Partial<NetworkFaults> = {}, print?: (line: string) => void): Net {
  const scheduler = new Scheduler(new Trace(print));
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

  it('gives every node an address, kept across incarnations, and a given address when attached with one', () => {
    const { network, endpoint } = net();
    endpoint('a');
    endpoint('b').kill();
    const c = network.attach('c', new SimClock(new Scheduler(new Trace()), { offsetMs: 0, driftPpm: 0 }, 'c/1'), 1, { host: '10.0.0.3', port: 7000 });
    assert.deepEqual(network.addressOf('a'), { host: 'sim', port: 7001 });
    assert.deepEqual(network.addressOf('b'), { host: 'sim', port: 7002 });
    assert.deepEqual(network.addressOf('c'), { host: '10.0.0.3', port: 7000 });
    assert.equal(network.nodeAt({ host: '10.0.0.3', port: 7000 }), 'c');
    endpoint('b', 2);
    assert.deepEqual(network.addressOf('b'), { host: 'sim', port: 7002 }, 'a restarted node listens where it did');
    assert.equal(network.addressOf('nobody'), undefined);
    c.kill();
    assert.throws(() => network.attach('d', new SimClock(new Scheduler(new Trace()), { offsetMs: 0, driftPpm: 0 }, 'd/1'), 1, { host: 'sim', port: 7001 }), /already the address of node a/);
  });

  it('requestAt reaches the node at the address and says who answered', async () => {
    const { scheduler, network, endpoint } = net();
    const a = endpoint('a');
    const b = endpoint('b');
    echo(b);
    const reply = outcome(a.requestAt(network.addressOf('b') as { host: string; port: number }, 'join?', 100));
    await scheduler.runUntil(50);
    assert.deepEqual(await reply, { ok: true, value: { from: 'b', reply: { from: 'a', message: 'join?' } } });
    assert.equal(a.pendingRequests, 0);
  });

  it('requestAt to an address nobody listens at is refused or times out, like a crashed node', async () => {
    const refusing = net({ refusedRate: 1 });
    const refused = outcome(refusing.endpoint('a').requestAt({ host: 'sim', port: 7999 }, 'x', 100));
    await refusing.scheduler.runUntil(50);
    assert.deepEqual(await refused, { ok: false, code: 'UNREACHABLE' });
    const silent = net({ refusedRate: 0 });
    const timedOut = outcome(silent.endpoint('a').requestAt({ host: 'sim', port: 7999 }, 'x', 100));
    await silent.scheduler.runUntil(150);
    assert.deepEqual(await timedOut, { ok: false, code: 'TIMEOUT' });
  });

  it('requestAt goes through partitions, drops and crashes like request()', async () => {
    const { scheduler, network, endpoint } = net({ refusedRate: 1 });
    const a = endpoint('a');
    const b = endpoint('b');
    const counter = echo(b);
    const address = network.addressOf('b') as { host: string; port: number };
    network.split(['a'], ['b']);
    const cut = outcome(a.requestAt(address, 'x', 30));
    await scheduler.runUntil(40);
    assert.deepEqual(await cut, { ok: false, code: 'TIMEOUT' });
    assert.equal(counter.calls, 0);
    network.heal();
    b.kill();
    const crashed = outcome(a.requestAt(address, 'x', 30));
    await scheduler.runUntil(80);
    assert.deepEqual(await crashed, { ok: false, code: 'UNREACHABLE' });
    await a.close();
    assert.deepEqual(await outcome(a.requestAt(address, 'x', 30)), { ok: false, code: 'CLOSED' });
  });

  it('requestAt runs the same way from the same seed', async () => {
    const run = async (): Promise<{ lines: string[]; results: unknown[] }> => {
      const lines: string[] = [];
      const { scheduler, network, endpoint } = net({ delayMinMs: 1, delayMaxMs: 20, dropRate: 0.2, duplicateRate: 0.2 }, (line) => lines.push(line));
      const nodes = ['a', 'b', 'c'].map((id) => endpoint(id));
      for (const node of nodes) echo(node);
      const results = Promise.all(
        Array.from({ length: 30 }, (_, i) => {
          const from = nodes[i % 3] as SimTransport;
          const to = network.addressOf(['a', 'b', 'c'][(i + 1) % 3] as string) as { host: string; port: number };
          return outcome(from.requestAt(to, i, 50));
        }),
      );
      await scheduler.runUntil(200);
      return { lines, results: await results };
    };
    const first = await run();
    const second = await run();
    assert.ok(first.lines.some((line) => /a\/1>b@sim:7002 #1/.test(line)), 'the trace names node and address');
    assert.deepEqual(second, first);
  });

  it('refuses invalid fault settings', () => {
    const scheduler = new Scheduler(new Trace());
    assert.throws(() => new SimNetwork(scheduler, Prng.fromSeed(1), { ...QUIET, dropRate: 2 }), /dropRate/);
    assert.throws(() => new SimNetwork(scheduler, Prng.fromSeed(1), { ...QUIET, delayMinMs: 5, delayMaxMs: 1 }), /delay/);
  });
});

describe('SimNetwork on a clock with no faults (TestNetwork, the unit tests\' network)', () => {
  it('gives each transport an address, kept across restarts, or the one it is given', async () => {
    const network = new TestNetwork(new ManualClock());
    const a = network.transport('a');
    network.transport('b');
    network.transport('c', { host: '10.0.0.3', port: 7070 });
    assert.deepEqual(network.addressOf('a'), { host: 'sim', port: 7001 });
    assert.deepEqual(network.addressOf('b'), { host: 'sim', port: 7002 });
    assert.deepEqual(network.addressOf('c'), { host: '10.0.0.3', port: 7070 });
    assert.throws(() => network.transport('a'), /already has an open endpoint/, 'a restart closes the old transport first');
    await a.close();
    network.transport('a');
    assert.deepEqual(network.addressOf('a'), { host: 'sim', port: 7001 }, 'a restarted node listens where it did');
    assert.equal(network.nodeAt({ host: '10.0.0.3', port: 7070 }), 'c');
    assert.throws(() => network.transport('d', { host: 'sim', port: 7002 }), /already the address of node b/);
  });

  it('requestAt reaches the node at the address, which serves a requester it does not know, with no clock moving', async () => {
    const network = new TestNetwork(new ManualClock());
    const joiner = network.transport('joiner');
    const seed = network.transport('seed');
    seed.setPeers(new Map());
    seed.serve(async (from, message) => ({ from, message }));
    const answer = await joiner.requestAt(network.addressOf('seed') as PeerAddress, { type: 'join' }, 100);
    assert.deepEqual(answer, { from: 'seed', reply: { from: 'joiner', message: { type: 'join' } } });
    // And the seed reaches the joiner by id although neither has the other among its peers.
    joiner.serve(async () => 'welcome');
    assert.equal(await seed.request('joiner', 'hi', 100), 'welcome');
    assert.deepEqual(network.sentOfType('join'), [{ from: 'joiner', to: 'seed', message: { type: 'join' } }]);
    assert.equal(network.sent.length, 2);
  });

  it('requestAt honours unknown addresses, modes, blocks, delays and close', async () => {
    const clock = new ManualClock();
    const network = new TestNetwork(clock);
    const a = network.transport('a');
    const b = network.transport('b');
    b.serve(async (_from, message) => message);
    const at = network.addressOf('b') as PeerAddress;
    assert.deepEqual(await outcome(a.requestAt({ host: 'sim', port: 99 }, 'x', 100)), { ok: false, code: 'UNREACHABLE' });
    network.setMode('b', 'unreachable');
    assert.deepEqual(await outcome(a.requestAt(at, 'x', 100)), { ok: false, code: 'UNREACHABLE' });
    assert.deepEqual(await outcome(b.request('a', 'x', 100)), { ok: false, code: 'UNREACHABLE' }, 'and requests from it');
    network.setMode('b', 'dropping');
    const dropped = outcome(a.requestAt(at, 'x', 100));
    await clock.advance(100);
    assert.deepEqual(await dropped, { ok: false, code: 'TIMEOUT' });
    network.setMode('b', 'up');
    network.block('a', 'b');
    const blocked = outcome(a.requestAt(at, 'x', 100));
    await clock.advance(100);
    assert.deepEqual(await blocked, { ok: false, code: 'TIMEOUT' });
    network.unblock('a', 'b');
    network.setFaults({ ...DIRECT_NETWORK, delayMinMs: 50, delayMaxMs: 50 });
    const delivered = network.sent.length;
    const slow = outcome(a.requestAt(at, 'slow', 200));
    await clock.advance(49);
    assert.equal(network.sent.length, delivered, 'not delivered before the delay');
    await clock.advance(1);
    assert.equal(network.sent.length, delivered + 1);
    await clock.advance(50); // the reply takes as long
    assert.deepEqual(await slow, { ok: true, value: { from: 'b', reply: 'slow' } });
    assert.equal(clock.pendingTimers, 0);
    await a.close();
    assert.deepEqual(await outcome(a.requestAt(at, 'x', 100)), { ok: false, code: 'CLOSED' });
  });
});
