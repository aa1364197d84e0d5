/**
 * An in-process cluster for tests: N nodes built by openNode, each with MemoryEngines
 * (objects and hints), a MemoryMetaStore, and a SimTransport on one TestNetwork,
 * all on one ManualClock and a seeded Random. Nothing runs on real time: a test moves the
 * clock (`cluster.run(promise)` advances it until the promise settles, so a request that
 * waits for a timeout never hangs the test).
 *
 *   const cluster = await TestCluster.start(['a', 'b', 'c'], { n: 3, r: 2, w: 2 });
 *   t.after(() => cluster.stop());
 *   cluster.network.setMode('c', 'unreachable');
 *   await cluster.run(cluster.node('a').put(key, { value, contentType: 'text/plain' }));
 */
import { nodeConfigFrom, type NodeConfig } from '../../src/node/config.ts';
import { openNode } from '../../src/node/openNode.ts';
import type { ShoalNode } from '../../src/node/shoalNode.ts';
import { silentLogger, type Logger } from '../../src/ports/logger.ts';
import { MemoryEngine, MemoryMetaStore } from '../../src/storage/memoryEngine.ts';
import { Prng } from '../../src/sim/prng.ts';
import { ManualClock } from '../../src/sim/simClock.ts';
import type { SimTransport } from '../../src/sim/simNetwork.ts';
import { TestNetwork } from './testNetwork.ts';

export interface TestMember {
  readonly id: string;
  readonly node: ShoalNode;
  readonly transport: SimTransport;
  readonly engine: MemoryEngine;
  readonly hintEngine: MemoryEngine;
  readonly meta: MemoryMetaStore;
  readonly config: NodeConfig;
}

export interface TestClusterOptions {
  readonly seed?: number;
  readonly logger?: Logger;
}

/** How far `run` moves the clock at most before giving up on a promise. */
export const RUN_MS_MAX = 600_000;
const RUN_STEP_MS = 10;

export class TestCluster {
  readonly members = new Map<string, TestMember>();

  private constructor(
    readonly clock: ManualClock,
    readonly network: TestNetwork,
    private readonly options: TestClusterOptions,
  ) {}

  /** Starts one node per id; `overrides` go into every node's config. */
  static async start(ids: readonly string[], overrides: Record<string, unknown> = {}, options: TestClusterOptions = {}): Promise<TestCluster> {
    const clock = new ManualClock();
    const cluster = new TestCluster(clock, new TestNetwork(clock), options);
    const list = ids.map((id, index) => `${id}@127.0.0.1:${7001 + index}`).join(',');
    for (const id of ids) await cluster.startNode({ id, cluster: list, listen: `127.0.0.1:${7001 + ids.indexOf(id)}`, ...overrides });
    return cluster;
  }

  /**
   * Starts one more node outside the cluster (alone, listening at 127.0.0.1:7001 + its
   * index), ready to join it through a seed.
   */
  async addNode(id: string, overrides: Record<string, unknown> = {}): Promise<ShoalNode> {
    const member = await this.startNode({ id, listen: `127.0.0.1:${7001 + this.members.size}`, ...overrides });
    return member.node;
  }

  /** Where node `id` listens for internode traffic. */
  listenOf(id: string): string {
    const { host, port } = this.member(id).config.listen;
    return `${host}:${port}`;
  }

  private async startNode(fields: Record<string, unknown> & { id: string }): Promise<TestMember> {
    const config = nodeConfigFrom({ engine: 'memory', flushIntervalMs: 50, ...fields });
    const storage = { engine: new MemoryEngine(), hintEngine: new MemoryEngine(), meta: new MemoryMetaStore() };
    const transport = this.network.transport(config.id, config.listen);
    const node = await this.open(config, storage, transport, this.members.size);
    const member = { id: config.id, node, transport, config, ...storage };
    this.members.set(config.id, member);
    return member;
  }

  node(id: string): ShoalNode {
    return this.member(id).node;
  }

  member(id: string): TestMember {
    const member = this.members.get(id);
    if (member === undefined) throw new Error(`no test node ${id}`);
    return member;
  }

  /** Moves the clock in small steps until `work` settles; fails after RUN_MS_MAX of virtual time. */
  async run<T>(work: Promise<T>): Promise<T> {
    let done = false;
    const watched = work.finally(() => {
      done = true;
    });
    watched.catch(() => undefined);
    await this.clock.advance(0);
    for (let elapsed = 0; !done && elapsed < RUN_MS_MAX; elapsed += RUN_STEP_MS) await this.clock.advance(RUN_STEP_MS);
    if (!done) throw new Error(`test cluster: the work did not settle within ${RUN_MS_MAX} ms of virtual time`);
    return work;
  }

  /** Moves the clock forward `ms`, firing timers (hint delivery, probes, flushes) on the way. */
  advance(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  /** Stops every node (flushing its buffer), letting the clock run so nothing waits forever. */
  async stop(): Promise<void> {
    for (const member of this.members.values()) {
      await this.run(member.node.stop().catch(() => undefined));
      await member.transport.close();
    }
  }

  private open(
    config: NodeConfig,
    storage: { engine: MemoryEngine; hintEngine: MemoryEngine; meta: MemoryMetaStore },
    transport: SimTransport,
    index: number,
  ): Promise<ShoalNode> {
    const random = Prng.fromSeed((this.options.seed ?? 1) * 31 + index);
    return openNode({ config, ...storage, clock: this.clock, random, transport, logger: this.options.logger ?? silentLogger });
  }
}
