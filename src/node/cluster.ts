/**
 * The cluster as this node sees it at start: the members (from `--cluster`, or this node
 * alone), the ring built from them, and the quorum the cluster runs with.
 *
 * A cluster of one runs with N = R = W = 1 whatever the config says, so `shoal start` with
 * the defaults (N = 3, R = 2, W = 2) keeps working as a single node; the node logs a
 * warning naming the values it lowered. A cluster of two or more members refuses N larger
 * than its size when the config is built (config.ts), so every key has N distinct replicas.
 */
import { claimRing } from '../core/claim.ts';
import { primaryNodes } from '../core/preflist.ts';
import type { Ring } from '../core/ring.ts';
import type { NodeId, PeerAddress } from '../ports/transport.ts';
import type { NodeConfig } from './config.ts';
import type { Quorum } from './request.ts';

export interface ClusterView {
  readonly self: NodeId;
  /** Every member, sorted (this node included). */
  readonly members: readonly NodeId[];
  /** The other members and where they listen for internode traffic. */
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  readonly ring: Ring;
  /** Per partition, every member in preference-list order (the first N are its primaries); computed once. */
  readonly preference: readonly (readonly NodeId[])[];
  /** The cluster's N, R, W as the node runs them (see the file comment for a cluster of one). */
  readonly quorum: Quorum;
  /** Set when the configured quorum was lowered for a cluster of one. */
  readonly quorumLowered: Quorum | undefined;
}

export function clusterViewOf(config: NodeConfig): ClusterView {
  const listed = config.cluster ?? [{ id: config.id, address: config.listen }];
  const members = listed.map((member) => member.id);
  const peers = new Map<NodeId, PeerAddress>();
  for (const member of listed) if (member.id !== config.id) peers.set(member.id, member.address);
  const configured: Quorum = { n: config.n, r: config.r, w: config.w };
  const quorum = members.length === 1 ? { n: 1, r: 1, w: 1 } : configured;
  const lowered = quorum.n !== configured.n || quorum.r !== configured.r || quorum.w !== configured.w;
  const ring = claimRing(members, config.partitionCount, quorum.n);
  const preference = Array.from({ length: ring.partitionCount }, (_, partition) => primaryNodes(ring, partition, members.length));
  return {
    self: config.id,
    members: [...members].sort(),
    peers,
    ring,
    preference,
    quorum,
    quorumLowered: lowered ? configured : undefined,
  };
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
