/**
 * After a membership change settles, a node that is no longer a replica of some key
 * partitions deletes its copies of them, `delayMs` later (paper 4.9: the old owner drops
 * its copy only once the new owners are confirmed; the delay lets the rest of the cluster
 * hear of the flip before this copy disappears). Writes routed here by a stale view after
 * the flip go to the new replica as hints (cluster.ts), never back into these partitions.
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
import { lostPartitions } from '../../core/membership/transfers.ts';
import { isSettled } from '../../core/membership/state.ts';
import type { Clock, TimerHandle } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Replica } from '../../ports/replica.ts';
import type { MetaStore } from '../../ports/storage.ts';
import type { BackgroundPacer } from '../admission.ts';
import type { Membership } from './membership.ts';

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
}

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
    const partitions = lostPartitions(state.change.previousRing, state.ring, state.replicas, self);
    let objects = 0;
    let renewed = false;
    for (const partition of partitions) {
      if (!renewed && this.deps.replica.holdsAny(partition)) {
        await this.deps.beforeDeleting?.();
        renewed = true;
      }
      objects += await this.dropPartition(partition, version);
    }
    if (this.running && this.deps.membership.state.ringVersion === version) {
      await this.deps.meta.put(DROPPED_RECORD, version);
      if (partitions.length > 0) this.deps.logger.info({ ringVersion: version, partitions: partitions.length, objects }, 'dropped the copies of handed-over partitions');
    }
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
