/**
 * Membership changes and the ring as operators see them (`/admin/ring`, `/admin/join` …,
 * the CLI): plain JSON, with an estimate of the data a plan moves.
 */
import type { MemberTable } from '../../core/membership/member.ts';
import { currentMembers, isSettled, servingRing, type ClusterState } from '../../core/membership/state.ts';
import { ownedPartitionCounts, type Ring } from '../../core/ring.ts';
import type { DataEstimate } from '../../ports/replica.ts';

export interface PlanView {
  readonly kind: string;
  readonly member: string;
  /** The ring version the change has (or will have, for a plan not applied yet). */
  readonly ringVersion: number;
  readonly transfers: readonly { partition: number; from: string; to: string; done: boolean }[];
  readonly transfersDone: number;
  readonly transfersTotal: number;
  /** Objects and bytes per key partition replica, as measured on the planning node. */
  readonly estimate: DataEstimate;
  readonly ownedBefore: Readonly<Record<string, number>>;
  readonly ownedAfter: Readonly<Record<string, number>>;
}


export interface MemberView {
  readonly id: string;
  readonly address: string;
  readonly status: string;
  readonly version: number;
  /** Ring positions owned in the serving ring. */
  readonly partitions: number;
}

export interface RingView {
  readonly clusterName: string;
  readonly replicas: number;
  readonly partitionCount: number;
  readonly ringVersion: number;
  readonly members: readonly MemberView[];
  readonly owners: readonly string[];
  /** The change in progress, or null once it settled. */
  readonly plan: PlanView | null;
}

/** The view of the change in `state` (a plan just made, or the one in progress). */
export function planViewOf(state: ClusterState, perReplica: DataEstimate): PlanView {
  const change = state.change;
  if (change === undefined) throw new Error('invariant: planViewOf needs a change');
  const transfers = change.transfers.map((t) => ({ partition: t.partition, from: t.from, to: t.to, done: t.done }));
  return {
    kind: change.kind,
    member: change.member,
    ringVersion: state.ringVersion,
    transfers,
    transfersDone: transfers.filter((t) => t.done).length,
    transfersTotal: transfers.length,
    estimate: { objects: Math.round(perReplica.objects * transfers.length), bytes: Math.round(perReplica.bytes * transfers.length) },
    ownedBefore: ownedCounts(change.previousRing),
    ownedAfter: ownedCounts(state.ring),
  };
}

export function ringViewOf(state: ClusterState, perReplica: DataEstimate): RingView {
  const ring = servingRing(state);
  const owned = ownedPartitionCounts(ring);
  return {
    clusterName: state.clusterName,
    replicas: state.replicas,
    partitionCount: ring.partitionCount,
    ringVersion: state.ringVersion,
    members: memberViews(currentMembers(state), owned),
    owners: ring.owners,
    plan: isSettled(state) ? null : planViewOf(state, perReplica),
  };
}

function memberViews(members: MemberTable, owned: ReadonlyMap<string, number>): MemberView[] {
  return members.map((m) => ({
    id: m.id,
    address: `${m.address.host}:${m.address.port}`,
    status: m.status,
    version: m.version,
    partitions: owned.get(m.id) ?? 0,
  }));
}

function ownedCounts(ring: Ring): Record<string, number> {
  return Object.fromEntries(ownedPartitionCounts(ring));
}
