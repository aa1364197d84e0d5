import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeUtf8 } from '../../src/core/bytes.ts';
import type { NodeDeps } from '../../src/node/openNode.ts';
import { StorageError } from '../../src/ports/storage.ts';
import { Prng } from '../../src/sim/prng.ts';
import { Scheduler, Trace } from '../../src/sim/scheduler.ts';
import { NodeUnavailableError, SimCluster, type SimNode } from '../../src/sim/simCluster.ts';
import { CALM_NETWORK, SimNetwork } from '../../src/sim/simNetwork.ts';
import { GatedEngine, IncarnationGate } from '../../src/sim/simStorage.ts';
import { configsOf } from '../../src/sim/swarm.ts';
import { planSwarm } from '../../src/sim/swarmPlan.ts';
import { MemoryEngine } from '../../src/storage/memoryEngine.ts';

const KEY = encodeUtf8('k');

describe('GatedEngine', () => {
  it('passes reads and writes through while the incarnation lives, refuses them after its crash', async () => {
    const disk = new MemoryEngine();
    const gate = new IncarnationGate();
    const seen: number[] = [];
    const engine = new GatedEngine(disk, gate, { afterWrite: (ops) => seen.push(ops.length) });
    await engine.writeBatch([{ kind: 'put', partition: 1, key: KEY, value: Uint8Array.of(1) }], { durable: false });
    assert.deepEqual(engine.get(1, KEY), Uint8Array.of(1));
    assert.deepEqual(seen, [1]);
    gate.close();
    await assert.rejects(engine.writeBatch([{ kind: 'put', partition: 1, key: KEY, value: Uint8Array.of(2) }], { durable: true }), StorageError);
    assert.throws(() => engine.get(1, KEY), StorageError);
    assert.equal(gate.refusedWrites, 1);
    await engine.close();
    assert.deepEqual(disk.get(1, KEY), Uint8Array.of(1), 'the disk keeps what the dead incarnation wrote, and stays open');
  });
});

/**
 * A node whose put waits `holdMs` on its clock, then writes the value to its disk. It shows
 * what a crash does to work in flight.
 */
function slowWriter(holdMs: number): (deps: NodeDeps) => Promise<SimNode> {
  return async (deps) => {
    const write = (value: Uint8Array): Promise<void> => deps.engine.writeBatch([{ kind: 'put', partition: 0, key: KEY, value }], { durable: true });
    const node: Partial<SimNode> = {
      put: (_key, input) =>
        new Promise((resolve, reject) => {
          deps.clock.setTimer(holdMs, () => write(input.value).then(() => resolve({ context: '', object: { vector: [], siblings: [] } }), reject));
        }),
      localHints: () => ({ total: 0 }),
      peers: () => [],
    };
    return node as SimNode;
  };
}

/** A node whose put asks a peer first and writes its disk whatever the answer: a zombie after a crash. */
function stubbornWriter(): (deps: NodeDeps) => Promise<SimNode> {
  return async (deps) => {
    deps.transport.serve(() => new Promise(() => undefined)); // never answers
    const write = (value: Uint8Array): Promise<void> => deps.engine.writeBatch([{ kind: 'put', partition: 0, key: KEY, value }], { durable: true });
    const node: Partial<SimNode> = {
      put: async (_key, input) => {
        await deps.transport.request(deps.config.id === 'n1' ? 'n2' : 'n1', 'hello', 1000).catch(() => undefined);
        await write(input.value);
        return { context: '', object: { vector: [], siblings: [] } };
      },
      localHints: () => ({ total: 0 }),
      peers: () => [],
    };
    return node as SimNode;
  };
}

function cluster(openNode: (deps: NodeDeps) => Promise<SimNode>): { scheduler: Scheduler; cluster: SimCluster } {
  const plan = planSwarm(1);
  const scheduler = new Scheduler(new Trace());
  const network = new SimNetwork(scheduler, Prng.fromSeed(1), CALM_NETWORK);
  const sim = new SimCluster({ scheduler, network, random: Prng.fromSeed(1), configs: configsOf(plan), skews: plan.skews, openNode });
  return { scheduler, cluster: sim };
}

describe('SimCluster', () => {
  it('opens every node, and refuses calls to a node that is down', async () => {
    const { scheduler, cluster: sim } = cluster(slowWriter(10));
    assert.equal(sim.isServing('n1'), false);
    sim.startAll();
    await scheduler.runUntil(1);
    assert.deepEqual(sim.downNodes(), []);
    sim.crash('n1');
    assert.deepEqual(sim.downNodes(), ['n1']);
    await assert.rejects(sim.call('n1', (node) => node.localHints() as never), NodeUnavailableError);
  });

  it('a crash resets the client’s call, discards the timers, and the zombie never writes the disk', async () => {
    const { scheduler, cluster: sim } = cluster(slowWriter(10));
    sim.startAll();
    await scheduler.runUntil(1);
    const call = sim.call('n1', (node) => node.put(KEY, { value: Uint8Array.of(7), contentType: 'x' }));
    const settled = call.then(
      () => 'ok',
      (error: unknown) => (error instanceof NodeUnavailableError ? 'reset' : String(error)),
    );
    scheduler.schedule(5, 'crash', () => sim.crash('n1'));
    await scheduler.runUntil(50);
    assert.equal(await settled, 'reset');
    assert.equal(sim.disks('n1').engine.get(0, KEY), undefined, 'the timer died with the incarnation');
    sim.restart('n1');
    await scheduler.runUntil(51);
    assert.equal(sim.incarnationOf('n1'), 2);
    const again = await Promise.all([sim.call('n1', (node) => node.put(KEY, { value: Uint8Array.of(8), contentType: 'x' })), scheduler.runUntil(100)]);
    assert.ok(again[0]);
    assert.deepEqual(sim.disks('n1').engine.get(0, KEY), Uint8Array.of(8));
  });

  it('keeps a zombie continuation of a crashed incarnation off the disk', async () => {
    const { scheduler, cluster: sim } = cluster(stubbornWriter());
    sim.startAll();
    await scheduler.runUntil(1);
    const call = sim.call('n1', (node) => node.put(KEY, { value: Uint8Array.of(7), contentType: 'x' })).catch(() => 'reset');
    scheduler.schedule(20, 'crash', () => sim.crash('n1'));
    await scheduler.runUntil(100);
    assert.equal(await call, 'reset');
    assert.equal(sim.disks('n1').engine.get(0, KEY), undefined, 'the crashed incarnation’s write was refused');
  });
});
