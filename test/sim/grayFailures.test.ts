/**
 * The gray failures' mechanics: a paused process (pauseGate.ts, through the clock, the
 * network endpoint and the cluster's client calls) and a slow peer (simNetwork.ts). No
 * timing assertions beyond virtual time, which the tests move themselves.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeUtf8 } from '../../src/core/bytes.ts';
import type { NodeDeps } from '../../src/node/openNode.ts';
import { TransportError } from '../../src/ports/transport.ts';
import { PauseGate } from '../../src/sim/pauseGate.ts';
import { Prng } from '../../src/sim/prng.ts';
import { Scheduler, Trace } from '../../src/sim/scheduler.ts';
import { SimClock } from '../../src/sim/simClock.ts';
import { NodeUnavailableError, SimCluster, type SimNode } from '../../src/sim/simCluster.ts';
import { SimNetwork, type NetworkFaults, type SimTransport } from '../../src/sim/simNetwork.ts';
import { configsOf } from '../../src/sim/swarm.ts';
import { planSwarm, SLOW_PEER_DELAY_SHARE } from '../../src/sim/swarmPlan.ts';

const FIXED_DELAY: NetworkFaults = { delayMinMs: 2, delayMaxMs: 2, dropRate: 0, duplicateRate: 0, refusedRate: 0 };
const NO_SKEW = { offsetMs: 0, driftPpm: 0 };

describe('PauseGate', () => {
  it('runs work at once while running; while paused it waits, then timers run before arrivals, one event each', async () => {
    const scheduler = new Scheduler(new Trace());
    const gate = new PauseGate(scheduler, 'n1/1');
    const ran: string[] = [];
    gate.admit('arrival', () => ran.push('a0'));
    assert.deepEqual(ran, ['a0']);
    gate.pause();
    gate.admit('arrival', () => ran.push('a1'));
    gate.admit('timer', () => ran.push('t1'));
    gate.admit('arrival', () => ran.push('a2'));
    gate.admit('timer', () => ran.push('t2'));
    await scheduler.runUntil(100);
    assert.deepEqual(ran, ['a0'], 'nothing runs while paused');
    assert.equal(gate.backlog, 4);
    gate.resume();
    assert.equal(gate.isRunning, false, 'still waking until the backlog ran');
    // Something that arrives while the backlog drains joins its end.
    scheduler.schedule(0, 'late arrival', () => gate.admit('arrival', () => ran.push('a3')));
    const before = scheduler.executedEvents;
    await scheduler.runUntil(100);
    assert.deepEqual(ran, ['a0', 't1', 't2', 'a1', 'a2', 'a3']);
    assert.ok(scheduler.executedEvents - before >= 6, 'each item of the backlog is an event of its own');
    assert.equal(gate.isRunning, true);
    assert.equal(scheduler.nowMs, 100, 'the wake takes no virtual time');
  });

  it('drops arrivals past its bound, never timers, and a crash discards the backlog', async () => {
    const scheduler = new Scheduler(new Trace());
    const gate = new PauseGate(scheduler, 'n1/1', 2);
    const ran: string[] = [];
    gate.pause();
    assert.equal(gate.admit('arrival', () => ran.push('a1')), true);
    assert.equal(gate.admit('arrival', () => ran.push('a2')), true);
    assert.equal(gate.admit('arrival', () => ran.push('a3')), false);
    assert.equal(gate.admit('timer', () => ran.push('t1')), true);
    assert.equal(gate.dropped, 1);
    gate.discard();
    gate.resume();
    await scheduler.runUntil(10);
    assert.deepEqual(ran, []);
  });
});

describe('a paused clock', () => {
  it('keeps time, holds its due timers until it continues, then fires them overdue in due order', async () => {
    const scheduler = new Scheduler(new Trace());
    const gate = new PauseGate(scheduler, 'n1/1');
    const clock = new SimClock(scheduler, NO_SKEW, 'n1/1', gate);
    const fired: [string, number][] = [];
    clock.setTimer(100, () => fired.push(['early', scheduler.nowMs]));
    clock.setTimer(300, () => fired.push(['late', scheduler.nowMs]));
    const cleared = clock.setTimer(200, () => fired.push(['cleared', scheduler.nowMs]));
    scheduler.schedule(50, 'pause', () => gate.pause());
    scheduler.schedule(2000, 'resume', () => gate.resume());
    await scheduler.runUntil(1000);
    assert.deepEqual(fired, []);
    assert.equal(clock.monotonicMs(), 1000, 'wall time passes while paused');
    clock.clearTimer(cleared); // cleared while it waits in the backlog: it must not fire
    await scheduler.runUntil(3000);
    assert.deepEqual(fired, [
      ['early', 2000],
      ['late', 2000],
    ]);
    assert.equal(clock.pendingTimers, 0);
  });
});

interface Pair {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  readonly a: SimTransport;
  readonly b: SimTransport;
  readonly gateOfB: PauseGate;
  readonly handled: number[];
}

/** Two endpoints; b echoes and may be paused, a is never paused. */
function pair(faults: NetworkFaults = FIXED_DELAY): Pair {
  const scheduler = new Scheduler(new Trace());
  const network = new SimNetwork(scheduler, Prng.fromSeed(11).fork('network'), faults);
  const gateOfA = new PauseGate(scheduler, 'a/1');
  const gateOfB = new PauseGate(scheduler, 'b/1');
  const a = network.attach('a', new SimClock(scheduler, NO_SKEW, 'a/1', gateOfA), 1, undefined, gateOfA);
  const b = network.attach('b', new SimClock(scheduler, NO_SKEW, 'b/1', gateOfB), 1, undefined, gateOfB);
  const handled: number[] = [];
  b.serve(async (_from, message) => {
    handled.push(scheduler.nowMs);
    return message;
  });
  a.serve(async (_from, message) => message);
  return { scheduler, network, a, b, gateOfB, handled };
}

async function settled(promise: Promise<unknown>): Promise<{ ok: true; value: unknown } | { ok: false; code: string }> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, code: error instanceof TransportError ? error.code : String(error) }),
  );
}

describe('a paused endpoint', () => {
  it('handles a request that reached it only when it continues; a requester with time left gets the answer', async () => {
    const { scheduler, a, gateOfB, handled } = pair();
    gateOfB.pause();
    const reply = settled(a.request('b', { n: 1 }, 5000));
    await scheduler.runUntil(1000);
    assert.deepEqual(handled, [], 'the request waits in the socket');
    gateOfB.resume();
    await scheduler.runUntil(2000);
    assert.deepEqual(handled, [1000]);
    assert.deepEqual(await reply, { ok: true, value: { n: 1 } });
  });

  it('gives its peers no answer: a requester with less time times out, and the late reply is ignored', async () => {
    const { scheduler, a, gateOfB, handled } = pair();
    gateOfB.pause();
    const reply = settled(a.request('b', { n: 1 }, 300));
    await scheduler.runUntil(1000);
    assert.deepEqual(await reply, { ok: false, code: 'TIMEOUT' });
    gateOfB.resume();
    await scheduler.runUntil(2000);
    assert.equal(handled.length, 1, 'it still handles the request when it continues, as a real process would');
  });

  it('takes the replies to its own requests when it continues, after its overdue timeouts', async () => {
    const { scheduler, a, b, gateOfB } = pair();
    const early = settled(b.request('a', { n: 1 }, 100)); // times out at 100: overdue when b wakes
    const late = settled(b.request('a', { n: 2 }, 5000)); // has time left: gets its reply at the wake
    gateOfB.pause(); // before the replies arrive (the network takes 2 ms each way)
    await scheduler.runUntil(1000);
    assert.equal(a.pendingRequests, 0);
    assert.equal(b.pendingRequests, 2, 'no reply and no timeout was taken while paused');
    gateOfB.resume();
    await scheduler.runUntil(1000);
    // The timers phase first: the request whose reply already waited times out all the same.
    assert.deepEqual(await early, { ok: false, code: 'TIMEOUT' });
    assert.deepEqual(await late, { ok: true, value: { n: 2 } });
  });
});

describe('a slow peer', () => {
  it('delays every message it sends by the extra range, and only while slow; heal makes it fast again', async () => {
    const { scheduler, network, a, b } = pair();
    const range = { minMs: 80, maxMs: 90 };
    network.slowDown('b', range);
    const timeOf = async (from: SimTransport, to: string): Promise<number> => {
      const startMs = scheduler.nowMs;
      let doneMs = Number.NaN;
      void from.request(to, {}, 1000).then(() => (doneMs = scheduler.nowMs));
      await scheduler.runUntil(scheduler.nowMs + 500);
      return doneMs - startMs;
    };
    const slowReply = await timeOf(a, 'b'); // b's reply is slow
    assert.ok(slowReply >= 2 + 2 + 80 && slowReply <= 2 + 2 + 90, `took ${slowReply} ms`);
    const slowRequest = await timeOf(b, 'a'); // b's request is slow
    assert.ok(slowRequest >= 84 && slowRequest <= 94, `took ${slowRequest} ms`);
    assert.deepEqual(network.slowNodes(), ['b']);
    network.speedUp('b', range);
    assert.equal(await timeOf(a, 'b'), 4);
    network.slowDown('b', range);
    network.heal();
    assert.equal(await timeOf(a, 'b'), 4);
    assert.ok(network.stats.slowed >= 2);
  });

  it('draws its extra delays from a stream of its own: the other messages keep their delays', async () => {
    const delays = async (slow: boolean): Promise<number[]> => {
      const faults = { ...FIXED_DELAY, delayMinMs: 1, delayMaxMs: 20 };
      const { scheduler, network, a } = pair(faults);
      if (slow) network.slowDown('c', { minMs: 50, maxMs: 60 });
      const c = network.attach('c', new SimClock(scheduler, NO_SKEW, 'c/1'), 1);
      c.serve(async (_from, message) => message);
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const startMs = scheduler.nowMs;
        void a.request(i % 2 === 0 ? 'b' : 'c', {}, 1000).then(() => times.push(scheduler.nowMs - startMs));
        await scheduler.runUntil(scheduler.nowMs + 200);
      }
      return times;
    };
    const fast = await delays(false);
    const slowed = await delays(true);
    // Requests to b (never slow) take the same time either way; those answered by c take 50-60 ms more.
    assert.deepEqual([slowed[0], slowed[2], slowed[4]], [fast[0], fast[2], fast[4]]);
    for (const i of [1, 3]) assert.ok((slowed[i] as number) - (fast[i] as number) >= 50, `reply ${i}: ${slowed[i]} vs ${fast[i]}`);
  });
});

/** A node that answers puts at once and counts the peers' requests it handled (its transport is kept in `transports`). */
function echoNode(handled: string[], transports: Map<string, NodeDeps['transport']>): (deps: NodeDeps) => Promise<SimNode> {
  return async (deps) => {
    transports.set(deps.config.id, deps.transport);
    deps.transport.serve(async (from) => {
      handled.push(from);
      return { ok: true };
    });
    const node: Partial<SimNode> = {
      put: async () => ({ context: '', object: { vector: [], siblings: [] } }),
      localHints: () => ({ total: 0 }),
      peers: () => [],
    };
    return node as SimNode;
  };
}

describe('SimCluster pause and resume', () => {
  function cluster(): { scheduler: Scheduler; sim: SimCluster; handled: string[]; transports: Map<string, NodeDeps['transport']> } {
    const plan = planSwarm(5);
    const scheduler = new Scheduler(new Trace());
    const network = new SimNetwork(scheduler, Prng.fromSeed(5).fork('network'), FIXED_DELAY);
    const handled: string[] = [];
    const transports = new Map<string, NodeDeps['transport']>();
    const sim = new SimCluster({ scheduler, network, random: Prng.fromSeed(5).fork('nodes'), configs: configsOf(plan), skews: new Map(), openNode: echoNode(handled, transports) });
    sim.startAll();
    return { scheduler, sim, handled, transports };
  }

  it('holds a client call on a paused node until it continues, and logs the pause for the timeline', async () => {
    const { scheduler, sim } = cluster();
    await scheduler.runUntil(10);
    sim.pause('n1');
    assert.equal(sim.isPaused('n1'), true);
    let answeredMs: number | undefined;
    void sim.call('n1', (node) => node.put(encodeUtf8('k'), { value: encodeUtf8('v'), contentType: 'text/plain' })).then(() => (answeredMs = scheduler.nowMs));
    await scheduler.runUntil(800);
    assert.equal(answeredMs, undefined);
    sim.resume('n1');
    await scheduler.runUntil(800);
    assert.equal(answeredMs, 800);
    assert.equal(sim.isPaused('n1'), false);
    assert.deepEqual(
      sim.lifeLog.filter((e) => e.node === 'n1').map((e) => [e.event, e.atMs]),
      [
        ['serving', 0],
        ['pause', 10],
        ['resume', 800],
      ],
    );
  });

  it('a crash of a paused node abandons its calls and discards what waited; the next incarnation runs', async () => {
    const { scheduler, sim, handled, transports } = cluster();
    await scheduler.runUntil(10);
    sim.pause('n1');
    const call = sim.call('n1', (node) => node.put(encodeUtf8('k'), { value: encodeUtf8('v'), contentType: 'text/plain' }));
    const peerRequest = settled(transports.get('n2')?.request('n1', { ping: true }, 1000) ?? Promise.reject(new Error('no n2')));
    await scheduler.runUntil(100);
    sim.crash('n1');
    await assert.rejects(call, NodeUnavailableError);
    assert.deepEqual(await Promise.race([peerRequest, Promise.resolve('pending')]), 'pending', 'the peer gets no answer from a paused node');
    sim.restart('n1');
    await scheduler.runUntil(200);
    assert.equal(sim.isPaused('n1'), false);
    sim.resume('n1'); // no-op: the new incarnation is not paused
    await sim.call('n1', (node) => node.put(encodeUtf8('k'), { value: encodeUtf8('v'), contentType: 'text/plain' }));
    await scheduler.runUntil(2000);
    assert.deepEqual(handled, [], 'the request that waited in the crashed process was never handled');
    assert.deepEqual(await peerRequest, { ok: false, code: 'TIMEOUT' });
  });
});

describe('the gray failures of the plan', () => {
  it('slow peers answer after most of the request timeout, and every gray window ends within the safety phase', () => {
    for (let seed = 0; seed < 200; seed++) {
      const plan = planSwarm(seed);
      for (const slow of plan.slowPeers) {
        assert.ok(slow.delayMinMs >= SLOW_PEER_DELAY_SHARE[0] * plan.settings.requestTimeoutMs - 1e-9);
        assert.ok(slow.delayMaxMs <= SLOW_PEER_DELAY_SHARE[1] * plan.settings.requestTimeoutMs + 1e-9);
      }
      for (const window of [...plan.pauses, ...plan.slowPeers, ...plan.partitions]) {
        assert.ok(window.startMs >= 0 && window.startMs <= window.endMs && window.endMs <= plan.safetyMs, `seed ${seed}: ${JSON.stringify(window)}`);
      }
      assert.ok(plan.grayOneWay <= plan.partitions.length);
      for (const window of plan.partitions.slice(plan.partitions.length - plan.grayOneWay)) assert.equal(window.kind, 'one-way');
    }
  });
});
