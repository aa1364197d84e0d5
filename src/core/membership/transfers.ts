/**
 * Which replicas move when the ring changes (paper 4.9). A key of partition k lives on the
 * first n distinct owners clockwise from k, so one ring position changing hands changes
 * the replica sets of up to n key partitions. A transfer is stated per key partition: the
 * node `to` gains a replica of partition k and `from` streams its copy to it.
 *
 * `from` is the replica `to` replaces when there is one (it is the one that drops its
 * copy later, so it must hand it over first); when that replica is gone (a removed
 * member), or when the replica set grows (a cluster smaller than N), another holder of the
 * partition sends instead.
 */
import { compareStrings } from '../bytes.ts';
import { primaryNodes } from '../preflist.ts';
import type { Ring } from '../ring.ts';

export interface ReplicaTransfer {
  /** The key partition whose replica moves. */
  readonly partition: number;
  /** Streams its copy of the partition. */
  readonly from: string;
  /** Gains a replica of the partition. */
  readonly to: string;
}

/** The n the ring runs with: N, or every member when there are fewer. */
export function effectiveReplicas(ring: Ring, replicas: number): number {
  return Math.min(replicas, ring.members.length);
}

/** The key partition's replicas under `ring` (its first effective-n distinct owners). */
export function replicasOf(ring: Ring, partition: number, replicas: number): string[] {
  return primaryNodes(ring, partition, effectiveReplicas(ring, replicas));
}

/**
 * The transfers that take the replicas of `before` to those of `after`, ascending by
 * (partition, to). `gone` names a member that cannot send (a removed, dead member).
 */
export function replicaTransfers(before: Ring, after: Ring, replicas: number, gone?: string): ReplicaTransfer[] {
  if (before.partitionCount !== after.partitionCount) {
    throw new RangeError(`rings differ in size: ${before.partitionCount} vs ${after.partitionCount}`);
  }
  const transfers: ReplicaTransfer[] = [];
  for (let partition = 0; partition < before.partitionCount; partition++) {
    transfers.push(...partitionTransfers(partition, replicasOf(before, partition, replicas), replicasOf(after, partition, replicas), gone));
  }
  return transfers;
}

function partitionTransfers(partition: number, oldSet: readonly string[], newSet: readonly string[], gone: string | undefined): ReplicaTransfer[] {
  const gaining = newSet.filter((node) => !oldSet.includes(node));
  const losing = oldSet.filter((node) => !newSet.includes(node));
  // Senders of last resort: holders that keep their copy first, then any other live holder.
  const spares = [...oldSet.filter((node) => newSet.includes(node)), ...losing].filter((node) => node !== gone);
  const transfers = gaining.map((to, i) => {
    const replaced = losing[i];
    const from = replaced !== undefined && replaced !== gone ? replaced : spares[i % Math.max(1, spares.length)];
    if (from === undefined) throw new RangeError(`partition ${partition} has no live replica to copy from`);
    return { partition, from, to };
  });
  return transfers.sort((a, b) => compareStrings(a.to, b.to));
}

/** The partitions whose replica `node` holds under `after` but did not under `before`. */
export function gainedPartitions(transfers: readonly ReplicaTransfer[], node: string): number[] {
  return transfers.filter((t) => t.to === node).map((t) => t.partition);
}

/** The key partitions `node` replicates under `before` and no longer under `after`: its copies to drop. */
export function lostPartitions(before: Ring, after: Ring, replicas: number, node: string): number[] {
  const lost: number[] = [];
  for (let partition = 0; partition < before.partitionCount; partition++) {
    if (replicasOf(before, partition, replicas).includes(node) && !replicasOf(after, partition, replicas).includes(node)) {
      lost.push(partition);
    }
  }
  return lost;
}
