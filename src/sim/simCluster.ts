/**
 * A cluster of simulated nodes: the real node code (openNode), each node with its own
 * disks (memory engines that survive crashes), clock, network endpoint and random stream.
 *
 * A node's life is a series of incarnations. `crash(id)` ends the current one at once:
 * its timers are discarded, its endpoint is closed (its pending requests reject, messages
 * to it are dropped, replies it would still send are dropped), its disk gate closes (see
 * simStorage.ts) and the clients waiting on it get a "connection reset". Its unflushed
 * buffer is simply never written: lost, as in a real crash. `restart(id)` opens a new
 * incarnation on the same disks, with a fresh SimClock and endpoint.
 *
 * Membership: the founders (`configs`, each listing the cluster) open with startAll();
 * spares (`spares`: configs without `cluster`) stay off until start(id) opens them, alone
 * and empty, ready to join through a seed's address. Every node listens at its
 * config's `listen` address on the SimNetwork, so seeds and member addresses resolve.
 * retire(id) crashes a node for good (the operator then removes it): it never restarts,
 * not even at the heal.
 *
 * Gray failures: pause(id) stops the current incarnation as SIGSTOP would and resume(id)
 * continues it (pauseGate.ts): its timers, the messages that reach it and the client calls
 * on it wait meanwhile. A crash of a paused incarnation discards what waited; the next
 * incarnation starts running. lifeLog records when each node started serving, crashed,
 * paused and resumed, for the availability check's reachability timeline (reachability.ts).
 */
import type { StoredObject } from '../core/object.ts';
import type { ListingPage } from '../core/listing.ts';
import type { ListInput } from '../node/shoalNode.ts';
import type { AntiEntropyStats } from '../node/antiEntropy/antiEntropy.ts';
import type { NodeConfig } from '../node/config.ts';
import type { ChangeOutcome } from '../node/membership/membershipService.ts';
import type { RingView } from '../node/membership/planView.ts';
import type { NodeDeps } from '../node/openNode.ts';
import type { GossipMessage, Reply } from '../node/protocol.ts';
import type { RequestOptions } from '../node/request.ts';
import type { JsonValue } from '../ports/storage.ts';
import type { PeerAddress } from '../ports/transport.ts';
import { silentLogger, type Logger } from '../ports/logger.ts';
import type { Prng } from './prng.ts';
import { SimRunError, describe, type Scheduler } from './scheduler.ts';
import { PauseGate } from './pauseGate.ts';
import type { LifeEvent } from './reachability.ts';
import { SimClock, type ClockSkew } from './simClock.ts';
import type { SimNetwork, SimTransport } from './simNetwork.ts';
import { GatedEngine, GatedMetaStore, IncarnationGate, SimDisks, type DiskObserver } from './simStorage.ts';

/** What the simulator uses of a node (ShoalNode satisfies it). */
export interface SimNode {
  get(key: Uint8Array, options?: RequestOptions): Promise<{ readonly object: StoredObject | undefined; readonly context: string }>;
  put(
    key: Uint8Array,
    input: { readonly value: Uint8Array; readonly contentType: string; readonly context?: string },
    options?: RequestOptions,
  ): Promise<{ readonly context: string; readonly object: StoredObject }>;
  delete(key: Uint8Array, context?: string, options?: RequestOptions): Promise<{ readonly context: string; readonly object: StoredObject }>;
  localVersions(key: Uint8Array): { readonly partition: number; readonly object: StoredObject } | undefined;
  list(input: ListInput): Promise<ListingPage>;
  localHints(): { readonly total: number; readonly byTarget?: Readonly<Record<string, number>> };
  /** Each peer's status as this node's failure detector sees it. */
  peers(): readonly { readonly id: string; readonly status: string }[];
  stop(): Promise<void>;
  /** Membership changes (the real node's `shoalNode.membership`); absent on stand-ins without membership. */
  readonly membership?: SimMembership;
  /** Whether it has yet to drop the copies a settled change handed over; absent on stand-ins. */
  dropsPending?(): boolean;
  /** The node's anti-entropy counters since it opened (the real node's repairStatus); absent on stand-ins. */
  repairStatus?(): { readonly antiEntropy: RepairCounters };
}

/** The anti-entropy counters the simulator reports per seed. */
export type RepairCounters = Pick<AntiEntropyStats, 'exchanges' | 'failed' | 'keysRepaired' | 'tombstonesReaped' | 'markersRemoved'>;

const NO_REPAIRS: RepairCounters = Object.freeze({ exchanges: 0, failed: 0, keysRepaired: 0, tombstonesReaped: 0, markersRemoved: 0 });

function addRepairs(a: RepairCounters, b: RepairCounters): RepairCounters {
  return {
    exchanges: a.exchanges + b.exchanges,
    failed: a.failed + b.failed,
    keysRepaired: a.keysRepaired + b.keysRepaired,
    tombstonesReaped: a.tombstonesReaped + b.tombstonesReaped,
    markersRemoved: a.markersRemoved + b.markersRemoved,
  };
}

/** What the simulator uses of a node's membership service (MembershipService satisfies it). */
export interface SimMembership {
  join(seed: PeerAddress, dryRun: boolean, expectRingVersion?: number): Promise<ChangeOutcome>;
  leave(dryRun: boolean, expectRingVersion?: number): Promise<ChangeOutcome>;
  remove(id: string, force: boolean, dryRun: boolean, expectRingVersion?: number): Promise<ChangeOutcome>;
  ring(): RingView;
  /** A gossip message as if a peer sent it (the forgery nemesis). */
  gossip(message: GossipMessage, from: string): Promise<Reply>;
}

/** openNode, or a stand-in with the same signature (tests of the simulator itself). */
export type OpenSimNode = (deps: NodeDeps) => Promise<SimNode>;

/** The node a client called is down or crashed while the call was in flight. */
export class NodeUnavailableError extends Error {
  readonly code = 'NODE_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'NodeUnavailableError';
  }
}

type IncarnationState = 'opening' | 'serving' | 'dead';

interface Incarnation {
  readonly number: number;
  state: IncarnationState;
  node: SimNode | undefined;
  readonly clock: SimClock;
  readonly transport: SimTransport;
  readonly gate: IncarnationGate;
  /** Stops and continues the process (gray failures). */
  readonly pause: PauseGate;
  /** Rejects of the client calls in flight on this incarnation. */
  readonly calls: Set<(error: Error) => void>;
}

interface Member {
  readonly id: string;
  readonly config: NodeConfig;
  readonly skew: ClockSkew;
  readonly disks: SimDisks;
  incarnation: Incarnation | undefined;
  incarnations: number;
}

export interface SimClusterOptions {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  /** The cluster's stream; each incarnation forks its own from it. */
  readonly random: Prng;
  /** One config per founding member (validated, with `cluster` listing them all). */
  readonly configs: readonly NodeConfig[];
  /** Nodes outside the cluster (configs without `cluster`), opened only by start(id). */
  readonly spares?: readonly NodeConfig[];
  readonly skews: ReadonlyMap<string, ClockSkew>;
  readonly openNode: OpenSimNode;
  /** The logger of one incarnation (default: silent). */
  readonly loggerFor?: (incarnation: string) => Logger;
  /** A live incarnation logged at error level (a crashed one's zombie work is expected to fail). */
  readonly onNodeError?: (incarnation: string, message: string, fields: object) => void;
  /** Watches the writes of each node's disks ('objects' or 'hints'). */
  readonly diskObserver?: (nodeId: string, engine: 'objects' | 'hints') => DiskObserver;
  /** Told of every metadata record a node stores (its cluster state among them). */
  readonly metaObserver?: (nodeId: string, name: string, value: JsonValue) => void;
}

export class SimCluster {
  /** Every node, founders first, then spares. */
  readonly ids: readonly string[];
  /** The nodes startAll() opens. */
  readonly founders: readonly string[];
  crashes = 0;
  /** Virtual time of the latest crash (-Infinity before the first). */
  lastCrashMs = Number.NEGATIVE_INFINITY;
  /** Every crash (retirements included), in time order. */
  readonly crashLog: { readonly node: string; readonly atMs: number; retired: boolean }[] = [];
  /** When each node started serving, crashed, paused and resumed, in time order. */
  readonly lifeLog: LifeEvent[] = [];
  private readonly members = new Map<string, Member>();
  private readonly retired = new Set<string>();
  /** Arrivals dropped at paused incarnations that ended (crashed). */
  private endedPauseDrops = 0;
  /** Anti-entropy counters of the incarnations that ended (crashed). */
  private endedRepairs: RepairCounters = NO_REPAIRS;

  constructor(private readonly options: SimClusterOptions) {
    for (const config of [...options.configs, ...(options.spares ?? [])]) {
      if (this.members.has(config.id)) throw new RangeError(`node ${JSON.stringify(config.id)} is configured twice`);
      const skew = options.skews.get(config.id) ?? { offsetMs: 0, driftPpm: 0 };
      this.members.set(config.id, { id: config.id, config, skew, disks: new SimDisks(), incarnation: undefined, incarnations: 0 });
    }
    this.ids = [...this.members.keys()];
    this.founders = options.configs.map((config) => config.id);
  }

  /** Opens every founder (as events at the current time). */
  startAll(): void {
    for (const id of this.founders) this.start(id);
  }

  /** Opens a node that never ran (a spare, or a founder): its first incarnation. No-op once started. */
  start(id: string): void {
    if (this.member(id).incarnations === 0) this.open(id);
  }

  /** Whether the node was ever opened. */
  started(id: string): boolean {
    return this.member(id).incarnations > 0;
  }

  /** Crashes the node for good: no restart brings it back (see unretire). */
  retire(id: string): void {
    this.crash(id);
    this.retired.add(id);
    const last = this.crashLog[this.crashLog.length - 1];
    if (last !== undefined && last.node === id) last.retired = true;
    this.options.scheduler.trace.note(this.options.scheduler.nowMs, `retire ${id}`);
  }

  /** Lets a retired node restart again (the operator brings it back after all). */
  unretire(id: string): void {
    if (this.retired.delete(id)) this.options.scheduler.trace.note(this.options.scheduler.nowMs, `unretire ${id}`);
  }

  isRetired(id: string): boolean {
    return this.retired.has(id);
  }

  isServing(id: string): boolean {
    return this.member(id).incarnation?.state === 'serving';
  }

  /** Whether the node's current incarnation is paused, or still running what waited while it was. */
  isPaused(id: string): boolean {
    const incarnation = this.member(id).incarnation;
    return incarnation !== undefined && incarnation.state !== 'dead' && !incarnation.pause.isRunning;
  }

  /** Stops the current incarnation (SIGSTOP). No-op when it is down or paused already. */
  pause(id: string): void {
    const incarnation = this.member(id).incarnation;
    if (incarnation === undefined || incarnation.state === 'dead' || incarnation.pause.isPaused) return;
    incarnation.pause.pause();
    this.lifeLog.push({ node: id, atMs: this.options.scheduler.nowMs, event: 'pause' });
    this.options.scheduler.trace.note(this.options.scheduler.nowMs, `pause ${id}/${incarnation.number}`);
  }

  /** Continues the paused incarnation (SIGCONT): what waited runs now. No-op unless it is paused. */
  resume(id: string): void {
    const incarnation = this.member(id).incarnation;
    if (incarnation === undefined || incarnation.state === 'dead' || !incarnation.pause.isPaused) return;
    incarnation.pause.resume();
    this.lifeLog.push({ node: id, atMs: this.options.scheduler.nowMs, event: 'resume' });
    this.options.scheduler.trace.note(this.options.scheduler.nowMs, `resume ${id}/${incarnation.number} (${incarnation.pause.backlog} waiting)`);
  }

  /** Arrivals dropped at paused incarnations because their backlog was full, over every incarnation so far. */
  pauseDrops(): number {
    let dropped = this.endedPauseDrops;
    for (const id of this.ids) dropped += this.member(id).incarnation?.pause.dropped ?? 0;
    return dropped;
  }

  /** Node ids that ran, are not retired, and whose current incarnation is down (crashed, not yet reopened). */
  downNodes(): string[] {
    return this.ids.filter((id) => this.started(id) && !this.retired.has(id) && this.member(id).incarnation?.state !== 'serving');
  }

  /** Where the node listens for internode traffic (its config's `listen`). */
  addressOf(id: string): PeerAddress {
    return this.member(id).config.listen;
  }

  configOf(id: string): NodeConfig {
    return this.member(id).config;
  }

  /** The serving node, or undefined while it is down. */
  node(id: string): SimNode | undefined {
    const incarnation = this.member(id).incarnation;
    return incarnation?.state === 'serving' ? incarnation.node : undefined;
  }

  disks(id: string): SimDisks {
    return this.member(id).disks;
  }

  incarnationOf(id: string): number {
    return this.member(id).incarnations;
  }

  /**
   * Calls the node as a client would over a connection: rejects with NodeUnavailableError
   * when it is down, or when it crashes before answering (what it does afterwards is ignored).
   * A paused node takes the call when it continues.
   */
  call<T>(id: string, request: (node: SimNode) => Promise<T>): Promise<T> {
    const incarnation = this.member(id).incarnation;
    if (incarnation === undefined || incarnation.state !== 'serving' || incarnation.node === undefined) {
      return Promise.reject(new NodeUnavailableError(`node ${id} is down`));
    }
    const node = incarnation.node;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const abandon = (error: Error): void => {
        settled = true;
        reject(error);
      };
      incarnation.calls.add(abandon);
      const finish = (settle: () => void): void => {
        incarnation.calls.delete(abandon);
        if (settled || incarnation.state === 'dead') return;
        settled = true;
        settle();
      };
      const begin = (): Promise<T> => {
        try {
          return request(node);
        } catch (error) {
          return Promise.reject(error);
        }
      };
      const work = incarnation.pause.isRunning
        ? begin()
        : new Promise<T>((resolveLater, rejectLater) => {
            incarnation.pause.admit('arrival', () => {
              begin().then(resolveLater, rejectLater);
            });
          });
      work.then(
        (value) => finish(() => resolve(value)),
        (error: unknown) => finish(() => reject(error)),
      );
    });
  }

  /** Anti-entropy counters summed over every incarnation so far (those that crashed and those serving). */
  repairTotals(): RepairCounters {
    let total = this.endedRepairs;
    for (const id of this.ids) {
      const repairs = this.node(id)?.repairStatus?.().antiEntropy;
      if (repairs !== undefined) total = addRepairs(total, repairs);
    }
    return total;
  }

  /** Ends the current incarnation at once (no flush, no goodbye). No-op when it is down. */
  crash(id: string): void {
    const member = this.member(id);
    const incarnation = member.incarnation;
    if (incarnation === undefined || incarnation.state === 'dead') return;
    const repairs = incarnation.node?.repairStatus?.().antiEntropy;
    if (repairs !== undefined) this.endedRepairs = addRepairs(this.endedRepairs, repairs);
    incarnation.state = 'dead';
    this.endedPauseDrops += incarnation.pause.dropped;
    incarnation.pause.discard();
    incarnation.clock.kill();
    incarnation.transport.kill();
    incarnation.gate.close();
    this.crashes++;
    this.lastCrashMs = this.options.scheduler.nowMs;
    this.crashLog.push({ node: id, atMs: this.lastCrashMs, retired: false });
    this.lifeLog.push({ node: id, atMs: this.lastCrashMs, event: 'crash' });
    const calls = [...incarnation.calls];
    incarnation.calls.clear();
    for (const abandon of calls) abandon(new NodeUnavailableError(`node ${id} crashed`));
    this.options.scheduler.trace.note(this.options.scheduler.nowMs, `crash ${id}/${incarnation.number}`);
  }

  /**
   * Opens a new incarnation on the node's disks (no-op when it is up or opening, never
   * started, or retired).
   */
  restart(id: string): void {
    const member = this.member(id);
    if (member.incarnations === 0 || this.retired.has(id)) return;
    if (member.incarnation !== undefined && member.incarnation.state !== 'dead') return;
    this.open(id);
  }

  private open(id: string): void {
    const member = this.member(id);
    const { scheduler, network } = this.options;
    const number = ++member.incarnations;
    const label = `${id}/${number}`;
    const pause = new PauseGate(scheduler, label);
    const clock = new SimClock(scheduler, member.skew, label, pause);
    const incarnation: Incarnation = {
      number,
      state: 'opening',
      node: undefined,
      clock,
      transport: network.attach(id, clock, number, member.config.listen, pause),
      gate: new IncarnationGate(),
      pause,
      calls: new Set(),
    };
    member.incarnation = incarnation;
    scheduler.schedule(0, `open ${label}`, () => this.openIncarnation(member, incarnation, label));
  }

  private openIncarnation(member: Member, incarnation: Incarnation, label: string): void {
    const { disks } = member;
    const observe = (engine: 'objects' | 'hints'): DiskObserver | undefined => this.options.diskObserver?.(member.id, engine);
    const metaObserver = this.options.metaObserver;
    const deps: NodeDeps = {
      config: member.config,
      engine: new GatedEngine(disks.engine, incarnation.gate, observe('objects')),
      hintEngine: new GatedEngine(disks.hintEngine, incarnation.gate, observe('hints')),
      meta: new GatedMetaStore(disks.meta, incarnation.gate, metaObserver === undefined ? undefined : (name, value) => metaObserver(member.id, name, value)),
      clock: incarnation.clock,
      random: this.options.random.fork(label),
      transport: incarnation.transport,
      logger: this.loggerOf(incarnation, label),
    };
    const { scheduler } = this.options;
    this.options.openNode(deps).then(
      (node) => {
        if (incarnation.state === 'dead') return;
        incarnation.node = node;
        incarnation.state = 'serving';
        this.lifeLog.push({ node: member.id, atMs: scheduler.nowMs, event: 'serving' });
        scheduler.trace.note(scheduler.nowMs, `opened ${label}`);
      },
      (error: unknown) => {
        if (incarnation.state === 'dead') return;
        scheduler.fail(new SimRunError(`openNode of ${label} failed: ${describe(error)}`, { cause: error }));
      },
    );
  }

  private loggerOf(incarnation: Incarnation, label: string): Logger {
    const inner = this.options.loggerFor?.(label) ?? silentLogger;
    const onError = this.options.onNodeError;
    if (onError === undefined) return inner;
    return {
      debug: (fields, message) => inner.debug(fields, message),
      info: (fields, message) => inner.info(fields, message),
      warn: (fields, message) => inner.warn(fields, message),
      error: (fields, message) => {
        inner.error(fields, message);
        if (incarnation.state !== 'dead') onError(label, message, fields);
      },
    };
  }

  private member(id: string): Member {
    const member = this.members.get(id);
    if (member === undefined) throw new RangeError(`no node ${JSON.stringify(id)} in the sim cluster`);
    return member;
  }
}
