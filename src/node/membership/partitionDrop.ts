/**
 * After a membership change settles, a node that is no longer a replica of some key
 * partitions deletes its copies of them, `delayMs` later (paper 4.9: the old owner drops
 * its copy only once the new owners are confirmed; the delay lets the rest of the cluster
 * hear of the flip before this copy disappears).
 *
 * The state saying the change settled is not trusted for this: a forged or buggy gossip
 * state can mark transfers done that never ran, or hand partitions to a node that does
 * not exist. Before deleting anything of a partition, this node asks each of its new
 * replicas whether it holds the partition (holdings.ts: from the replica's own history,
 * which no gossip state writes), and each one its transfers of the partition name whether
 * this node's own stream reached it whole (another former replica's copy may lack writes
 * only this one took). A new replica that answers no is sent this node's copy first (a
 * handoff, as a transfer), then asked again; a partition not confirmed by every new replica
 * is kept, and the drop is tried again later. Writes routed here by a stale view after
 * the flip go to the new replica as hints (cluster.ts), never back into these partitions.
 * Partitions lost in an earlier change this node missed, that it still holds objects of,
 * are treated the same way (strandedToo).
 * Deletion runs in bounded batches and rechecks ownership before each one; the ring
 * version it last cleaned up after is persisted, so a restart does not scan again. Before
 * the first object of a run is deleted, `beforeDeleting` runs (the node takes a new actor,
 * so it never reissues a dot it issued for a key whose copy it drops).
 *
 * The wait is never shorter than twice the request timeout: a replica
 * write this node acknowledged just before the change settled may still be on its way to
 * its coordinator, which counts it towards W; the copy must outlive that count (found by
 * the simulator, seed 5000413: a W = 3 write acknowledged by a leaving node that had
 * already dropped it, so only two nodes held it). Twice: clocks drift between nodes, and
 * a forwarded request's budget started on another node.
 */
import { pushTo } from '../../core/collections.ts';
import { lostPartitions, replicasOf } from '../../core/membership/transfers.ts';
import { isSettled, type ClusterState } from '../../core/membership/state.ts';
import type { Clock, TimerHandle } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Replica } from '../../ports/replica.ts';
import type { MetaStore } from '../../ports/storage.ts';
import type { BackgroundPacer } from '../admission.ts';
import { TRANSFER_BATCH_OBJECTS_MAX } from '../protocol.ts';
import type { Membership } from './membership.ts';
import type { PartitionConfirmation, PartitionHoldings } from './holdings.ts';

/** The MetaStore record: the ring version whose dropped partitions were deleted. */
export const DROPPED_RECORD = 'partitions-dropped';

export interface PartitionDropDeps {
  readonly membership: Membership;
  /** This node's data, which the drop deletes from. */
  readonly replica: Replica;
  readonly meta: MetaStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly delayMs: number;
  /** The node's request timeout: the wait is at least twice it. */
  readonly requestTimeoutMs: number;
  readonly batchObjectsMax: number;
  /** The admission controller: the pause after each deleted page; none when absent. */
  readonly pacer?: BackgroundPacer;
  /** Runs (once per drop) before the first deletion. */
  readonly beforeDeleting?: () => Promise<void>;
  /** What this node holds: a partition leaves it before its first object is deleted. */
  readonly holdings: PartitionHoldings;
  /** What `replica` confirms of these partitions (holdings.ts); undefined when it could not be asked. */
  readonly confirmedBy: (replica: string, clusterId: string, ringVersion: number, partitions: readonly number[]) => Promise<PartitionConfirmation | undefined>;
  /** Streams this node's copy of the partition to a new replica that lacks it; true once taken. */
  readonly handOff: (partition: number, to: string, wanted: () => boolean) => Promise<boolean>;
}

/** Partitions per `holdings` question (the protocol's list bound). */
const HOLDINGS_QUESTION_PARTITIONS_MAX = TRANSFER_BATCH_OBJECTS_MAX;

/** How long after a change settles a former replica deletes its copies (see above). */
export function dropWaitMs(delayMs: number, requestTimeoutMs: number): number {
  return Math.max(delayMs, 2 * requestTimeoutMs);
}

export class PartitionDrop {
  private timer: TimerHandle | undefined;
  private scheduledFor = 0;
  private running = false;
  private dropped = 0;

  constructor(private readonly deps: PartitionDropDeps) {}

  start(): void {
    this.running = true;
    this.deps.membership.onView(() => this.check());
    this.check();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.deps.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Whether the drop after the settled change is still to finish here (waiting, asking, handing over or deleting). */
  get pending(): boolean {
    const state = this.deps.membership.state;
    if (!this.running || state.change === undefined || !isSettled(state)) return false;
    const done = this.deps.meta.get(DROPPED_RECORD);
    return !(typeof done === 'number' && done >= state.ringVersion);
  }

  /** Objects deleted since start. */
  get droppedObjects(): number {
    return this.dropped;
  }

  private check(): void {
    const state = this.deps.membership.state;
    if (!this.running || state.change === undefined || !isSettled(state)) return;
    const version = state.ringVersion;
    const done = this.deps.meta.get(DROPPED_RECORD);
    if (version === this.scheduledFor || (typeof done === 'number' && done >= version)) return;
    this.scheduledFor = version;
    if (this.timer !== undefined) this.deps.clock.clearTimer(this.timer);
    this.timer = this.deps.clock.setTimer(dropWaitMs(this.deps.delayMs, this.deps.requestTimeoutMs), () => {
      this.timer = undefined;
      this.drop(version).catch((error: unknown) => {
        this.scheduledFor = 0;
        this.deps.logger.warn({ err: error, ringVersion: version }, 'dropping handed-over partitions failed; will retry on the next change');
      });
    });
  }

  private async drop(version: number): Promise<void> {
    const state = this.deps.membership.state;
    if (state.ringVersion !== version || state.change === undefined) return;
    const self = this.deps.membership.view.self;
    const lost = lostPartitions(state.change.previousRing, state.ring, state.replicas, self);
    const partitions = this.strandedToo(lost, state, self);
    const stranded = new Set(partitions.filter((partition) => !lost.includes(partition)));
    const unconfirmed = await this.confirmedOrHandedOff(state, partitions, stranded, version);
    let objects = 0;
    let renewed = false;
    for (const partition of partitions) {
      if (unconfirmed.has(partition) || !this.current(version)) continue;
      await this.deps.holdings.remove(partition);
      if (!renewed && this.deps.replica.holdsAny(partition)) {
        await this.deps.beforeDeleting?.();
        renewed = true;
      }
      objects += await this.dropPartition(partition, version);
    }
    if (!this.current(version)) return;
    if (partitions.length > 0) this.deps.logger.info({ ringVersion: version, partitions: partitions.length - unconfirmed.size, objects }, 'dropped the copies of handed-over partitions');
    if (unconfirmed.size > 0) return this.keepUnconfirmed(version, unconfirmed);
    await this.deps.meta.put(DROPPED_RECORD, version);
  }

  /**
   * The partitions this change took from this node, and any other it still holds objects of
   * but does not replicate: a node down while an earlier change settled may have taken
   * writes into a partition it lost then (restarted on its old ring, cut off, coordinating
   * alone), and no transfer of that change, nor anti-entropy among the new replicas, has
   * them (found by the simulator with paused nodes, seed 3: an acknowledged write lost).
   * They go through the same confirmation and handoff before anything is deleted, and a
   * new replica confirms one only once this node's own copy was streamed to it: holding
   * the partition is not enough, since its copy came from others (found by the simulator,
   * seed 201165: a leaver whose leave a forged state settled, with a W = 1 write no one
   * else had, dropped it because the next change's replicas held the partition).
   */
  private strandedToo(lost: readonly number[], state: ClusterState, self: string): number[] {
    const partitions = [...lost];
    for (let partition = 0; partition < state.ring.partitionCount; partition++) {
      if (lost.includes(partition) || replicasOf(state.ring, partition, state.replicas).includes(self)) continue;
      if (this.deps.replica.holdsAny(partition)) partitions.push(partition);
    }
    return partitions;
  }

  /**
   * The partitions (with the new replicas missing) that some new replica does not confirm
   * holding, even after this node handed its copy to it.
   */
  private async confirmedOrHandedOff(state: ClusterState, partitions: readonly number[], stranded: ReadonlySet<number>, version: number): Promise<Map<number, string[]>> {
    const { unconfirmed, lacking } = await this.unconfirmed(state, partitions, stranded);
    if (lacking.size === 0) return unconfirmed;
    // Only replicas that answered they lack a partition are sent it; one that did not answer is asked again later.
    for (const [partition, replicas] of lacking) {
      for (const to of replicas) {
        this.deps.logger.warn({ partition, to, ringVersion: version }, 'a new replica does not confirm holding a partition this node is to drop; handing it over first');
        await this.deps.handOff(partition, to, () => this.current(version));
      }
    }
    return (await this.unconfirmed(state, [...unconfirmed.keys()], stranded)).unconfirmed;
  }

  /**
   * Per partition not confirmed by all its new replicas, the ones that did not confirm
   * (`unconfirmed`), and among them the ones that answered (`lacking`): they do not hold it,
   * or this node's stream did not reach them whole where it must have (a transfer names
   * them as this node's receiver, or the partition is `stranded` here).
   */
  private async unconfirmed(
    state: ClusterState,
    partitions: readonly number[],
    stranded: ReadonlySet<number>,
  ): Promise<{ unconfirmed: Map<number, string[]>; lacking: Map<number, string[]> }> {
    const self = this.deps.membership.view.self;
    const receivers = new Set((state.change?.transfers ?? []).filter((t) => t.from === self).map((t) => `${t.partition}/${t.to}`));
    const asked = new Map<string, number[]>();
    for (const partition of partitions) {
      for (const replica of replicasOf(state.ring, partition, state.replicas)) pushTo(asked, replica, partition);
    }
    const unconfirmed = new Map<number, string[]>();
    const lacking = new Map<number, string[]>();
    for (const [replica, theirs] of asked) {
      const answer = await this.confirmationOf(replica, state, theirs);
      for (const partition of theirs) {
        const streamNeeded = stranded.has(partition) || receivers.has(`${partition}/${replica}`);
        const confirmed = answer !== undefined && (streamNeeded ? answer.streamed : answer.held).has(partition);
        if (confirmed) continue;
        pushTo(unconfirmed, partition, replica);
        if (answer !== undefined) pushTo(lacking, partition, replica);
      }
    }
    return { unconfirmed, lacking };
  }

  /** What `replica` confirms of these partitions, asked in bounded questions; undefined when it could not be asked. */
  private async confirmationOf(replica: string, state: ClusterState, partitions: readonly number[]): Promise<{ held: Set<number>; streamed: Set<number> } | undefined> {
    const held = new Set<number>();
    const streamed = new Set<number>();
    for (let i = 0; i < partitions.length; i += HOLDINGS_QUESTION_PARTITIONS_MAX) {
      const answer = await this.deps.confirmedBy(replica, state.clusterId, state.ringVersion, partitions.slice(i, i + HOLDINGS_QUESTION_PARTITIONS_MAX));
      if (answer === undefined) return undefined;
      for (const p of answer.held) held.add(p);
      for (const p of answer.streamed) streamed.add(p);
    }
    return { held, streamed };
  }

  /** Keeps the copies nobody confirmed, and tries again after another wait. */
  private keepUnconfirmed(version: number, unconfirmed: ReadonlyMap<number, readonly string[]>): void {
    const replicas = [...new Set([...unconfirmed.values()].flat())];
    this.deps.logger.warn({ ringVersion: version, partitions: unconfirmed.size, replicas }, 'kept the copies of partitions whose new replicas do not confirm holding them; will ask again');
    this.scheduledFor = 0;
    this.check();
  }

  private current(version: number): boolean {
    return this.running && this.deps.membership.state.ringVersion === version;
  }

  private async dropPartition(partition: number, version: number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const view = this.deps.membership.view;
      if (!this.running || view.state.ringVersion !== version || view.holds[partition] === true) return deleted;
      const startedMs = this.deps.clock.monotonicMs();
      const removed = await this.deps.replica.dropPage(partition, this.deps.batchObjectsMax);
      if (removed === 0) return deleted;
      deleted += removed;
      this.dropped += removed;
      await this.pause(this.deps.clock.monotonicMs() - startedMs);
    }
  }

  // Deleting competes with the foreground for the buffer and the disk: give it room.
  private pause(workMs: number): Promise<void> {
    const ms = this.deps.pacer?.pauseAfterMs(workMs) ?? 0;
    return ms <= 0 ? Promise.resolve() : new Promise((resolve) => this.deps.clock.setTimer(ms, resolve));
  }
}
