/**
 * The cluster state a node gossips (paper 4.8): the member table and the ring, with the
 * partition transfers still in flight. Merging is deterministic so that any two nodes that
 * have seen the same states hold the same state, whatever order gossip delivered them in.
 *
 * `ring` is the agreed TARGET ownership. A partition listed in `pendingTransfers` is still
 * served by the transfer's `from` until the move is confirmed (paper 4.9); confirming one
 * removes it from the list and bumps `ringVersion`. The ring and its pending transfers
 * travel together under one version: whichever has the higher `ringVersion` wins both.
 */
import { compareStrings } from '../bytes.ts';
import type { PartitionTransfer } from '../claim.ts';
import { claimRing } from '../claim.ts';
import { validateReplicas, type Ring } from '../ring.ts';
import { makeMemberTable, mergeMemberTables, MembershipError, type Member, type MemberTable } from './member.ts';

export interface ClusterState {
  /** Gossip between clusters of different names is refused (a join to the wrong seed). */
  readonly clusterName: string;
  /** N, fixed for the cluster's life: claims and the "fewer than N members" guard use it. */
  readonly replicas: number;
  readonly members: MemberTable;
  readonly ring: Ring;
  /** Bumped by every change to `ring` or `pendingTransfers`. */
  readonly ringVersion: number;
  /** Moves of `ring` not yet confirmed, ascending by partition. */
  readonly pendingTransfers: readonly PartitionTransfer[];
}

/** A new cluster: the founders are valid members and own a fresh strategy-3 ring. */
export function foundCluster(
  clusterName: string,
  founders: readonly Member[],
  partitionCount: number,
  replicas: number,
): ClusterState {
  validateReplicas(replicas);
  const members = makeMemberTable(founders.map((m) => ({ ...m, status: 'valid' as const })));
  const ring = claimRing(
    members.map((m) => m.id),
    partitionCount,
    replicas,
  );
  return Object.freeze({ clusterName, replicas, members, ring, ringVersion: 1, pendingTransfers: Object.freeze([]) });
}

/** Who serves `partition` now: the sender of a pending transfer, else the ring's owner. */
export function currentOwner(state: ClusterState, partition: number): string {
  const pending = state.pendingTransfers.find((t) => t.partition === partition);
  return pending?.from ?? (state.ring.owners[partition] as string);
}

/**
 * Merges two states of one cluster: per member the newer entry; the ring (with its pending
 * transfers) of the higher ringVersion, and on a tie the one whose canonical form sorts
 * last, so every node picks the same. Commutative, associative and idempotent.
 */
export function mergeStates(a: ClusterState, b: ClusterState): ClusterState {
  if (a.clusterName !== b.clusterName || a.replicas !== b.replicas || a.ring.partitionCount !== b.ring.partitionCount) {
    throw new MembershipError(
      'cluster-mismatch',
      `cannot merge cluster ${JSON.stringify(a.clusterName)} (N=${a.replicas}, Q=${a.ring.partitionCount}) ` +
        `with ${JSON.stringify(b.clusterName)} (N=${b.replicas}, Q=${b.ring.partitionCount})`,
    );
  }
  const ringSide = compareRingPayloads(a, b) >= 0 ? a : b;
  return Object.freeze({
    clusterName: a.clusterName,
    replicas: a.replicas,
    members: mergeMemberTables(a.members, b.members),
    ring: ringSide.ring,
    ringVersion: ringSide.ringVersion,
    pendingTransfers: ringSide.pendingTransfers,
  });
}

function compareRingPayloads(a: ClusterState, b: ClusterState): number {
  return Math.sign(a.ringVersion - b.ringVersion) || compareStrings(canonicalRing(a), canonicalRing(b));
}

// Rings are small (Q <= a few thousand), and ties are rare (two planners racing), so a
// canonical string is simple and cheap enough.
function canonicalRing(state: ClusterState): string {
  return JSON.stringify([
    state.ring.members,
    state.ring.owners,
    state.pendingTransfers.map((t) => [t.partition, t.from, t.to]),
  ]);
}
