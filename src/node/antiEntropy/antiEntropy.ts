/**
 * Always-on anti-entropy (paper 4.7). Every `intervalMs` (jittered) this node sweeps: it
 * picks an up peer at random and compares, in one request, the roots of all the
 * partitions the two of them replicate. Partitions in sync that hold tombstones are looked
 * at for reaping (tombstoneReaper.ts), one per round; the ones that differ are exchanged one by one
 * (exchange.ts), each again at once while it still differs (an exchange repairs a bounded
 * number of segments), so a node that lost its data refills as fast as admission allows.
 * One unit of work at a time; after each, the admission controller decides how long to
 * wait before the next.
 *
 * Trees: partitions this node holds without a trusted tree are rebuilt first, one per
 * round, and trees of partitions it no longer holds are forgotten.
 */
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Random } from '../../ports/random.ts';
import type { Replica } from '../../ports/replica.ts';
import type { ReapSettings } from '../../core/antiEntropy/reaping.ts';
import { isSettled } from '../../core/membership/state.ts';
import { replicasOf } from '../../core/membership/transfers.ts';
import type { AdmissionController } from '../admission.ts';
import type { ClusterView } from '../cluster.ts';
import type { FailureDetector } from '../failureDetector.ts';
import type { Membership } from '../membership/membership.ts';
import { describeFailure } from '../peerClient.ts';
import { exchangePartition, ROOTS_PER_MESSAGE_MAX, type ExchangeOutcome, type ExchangePeer } from './exchange.ts';
import type { PartitionTrees } from './partitionTrees.ts';
import { reapPartition, type ReapSteps } from './tombstoneReaper.ts';

/** Objects a tree rebuild visits per round (a round holds the event loop for about that many decodes). */
const REBUILD_PAGE_OBJECTS = 1000;
/** Exchanges of one partition in a row at most while it keeps differing (then the next one's turn). */
const REPEATS_MAX = 64;

interface Differing {
  readonly partition: number;
  readonly peer: string;
  repeats: number;
}

export interface AntiEntropyDeps {
  readonly membership: Membership;
  readonly trees: PartitionTrees;
  /** This node's data: the objects the trees describe. */
  readonly replica: Replica;
  readonly detector: FailureDetector;
  readonly admission: AdmissionController;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly reaping: ReapSettings;
  /** The exchange requests, sent to `node`. */
  readonly peerFor: (node: string) => ExchangePeer;
  readonly onExchange?: (outcome: ExchangeOutcome | 'failed') => void;
}

export interface AntiEntropyStats {
  readonly exchanges: number;
  readonly inSync: number;
  readonly failed: number;
  readonly segmentsCompared: number;
  readonly keysRepaired: number;
  readonly bytes: number;
  readonly tombstonesReaped: number;
  readonly markersRemoved: number;
}

/**
 * Whether this node exchanges a partition now: it replicates it in the serving ring and is
 * not handing it over. During a hand-over, only writes that go through the replica's write
 * path are passed on to the receiver (replica/nodeReplica.ts), so a repair merged straight into
 * the store could miss the new replica; the transfer carries the data, and anti-entropy
 * takes the partition up again once the change settles.
 */
export function exchangeablePartition(view: ClusterView, partition: number): boolean {
  return view.holds[partition] === true && (view.forwardTo[partition]?.length ?? 0) === 0 && replicasOf(view.ring, partition, view.state.replicas).includes(view.self);
}

export class AntiEntropy {
  private running = false;
  private busy = false;
  private timer: ReturnType<Clock['setTimer']> | undefined;
  private next = 0;
  /** Partitions the last sweep found differing, with the peer they differ from: exchanged first. */
  private readonly differing: Differing[] = [];
  /** Partitions a sweep found in sync that may hold tombstones or markers: looked at one per round. */
  private readonly reapable: number[] = [];
  /** Time this round spent waiting for peers (not paced: see round). */
  private waitedMs = 0;
  private stats: { -readonly [K in keyof AntiEntropyStats]: AntiEntropyStats[K] } = {
    exchanges: 0,
    inSync: 0,
    failed: 0,
    segmentsCompared: 0,
    keysRepaired: 0,
    bytes: 0,
    tombstonesReaped: 0,
    markersRemoved: 0,
  };

  constructor(private readonly deps: AntiEntropyDeps) {
    // Replicas start their sweeps at different partitions, so they do not repair the same
    // partition against each other at the same time.
    this.next = deps.random.int(1 << 20);
  }

  start(): void {
    this.running = true;
    this.arm(this.deps.intervalMs);
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.deps.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  counters(): AntiEntropyStats {
    return { ...this.stats };
  }

  /**
   * One unit of work: a page of a tree rebuild if one is owed; else the exchange of a
   * partition a sweep found differing; else a sweep.
   */
  async round(): Promise<void> {
    if (!this.running || this.busy) return;
    this.busy = true;
    const startedMs = this.deps.clock.monotonicMs();
    let moreWork = false;
    try {
      const held = this.heldPartitions();
      this.forgetOthers(held);
      const { trees, clock } = this.deps;
      const nowMs = clock.monotonicMs();
      const untrusted = held.find((p) => !trees.isTrusted(p) && trees.rebuildDue(p, nowMs));
      const trusted = new Set(held.filter((p) => trees.isTrusted(p)));
      if (untrusted !== undefined) moreWork = trees.rebuildPage(untrusted, this.deps.replica, REBUILD_PAGE_OBJECTS, nowMs) !== 'failed';
      else if (this.differing.length > 0) moreWork = await this.exchangeDiffering(trusted);
      else if (this.reapable.length > 0) moreWork = await this.reapNext(trusted);
      else moreWork = await this.sweep([...trusted]);
    } finally {
      this.busy = false;
      // Paced on this node's own work: the time spent waiting for peers' answers costs it nothing.
      const workMs = Math.max(0, this.deps.clock.monotonicMs() - startedMs - this.waitedMs);
      this.waitedMs = 0;
      const pauseMs = this.deps.admission.pauseAfterMs(workMs);
      this.arm(moreWork ? pauseMs : Math.max(this.jittered(), pauseMs));
    }
  }

  /**
   * Compares, in one request, the roots of the partitions this node shares with one up
   * peer picked at random (up to ROOTS_PER_MESSAGE_MAX of them, taken in turn): the ones
   * that differ are queued for an exchange; the ones in sync are looked at for reaping.
   * True when something differs.
   */
  private async sweep(held: readonly number[]): Promise<boolean> {
    const self = this.deps.membership.view.self;
    const shared = new Map<string, number[]>();
    for (const partition of held) {
      for (const node of this.replicasOf(partition)) {
        if (node === self || !this.deps.detector.isUp(node)) continue;
        let list = shared.get(node);
        if (list === undefined) shared.set(node, (list = []));
        list.push(partition);
      }
    }
    const peers = [...shared.keys()].sort();
    const peer = peers[this.deps.random.int(Math.max(1, peers.length))];
    if (peer === undefined) return false;
    const all = shared.get(peer) as number[];
    const start = this.next++ % all.length;
    const partitions = [...all.slice(start), ...all.slice(0, start)].slice(0, ROOTS_PER_MESSAGE_MAX);
    let roots: readonly Uint8Array[];
    try {
      roots = await this.peerFor(peer).roots(partitions, this.deps.trees.shape);
      if (roots.length !== partitions.length) throw new Error(`asked for ${partitions.length} roots, got ${roots.length}`);
    } catch (error) {
      this.stats.failed++;
      this.deps.logger.info({ peer, reason: describeFailure(error) }, 'anti-entropy sweep dropped');
      return false;
    }
    this.stats.bytes += roots.reduce((sum, root) => sum + root.length, 0);
    const inSync: number[] = [];
    partitions.forEach((partition, i) => {
      const theirs = roots[i] as Uint8Array;
      const tree = this.deps.trees.tree(partition);
      if (theirs.length === 0 || tree === undefined) return;
      // A partition in sync counts as an exchange here; one that differs, when it is exchanged.
      if (tree.sameRoot(theirs)) {
        this.stats.exchanges++;
        this.stats.inSync++;
        inSync.push(partition);
      } else this.differing.push({ partition, peer, repeats: 0 });
    });
    for (const partition of inSync) if (this.deps.trees.mayHoldReapable(partition) && !this.reapable.includes(partition)) this.reapable.push(partition);
    return this.differing.length > 0;
  }

  /** Exchanges the first partition a sweep found differing; true while there is more to do. */
  private async exchangeDiffering(trusted: ReadonlySet<number>): Promise<boolean> {
    const head = this.differing[0] as Differing;
    if (!trusted.has(head.partition) || !this.deps.detector.isUp(head.peer)) {
      this.differing.shift();
      return this.differing.length > 0;
    }
    let repairedSome = false;
    try {
      const outcome = await exchangePartition(head.partition, this.deps.trees, this.deps.replica, this.peerFor(head.peer), this.betweenPages);
      this.counted(outcome);
      repairedSome = !outcome.inSync;
      if (repairedSome) this.deps.logger.debug({ partition: head.partition, peer: head.peer, ...outcome }, 'anti-entropy repaired a partition');
    } catch (error) {
      this.stats.failed++;
      this.deps.onExchange?.('failed');
      this.deps.logger.info({ partition: head.partition, peer: head.peer, reason: describeFailure(error) }, 'anti-entropy exchange dropped');
    }
    // An exchange repairs a bounded number of segments: the same partition again until in sync.
    if (!repairedSome || ++head.repeats >= REPEATS_MAX) this.differing.shift();
    return this.differing.length > 0 || repairedSome;
  }

  /** Looks for tombstones to reap in the next partition a sweep found in sync (one per round: a scan of it). */
  private async reapNext(trusted: ReadonlySet<number>): Promise<boolean> {
    const partition = this.reapable.shift() as number;
    const replicas = this.replicasOf(partition).filter((node) => node !== this.deps.membership.view.self);
    if (trusted.has(partition) && replicas.every((node) => this.deps.detector.isUp(node))) {
      try {
        await this.reap(partition, replicas);
      } catch (error) {
        this.deps.logger.info({ partition, reason: describeFailure(error) }, 'tombstone reaping dropped');
      }
    }
    return this.reapable.length > 0;
  }

  /** Lets client requests in between the pages of a long scan (and does not count as work). */
  readonly betweenPages = (): Promise<void> => {
    const pausedMs = this.deps.clock.monotonicMs();
    return new Promise((resolve) => {
      this.deps.clock.setTimer(0, () => {
        this.waitedMs += this.deps.clock.monotonicMs() - pausedMs;
        resolve();
      });
    });
  };

  /** The peer's requests, with the time spent waiting for their answers added to `waitedMs`. */
  private peerFor(node: string): ExchangePeer {
    const peer = this.deps.peerFor(node);
    const timed = <A extends unknown[], R>(call: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
      const sentMs = this.deps.clock.monotonicMs();
      try {
        return await call(...args);
      } finally {
        this.waitedMs += this.deps.clock.monotonicMs() - sentMs;
      }
    };
    return {
      root: timed(peer.root),
      roots: timed(peer.roots),
      children: timed(peer.children),
      keys: timed(peer.keys),
      fetch: timed(peer.fetch),
      push: timed(peer.push),
      digests: timed(peer.digests),
      reap: timed(peer.reap),
    };
  }

  /** Counts reaping steps taken here (at this node's initiative or a peer's). */
  readonly countReaped = (steps: ReapSteps): void => {
    this.stats.tombstonesReaped += steps.tombstonesReaped;
    this.stats.markersRemoved += steps.markersRemoved;
  };

  /** Reaps due tombstones of a partition in sync, when every replica is up and the ring is settled. */
  private async reap(partition: number, replicas: readonly string[]): Promise<void> {
    const { trees } = this.deps;
    if (!isSettled(this.deps.membership.view.state) || !trees.mayHoldReapable(partition)) return;
    const peers = replicas.map((node) => this.peerFor(node));
    const counted = (reapable: number): void => trees.countedReapable(partition, reapable);
    this.countReaped(await reapPartition(partition, this.deps.replica, peers, this.deps.reaping, this.deps.clock.nowMs(), counted));
  }

  private counted(outcome: ExchangeOutcome): void {
    this.stats.exchanges++;
    if (outcome.inSync) this.stats.inSync++;
    this.stats.segmentsCompared += outcome.segmentsCompared;
    this.stats.keysRepaired += outcome.keysPushed + outcome.keysFetched;
    this.stats.bytes += outcome.bytes;
    this.deps.onExchange?.(outcome);
  }

  /** Key partitions this node replicates in the serving ring and exchanges now. */
  private heldPartitions(): number[] {
    const view = this.deps.membership.view;
    const held: number[] = [];
    for (let p = 0; p < view.ring.partitionCount; p++) if (exchangeablePartition(view, p)) held.push(p);
    return held;
  }

  private replicasOf(partition: number): string[] {
    const { ring, state } = this.deps.membership.view;
    return replicasOf(ring, partition, state.replicas);
  }

  private forgetOthers(held: readonly number[]): void {
    const keep = new Set(held);
    const { partitionCount } = this.deps.membership.view.ring;
    for (let p = 0; p < partitionCount; p++) if (!keep.has(p)) this.deps.trees.forget(p);
  }

  private jittered(): number {
    return this.deps.intervalMs * (0.5 + this.deps.random.next());
  }

  private arm(delayMs: number): void {
    if (!this.running) return;
    if (this.timer !== undefined) this.deps.clock.clearTimer(this.timer);
    this.timer = this.deps.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      void this.round();
    });
  }
}
