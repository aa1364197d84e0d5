/**
 * Always-on anti-entropy (paper 4.7): every `intervalMs` (jittered) this node takes the
 * next partition it holds, in turn, and exchanges it with one other replica of it picked at
 * random among the up ones (exchange.ts). One exchange at a time; after each, the
 * admission controller decides how long to wait before the next unit of background work.
 *
 * Trees: partitions this node holds without a trusted tree are rebuilt first, one per
 * round, and trees of partitions it no longer holds are forgotten.
 */
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Random } from '../../ports/random.ts';
import type { ObjectStore } from '../../storage/objectStore.ts';
import { replicasOf } from '../../core/membership/transfers.ts';
import type { AdmissionController } from '../admission.ts';
import type { FailureDetector } from '../failureDetector.ts';
import type { Membership } from '../membership/membership.ts';
import { describeFailure } from '../peerClient.ts';
import { exchangePartition, type ExchangeOutcome, type ExchangePeer } from './exchange.ts';
import type { PartitionTrees } from './partitionTrees.ts';

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
}

export class AntiEntropy {
  private running = false;
  private busy = false;
  private timer: ReturnType<Clock['setTimer']> | undefined;
  private next = 0;
  private stats: { -readonly [K in keyof AntiEntropyStats]: AntiEntropyStats[K] } = { exchanges: 0, inSync: 0, failed: 0, segmentsCompared: 0, keysRepaired: 0, bytes: 0 };

  constructor(private readonly deps: AntiEntropyDeps) {}

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

  /** One unit of work: a tree rebuild if one is owed, else one exchange. */
  async round(): Promise<void> {
    if (!this.running || this.busy) return;
    this.busy = true;
    const startedMs = this.deps.clock.monotonicMs();
    try {
      const held = this.heldPartitions();
      this.forgetOthers(held);
      const untrusted = held.find((p) => !this.deps.trees.isTrusted(p));
      if (untrusted !== undefined) this.deps.trees.rebuild(untrusted, this.deps.store);
      else await this.exchangeNext(held);
    } finally {
      this.busy = false;
      const workMs = this.deps.clock.monotonicMs() - startedMs;
      this.arm(Math.max(this.jittered(), this.deps.admission.pauseAfterMs(workMs)));
    }
  }

  private async exchangeNext(held: readonly number[]): Promise<void> {
    if (held.length === 0) return;
    const partition = held[this.next++ % held.length] as number;
    const peers = this.replicasOf(partition).filter((node) => node !== this.deps.membership.view.self && this.deps.detector.isUp(node));
    if (peers.length === 0) return;
    const peer = peers[this.deps.random.int(peers.length)] as string;
    try {
      const outcome = await exchangePartition(partition, this.deps.trees, this.deps.store, this.deps.peerFor(peer));
      this.counted(outcome);
      if (!outcome.inSync) this.deps.logger.debug({ partition, peer, ...outcome }, 'anti-entropy repaired a partition');
    } catch (error) {
      this.stats.failed++;
      this.deps.onExchange?.('failed');
      this.deps.logger.info({ partition, peer, reason: describeFailure(error) }, 'anti-entropy exchange dropped');
    }
  }

  private counted(outcome: ExchangeOutcome): void {
    this.stats.exchanges++;
    if (outcome.inSync) this.stats.inSync++;
    this.stats.segmentsCompared += outcome.segmentsCompared;
    this.stats.keysRepaired += outcome.keysPushed + outcome.keysFetched;
    this.stats.bytes += outcome.bytes;
    this.deps.onExchange?.(outcome);
  }

  /** Key partitions this node replicates in the serving ring. */
  private heldPartitions(): number[] {
    const view = this.deps.membership.view;
    const held: number[] = [];
    for (let p = 0; p < view.ring.partitionCount; p++) if (view.holds[p] === true && this.replicasOf(p).includes(view.self)) held.push(p);
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
