/**
 * The cluster as this node sees it now: derived from the gossiped ClusterState (core/
 * membership) each time that changes, and read by every request.
 *
 * Requests are routed by the SERVING ring (the previous ring until a membership change's
 * transfers are all done). The quorum is the configured one, lowered while the ring has
 * fewer members than N (a cluster of one runs N = R = W = 1, so `shoal start` alone works
 * with the defaults; it grows to the configured N as members join).
 *
 * During a change, this node forwards writes of the partitions it is handing over to
 * their receivers (`forwardTo`), so a write that lands after its copy was streamed is not
 * lost; after the change settles, a write routed here by a stale view goes to the new
 * replica only (`holds` false).
 */
import { primaryNodes } from '../core/preflist.ts';
import type { Ring } from '../core/ring.ts';
import { currentMembers, foundCluster, isSettled, servingRing, type ClusterState } from '../core/membership/state.ts';
import { effectiveReplicas, replicasOf } from '../core/membership/transfers.ts';
import type { NodeId, PeerAddress } from '../ports/transport.ts';
import type { NodeConfig } from './config.ts';
import type { Quorum } from './request.ts';

export interface ClusterView {
  readonly self: NodeId;
  /** Every member not removed, sorted (this node included when it is one). */
  readonly members: readonly NodeId[];
  /** The other members not removed, and where they listen for internode traffic. */
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  /** The serving ring. */
  readonly ring: Ring;
  /** Per partition, every ring member in preference-list order (the first N are its primaries). */
  readonly preference: readonly (readonly NodeId[])[];
  /** The cluster's N, R, W as the node runs them now. */
  readonly quorum: Quorum;
  /** Set when the configured quorum is lowered (a ring smaller than N). */
  readonly quorumLowered: Quorum | undefined;
  /** Per partition: whether this node keeps a copy in its main store. */
  readonly holds: readonly boolean[];
  /** Per partition: nodes this node's writes of that partition are also handed to (transfers). */
  readonly forwardTo: readonly (readonly NodeId[])[];
  /** The state the view was derived from. */
  readonly state: ClusterState;
}

/** The state a node starts from when it has none persisted: `--cluster`, or itself alone. */
export function initialClusterState(config: NodeConfig): ClusterState {
  const listed = config.cluster ?? [{ id: config.id, address: config.listen }];
  const founders = listed.map((m) => ({ id: m.id, address: m.address, status: 'valid' as const, version: 1 }));
  return foundCluster(config.clusterName, founders, config.partitionCount, config.n);
}

/** The view of `state` from node `self`, with the quorum `config` asks for. */
export function viewOfState(self: NodeId, state: ClusterState, config: Pick<NodeConfig, 'r' | 'w'>): ClusterView {
  const ring = servingRing(state);
  const live = currentMembers(state).filter((m) => m.status !== 'removed');
  const peers = new Map<NodeId, PeerAddress>();
  for (const member of live) if (member.id !== self) peers.set(member.id, member.address);
  const n = effectiveReplicas(ring, state.replicas);
  const configured: Quorum = { n: state.replicas, r: config.r, w: config.w };
  const quorum: Quorum = { n, r: Math.min(config.r, n), w: Math.min(config.w, n) };
  const lowered = quorum.n !== configured.n || quorum.r !== configured.r || quorum.w !== configured.w;
  const preference = Array.from({ length: ring.partitionCount }, (_, partition) => primaryNodes(ring, partition, ring.members.length));
  return {
    self,
    members: live.map((m) => m.id),
    peers,
    ring,
    preference,
    quorum,
    quorumLowered: lowered ? configured : undefined,
    ...writeRouting(self, state),
    state,
  };
}

/** The view a node starts with from its config alone (tests, the simulator's reference). */
export function clusterViewOf(config: NodeConfig): ClusterView {
  return viewOfState(config.id, initialClusterState(config), config);
}

function writeRouting(self: NodeId, state: ClusterState): Pick<ClusterView, 'holds' | 'forwardTo'> {
  const partitionCount = state.ring.partitionCount;
  const settled = isSettled(state);
  const change = state.change;
  const holds = Array.from({ length: partitionCount }, (_, partition) => {
    if (replicasOf(state.ring, partition, state.replicas).includes(self)) return true;
    return !settled && change !== undefined && replicasOf(change.previousRing, partition, state.replicas).includes(self);
  });
  const forwardTo = Array.from({ length: partitionCount }, (): NodeId[] => []);
  for (const transfer of change?.transfers ?? []) {
    if (transfer.from !== self || (settled && holds[transfer.partition] === true)) continue;
    (forwardTo[transfer.partition] as NodeId[]).push(transfer.to);
  }
  return { holds, forwardTo };
}

/** The key's first n distinct owners: its primaries. */
export function primariesOf(cluster: ClusterView, partition: number, n: number): readonly NodeId[] {
  return preferenceOf(cluster, partition).slice(0, n);
}

/** Every member in the partition's preference-list order. */
export function preferenceOf(cluster: ClusterView, partition: number): readonly NodeId[] {
  const order = cluster.preference[partition];
  if (order === undefined) throw new RangeError(`partition ${partition} is not on the ring`);
  return order;
}
