/**
 * Which key partitions this node really holds the data of, from its own history: the
 * partitions it replicated when it founded (or first opened) its cluster, plus every one a
 * sender finished streaming to it, less every one it stopped replicating (from then on its
 * copy misses the writes that go to the new replicas, even before it is deleted; found by
 * the simulator: a partition handed away and back within two changes was confirmed from a
 * stale copy). A gossip state cannot add to it, which is the point: before a former
 * replica deletes its copy of a partition, every new replica must confirm, from this
 * record, that it holds the partition (paper 4.9's confirmation; issue 14: a forged or
 * buggy "settled" change must delete nothing).
 *
 * It also records, per partition, which senders streamed it here completely and at which
 * ring version: the copy a former replica drops must have reached the replica its transfer
 * names (another former replica's stream may lack writes only this one took).
 *
 * Persisted in the metadata store with the cluster id it belongs to. A node that adopts
 * another cluster's state (a joiner leaving its cluster of one) holds nothing of the new
 * cluster until transfers arrive. A data directory from before this record existed starts
 * from the ring it serves.
 */
import { servingRing, type ClusterState } from '../../core/membership/state.ts';
import { replicasOf } from '../../core/membership/transfers.ts';
import type { JsonValue, MetaStore } from '../../ports/storage.ts';

/** The MetaStore record: `{ clusterId, partitions, streams: [[partition, sender, ringVersion], …] }`. */
export const HOLDINGS_RECORD = 'partitions-held';

/** What a replica says of a partition a former replica asks about. */
export interface PartitionConfirmation {
  /** It holds the partition's data. */
  readonly held: readonly number[];
  /** Of those, the ones the asker streamed to it completely at the asked ring version. */
  readonly streamed: readonly number[];
}

export class PartitionHoldings {
  /** Per partition held, the senders that streamed it here completely, with the ring version. */
  private readonly streams = new Map<number, Map<string, number>>();

  private constructor(
    private readonly meta: MetaStore,
    private clusterId: string,
    private readonly held: Set<number>,
  ) {}

  /** The persisted record, or (first open) the partitions `self` replicates in the ring `state` serves. */
  static async open(meta: MetaStore, self: string, state: ClusterState): Promise<PartitionHoldings> {
    const stored = meta.get(HOLDINGS_RECORD) as { clusterId?: unknown; partitions?: unknown; streams?: unknown } | undefined;
    if (stored !== undefined && typeof stored.clusterId === 'string' && Array.isArray(stored.partitions)) {
      const partitions = stored.partitions.filter((p): p is number => Number.isSafeInteger(p));
      const holdings = new PartitionHoldings(meta, stored.clusterId, new Set(partitions));
      for (const item of Array.isArray(stored.streams) ? stored.streams : []) {
        const [partition, sender, ringVersion] = Array.isArray(item) ? item : [];
        if (Number.isSafeInteger(partition) && typeof sender === 'string' && Number.isSafeInteger(ringVersion)) holdings.noteStream(partition as number, sender, ringVersion as number);
      }
      return holdings;
    }
    const ring = servingRing(state);
    const held = new Set<number>();
    for (let p = 0; p < ring.partitionCount; p++) if (replicasOf(ring, p, state.replicas).includes(self)) held.add(p);
    const holdings = new PartitionHoldings(meta, state.clusterId, held);
    await holdings.persist();
    return holdings;
  }

  /** Whether this node holds the partition's data (of the cluster `clusterId`). */
  private holds(clusterId: string, partition: number): boolean {
    return clusterId === this.clusterId && this.held.has(partition);
  }

  /** Which of these partitions of `clusterId` are held here, and which of those `sender` streamed here at `ringVersion`. */
  confirm(clusterId: string, partitions: readonly number[], sender: string, ringVersion: number): PartitionConfirmation {
    const held = partitions.filter((p) => this.holds(clusterId, p));
    return { held, streamed: held.filter((p) => this.streams.get(p)?.get(sender) === ringVersion) };
  }

  /** `sender` finished streaming the partition here at `ringVersion` (every batch merged durably). */
  async add(clusterId: string, partition: number, sender: string, ringVersion: number): Promise<void> {
    if (clusterId !== this.clusterId) this.startCluster(clusterId);
    this.held.add(partition);
    this.noteStream(partition, sender, ringVersion);
    await this.persist();
  }

  /** This node is about to delete its copy of the partition. */
  async remove(partition: number): Promise<void> {
    if (!this.held.delete(partition)) return;
    this.streams.delete(partition);
    await this.persist();
  }

  /**
   * Follows the view this node serves: a partition it no longer replicates (`holds` false:
   * not in the target ring, nor in the previous one while a change runs) is no longer held;
   * another cluster's state (a joiner adopting it) holds nothing yet.
   */
  async follow(clusterId: string, holds: readonly boolean[]): Promise<void> {
    let changed = false;
    if (clusterId !== this.clusterId) {
      this.startCluster(clusterId);
      changed = true;
    }
    for (const partition of [...this.held]) {
      if (holds[partition] === true) continue;
      this.held.delete(partition);
      this.streams.delete(partition);
      changed = true;
    }
    if (changed) await this.persist();
  }

  private noteStream(partition: number, sender: string, ringVersion: number): void {
    const senders = this.streams.get(partition) ?? new Map<string, number>();
    senders.set(sender, ringVersion);
    this.streams.set(partition, senders);
  }

  private startCluster(clusterId: string): void {
    this.clusterId = clusterId;
    this.held.clear();
    this.streams.clear();
  }

  private persist(): Promise<void> {
    const partitions = [...this.held].sort((a, b) => a - b);
    const streams: [number, string, number][] = [];
    for (const [partition, senders] of this.streams) for (const [sender, ringVersion] of senders) streams.push([partition, sender, ringVersion]);
    return this.meta.put(HOLDINGS_RECORD, { clusterId: this.clusterId, partitions, streams } as JsonValue);
  }
}
