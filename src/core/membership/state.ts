/**
 * The cluster state a node gossips (paper 4.8): the member table and the ring, with the
 * last membership change and its partition transfers. Merging is deterministic so that any
 * two nodes that have seen the same states hold the same state, whatever order gossip
 * delivered them in.
 *
 * `ring` is the agreed TARGET ownership. While the change's transfers run, the ring that
 * serves requests is still `change.previousRing` (paper 4.9: the old owners keep serving
 * until the new ones have the data); once every transfer is done, the change is settled
 * and `ring` serves. Each transfer's `done` flag is set by its sender and only ever goes
 * from false to true, so gossip merges flags by OR; settling needs no extra round or
 * version bump, and every node settles the same change the same way (currentMembers).
 *
 * A settled change is kept until the next one, so a former replica that still receives a
 * write routed by a stale view knows whom to hand it to.
 */
import { encodeBase64Url } from '../base64url.ts';
import { compareStrings, encodeUtf8 } from '../bytes.ts';
import { md5 } from '../md5.ts';
import { claimRing } from '../claim.ts';
import { validateReplicas, type Ring } from '../ring.ts';
import { findMember, makeMemberTable, mergeMemberTables, MembershipError, withMember, type Member, type MemberTable } from './member.ts';
import type { ReplicaTransfer } from './transfers.ts';

export type ChangeKind = 'join' | 'leave' | 'remove';

export interface TransferState extends ReplicaTransfer {
  /** Set by the sender once the receiver holds every object it sent, durably. */
  readonly done: boolean;
}

/** One membership change: the ring before it and the replica transfers it needs. */
export interface MembershipChange {
  readonly kind: ChangeKind;
  /** The member that joins, leaves or is removed. */
  readonly member: string;
  readonly previousRing: Ring;
  /** Ascending by (partition, to). */
  readonly transfers: readonly TransferState[];
}

export interface ClusterState {
  /** Gossip between clusters of different names is refused (a join to the wrong seed). */
  readonly clusterName: string;
  /**
   * Which founding this state descends from (a hash of the founders, Q and N), so a node
   * still alone in its own cluster of one can never gossip its state into another
   * cluster of the same name: it joins, and adopts the cluster's state, instead.
   */
  readonly clusterId: string;
  /** N, fixed for the cluster's life (a smaller cluster runs with all its members). */
  readonly replicas: number;
  readonly members: MemberTable;
  /** The target ring (see the file comment for the ring that serves). */
  readonly ring: Ring;
  /** Bumped by every change; the ring and its change travel together under it. */
  readonly ringVersion: number;
  /** The last change (settled or not); undefined for a ring nobody has changed yet. */
  readonly change: MembershipChange | undefined;
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
  const founding = JSON.stringify([clusterName, partitionCount, replicas, members.map((m) => [m.id, m.address.host, m.address.port])]);
  const clusterId = encodeBase64Url(md5(encodeUtf8(founding))).slice(0, 16);
  return Object.freeze({ clusterName, clusterId, replicas, members, ring, ringVersion: 1, change: undefined });
}

/** True when the change (if any) has every transfer done. */
export function isSettled(state: ClusterState): boolean {
  return state.change === undefined || state.change.transfers.every((t) => t.done);
}

/** The ring requests are routed by: the previous ring until the change settles. */
export function servingRing(state: ClusterState): Ring {
  return isSettled(state) ? state.ring : (state.change as MembershipChange).previousRing;
}

/** Transfers not done yet. */
export function pendingTransfers(state: ClusterState): TransferState[] {
  return state.change === undefined ? [] : state.change.transfers.filter((t) => !t.done);
}

/**
 * Marks the transfer of `partition` to `to` done (the sender calls it). Unknown
 * transfers and ones already done leave the state as it is.
 */
export function markTransferDone(state: ClusterState, partition: number, to: string): ClusterState {
  const change = state.change;
  const index = change?.transfers.findIndex((t) => t.partition === partition && t.to === to) ?? -1;
  if (change === undefined || index < 0 || (change.transfers[index] as TransferState).done) return state;
  const transfers = change.transfers.map((t, i) => (i === index ? Object.freeze({ ...t, done: true }) : t));
  return Object.freeze({ ...state, change: Object.freeze({ ...change, transfers: Object.freeze(transfers) }) });
}

/**
 * Merges two states of one cluster: per member the newer entry; the ring and change of the
 * higher ringVersion; on a tie, the same ring and change merge their done flags, different
 * ones (two planners racing) resolve to the one whose canonical form sorts last, so every
 * node picks the same. Commutative, associative and idempotent.
 */
export function mergeStates(a: ClusterState, b: ClusterState): ClusterState {
  if (a.clusterName !== b.clusterName || a.clusterId !== b.clusterId || a.replicas !== b.replicas || a.ring.partitionCount !== b.ring.partitionCount) {
    throw new MembershipError(
      'cluster-mismatch',
      `cannot merge cluster ${JSON.stringify(a.clusterName)} (id ${a.clusterId}, N=${a.replicas}, Q=${a.ring.partitionCount}) ` +
        `with ${JSON.stringify(b.clusterName)} (id ${b.clusterId}, N=${b.replicas}, Q=${b.ring.partitionCount})`,
    );
  }
  const order = Math.sign(a.ringVersion - b.ringVersion) || compareStrings(canonicalRing(a), canonicalRing(b));
  const ringSide = order >= 0 ? a : b;
  const change = order === 0 ? mergeChanges(a.change, b.change) : ringSide.change;
  return Object.freeze({
    clusterName: a.clusterName,
    clusterId: a.clusterId,
    replicas: a.replicas,
    members: mergeMemberTables(a.members, b.members),
    ring: ringSide.ring,
    ringVersion: ringSide.ringVersion,
    change,
  });
}

/**
 * The member table as it stands: a settled change's member in its final status (a joiner
 * valid, a leaver removed). Computed, not stored, so merging stays a plain join of
 * states; the next plan writes the final status into the table with a version bump.
 *
 * A member that owns part of the target ring is valid whatever its entry says: an entry
 * marked leaving or removed by a plan that lost a race (two planners, one ring version;
 * mergeStates keeps the other change's ring, but tables merge entry by entry, so the
 * loser's entry stays) describes a change that never happened. (A departing member is
 * never in the target ring of its own change.)
 */
export function currentMembers(state: ClusterState): MemberTable {
  let members = state.members;
  for (const member of state.members) {
    if ((member.status === 'leaving' || member.status === 'removed') && state.ring.members.includes(member.id)) {
      members = withMember(members, { ...member, status: 'valid', version: member.version + 1 });
    }
  }
  const change = state.change;
  if (change === undefined || !isSettled(state)) return members;
  const member = findMember(members, change.member);
  const moving = change.kind === 'join' ? 'joining' : 'leaving';
  if (member === undefined || member.status !== moving) return members;
  return withMember(members, { ...member, status: change.kind === 'join' ? 'valid' : 'removed', version: member.version + 1 });
}

// Same ring version and same canonical form: the same change, seen at different progress.
function mergeChanges(a: MembershipChange | undefined, b: MembershipChange | undefined): MembershipChange | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const transfers = a.transfers.map((t, i) => (t.done || !(b.transfers[i] as TransferState).done ? t : (b.transfers[i] as TransferState)));
  return Object.freeze({ ...a, transfers: Object.freeze(transfers) });
}

// Rings are small (Q <= a few thousand), and ties are rare (two planners racing), so a
// canonical string is simple and cheap enough. Done flags are left out: they merge.
function canonicalRing(state: ClusterState): string {
  const change = state.change;
  return JSON.stringify([
    state.ring.members,
    state.ring.owners,
    change === undefined
      ? null
      : [change.kind, change.member, change.previousRing.members, change.previousRing.owners, change.transfers.map((t) => [t.partition, t.from, t.to])],
  ]);
}
