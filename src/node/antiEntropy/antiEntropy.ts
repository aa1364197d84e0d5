/**
 * Always-on anti-entropy (paper 4.7): this node takes the partitions it holds in turn and
 * exchanges each with one other replica of it picked at random among the up ones
 * (exchange.ts). One unit of work at a time; after each, the admission controller decides
 * how long to wait before the next. A partition found in sync is followed by a pause of
 * `intervalMs` (jittered) and a look for tombstones to reap (tombstoneReaper.ts); one that
 * was repaired is exchanged again at once (an exchange repairs a bounded number of
 * segments), so a node that lost its data refills as fast as admission allows.
 *
 * Trees: partitions this node holds without a trusted tree are rebuilt first, one per
 * round, and trees of partitions it no longer holds are forgotten.
 */
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Random } from '../../ports/random.ts';
import type { ObjectStore } from '../../storage/objectStore.ts';
import type { ReapSettings } from '../../core/antiEntropy/reaping.ts';
import { isSettled } from '../../core/membership/state.ts';
import { replicasOf } from '../../core/membership/transfers.ts';
import type { AdmissionController } from '../admission.ts';
import type { ClusterView } from '../cluster.ts';
import type { FailureDetector } from '../failureDetector.ts';
import type { Membership } from '../membership/membership.ts';
import { describeFailure } from '../peerClient.ts';
import { exchangePartition, type ExchangeOutcome, type ExchangePeer } from './exchange.ts';
import type { PartitionTrees } from './partitionTrees.ts';
import { reapPartition, type ReapSteps } from './tombstoneReaper.ts';

/** Objects a tree rebuild visits per round (a round holds the event loop for about that many decodes). */
const REBUILD_PAGE_OBJECTS = 1000;
/** Exchanges of one partition in a row at most while it keeps differing (then the next one's turn). */
const REPEATS_MAX = 64;

export interface AntiEntropyDeps {
  readonly membership: Membership;
  readonly trees: PartitionTrees;
  readonly store: ObjectStore;
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
 * path are passed on to the receiver (localReplica.ts), so a repair merged straight into
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
  private repeats = 0;
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

  /** One unit of work: a tree rebuild if one is owed, else one exchange (and reaping). */
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
      if (untrusted !== undefined) moreWork = trees.rebuildPage(untrusted, this.deps.store, REBUILD_PAGE_OBJECTS, nowMs) !== 'failed';
      else moreWork = await this.exchangeNext(held.filter((p) => trees.isTrusted(p)));
    } finally {
      this.busy = false;
      const workMs = this.deps.clock.monotonicMs() - startedMs;
      const pauseMs = this.deps.admission.pauseAfterMs(workMs);
      this.arm(moreWork ? pauseMs : Math.max(this.jittered(), pauseMs));
    }
  }

  /** Exchanges the partition whose turn it is; true when it differed (worth another exchange soon). */
  private async exchangeNext(held: readonly number[]): Promise<boolean> {
    if (held.length === 0) return false;
    const partition = held[this.next % held.length] as number;
    const replicas = this.replicasOf(partition).filter((node) => node !== this.deps.membership.view.self);
    const peers = replicas.filter((node) => this.deps.detector.isUp(node));
    const peer = peers[this.deps.random.int(Math.max(1, peers.length))];
    let differed = false;
    if (peer !== undefined) {
      try {
        const outcome = await exchangePartition(partition, this.deps.trees, this.deps.store, this.deps.peerFor(peer));
        this.counted(outcome);
        differed = !outcome.inSync;
        if (differed) this.deps.logger.debug({ partition, peer, ...outcome }, 'anti-entropy repaired a partition');
        else if (peers.length === replicas.length) await this.reap(partition, replicas);
      } catch (error) {
        this.stats.failed++;
        this.deps.onExchange?.('failed');
        this.deps.logger.info({ partition, peer, reason: describeFailure(error) }, 'anti-entropy exchange dropped');
      }
    }
    this.repeats = differed ? this.repeats + 1 : 0;
    if (!differed || this.repeats >= REPEATS_MAX) {
      this.next++;
      this.repeats = 0;
    }
    return differed;
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
    const peers = replicas.map((node) => this.deps.peerFor(node));
    const counted = (reapable: number): void => trees.countedReapable(partition, reapable);
    this.countReaped(await reapPartition(partition, this.deps.store, peers, this.deps.reaping, this.deps.clock.nowMs(), counted));
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
