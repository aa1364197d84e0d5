/**
 * What the dashboard shows, as one JSON document (`GET /admin/dashboard`), computed from
 * what the node already tracks: its cluster state, its failure detector's view of every
 * member, hints, the buffer, anti-entropy, admission control, transfers, and the per-route
 * request history. Nothing here asks a peer; cluster-wide transfer counters come in as an
 * argument (the feed fetches them in the background, see feed.ts).
 */
import { currentMembers, isSettled, servingRing, type ClusterState } from '../../core/membership/state.ts';
import { ownedPartitionCounts } from '../../core/ring.ts';
import type { ClusterTransfers } from '../../node/membership/membershipService.ts';
import type { TransferStats } from '../../node/membership/transferSender.ts';
import type { PeerView } from '../../node/failureDetector.ts';
import type { NodeState, ShoalNode } from '../../node/shoalNode.ts';
import type { BufferStats } from '../../ports/replica.ts';
import type { RequestHistory, RequestSamples } from './requestHistory.ts';

/** How often the page asks for a snapshot. */
export const DASHBOARD_POLL_MS = 1000;

export type SeenAs = 'self' | 'up' | 'suspect' | 'down' | 'unknown';

export interface DashboardMember {
  readonly id: string;
  readonly address: string;
  /** In the member table: joining, valid, leaving, down. */
  readonly memberStatus: string;
  /** As this node's failure detector sees it. */
  readonly seenAs: SeenAs;
  /** Wall-clock ms of the last change of seenAs (undefined for self). */
  readonly seenSinceMs: number | null;
  readonly rttMs: number | null;
  /** Ring positions owned in the serving ring, and in the target ring. */
  readonly partitions: number;
  readonly partitionsTarget: number;
  /** Hints this node holds for the member. */
  readonly hintsHeld: number;
}

export interface DashboardTransfer {
  readonly partition: number;
  readonly from: string;
  readonly to: string;
  readonly done: boolean;
}

export interface DashboardChange {
  readonly kind: string;
  readonly member: string;
  readonly settled: boolean;
  readonly transfersDone: number;
  readonly transfersTotal: number;
  readonly transfers: readonly DashboardTransfer[];
}

/** Transfer progress: this node's sending side, and the cluster's summed over its live members. */
export interface DashboardTransfers {
  readonly self: TransferStats;
  readonly cluster: { readonly bytesSent: number; readonly objectsSent: number; readonly bytesPerS: number; readonly objectsPerS: number; readonly nodesAnswered: number; readonly nodesFailed: number } | null;
  /** Bytes the change moves, estimated from this node's data (null when settled or unknown). */
  readonly estimateBytes: number | null;
  /** Seconds left at the current rate (null when settled, idle or unknown). */
  readonly etaS: number | null;
}

export interface DashboardSnapshot {
  readonly nodeId: string;
  readonly clusterName: string;
  readonly state: NodeState;
  readonly generatedAtMs: number;
  readonly uptimeMs: number;
  readonly pollIntervalMs: number;
  readonly members: readonly DashboardMember[];
  readonly ring: {
    readonly partitionCount: number;
    readonly replicas: number;
    readonly ringVersion: number;
    /** Owner of each partition in the ring that serves requests now. */
    readonly owners: readonly string[];
    /** Owner of each partition once the change in progress settles (null when settled). */
    readonly targetOwners: readonly string[] | null;
  };
  /** The last membership change (kept once settled, until the next). */
  readonly change: DashboardChange | null;
  readonly transfers: DashboardTransfers;
  readonly hints: { readonly total: number; readonly hintsMax: number; readonly byTarget: Readonly<Record<string, number>>; readonly delivered: number; readonly failures: number };
  readonly buffer: BufferStats;
  readonly antiEntropy: { readonly enabled: boolean; readonly exchanges: number; readonly inSync: number; readonly failed: number; readonly keysRepaired: number; readonly bytes: number; readonly segmentsCompared: number };
  readonly admission: { readonly enabled: boolean; readonly share: number; readonly foregroundP99Ms: number; readonly p99TargetMs: number; readonly throttles: number };
  readonly requests: RequestSamples & { readonly intervalMs: number; readonly samplesMax: number };
}

/** What the snapshot needs besides the node: history, the feed's cluster-wide transfer counters and change estimate. */
export interface SnapshotInputs {
  readonly history: RequestHistory;
  readonly clusterTransfers: ClusterTransfers | undefined;
  readonly changeEstimateBytes: number | undefined;
  readonly nowMs: number;
}

export function dashboardSnapshot(node: ShoalNode, inputs: SnapshotInputs): DashboardSnapshot {
  const status = node.status();
  const state = node.clusterState();
  const settled = isSettled(state);
  return {
    nodeId: status.nodeId,
    clusterName: status.clusterName,
    state: status.state,
    generatedAtMs: inputs.nowMs,
    uptimeMs: status.uptimeMs,
    pollIntervalMs: DASHBOARD_POLL_MS,
    members: membersOf(state, node.id, status.peers, status.hints.byTarget),
    ring: {
      partitionCount: state.ring.partitionCount,
      replicas: state.replicas,
      ringVersion: state.ringVersion,
      owners: servingRing(state).owners,
      targetOwners: settled ? null : state.ring.owners,
    },
    change: changeOf(state),
    transfers: transfersOf(status.cluster.transfers, settled ? undefined : inputs.clusterTransfers, settled ? undefined : inputs.changeEstimateBytes),
    hints: { total: status.hints.total, hintsMax: status.hints.hintsMax, byTarget: status.hints.byTarget, delivered: status.hints.delivered, failures: status.hints.failures },
    buffer: status.buffer,
    antiEntropy: antiEntropyOf(status.repair.antiEntropy),
    admission: admissionOf(status.repair.admission),
    requests: { intervalMs: 1000, samplesMax: inputs.history.samplesMax, ...inputs.history.samples(inputs.nowMs) },
  };
}

function membersOf(state: ClusterState, self: string, peers: readonly PeerView[], hintsByTarget: Readonly<Record<string, number>>): DashboardMember[] {
  const serving = ownedPartitionCounts(servingRing(state));
  const target = ownedPartitionCounts(state.ring);
  const views = new Map(peers.map((peer) => [peer.id, peer]));
  return currentMembers(state)
    .filter((member) => member.status !== 'removed')
    .map((member) => {
      const view = views.get(member.id);
      return {
        id: member.id,
        address: `${member.address.host}:${member.address.port}`,
        memberStatus: member.status,
        seenAs: member.id === self ? 'self' : (view?.status ?? 'unknown'),
        seenSinceMs: view?.sinceMs ?? null,
        rttMs: view?.evidence.rttMs === undefined ? null : Math.round(view.evidence.rttMs * 100) / 100,
        partitions: serving.get(member.id) ?? 0,
        partitionsTarget: target.get(member.id) ?? 0,
        hintsHeld: hintsByTarget[member.id] ?? 0,
      };
    });
}

function changeOf(state: ClusterState): DashboardChange | null {
  const change = state.change;
  if (change === undefined) return null;
  const transfers = change.transfers.map((t) => ({ partition: t.partition, from: t.from, to: t.to, done: t.done }));
  const transfersDone = transfers.filter((t) => t.done).length;
  return { kind: change.kind, member: change.member, settled: transfersDone === transfers.length, transfersDone, transfersTotal: transfers.length, transfers };
}

function transfersOf(self: TransferStats, cluster: ClusterTransfers | undefined, estimateBytes: number | undefined): DashboardTransfers {
  const answers = cluster === undefined ? [] : Object.values(cluster.nodes);
  const failed = answers.filter((answer) => answer.error !== undefined).length;
  const summed =
    cluster === undefined
      ? null
      : { bytesSent: cluster.bytesSent, objectsSent: cluster.objectsSent, bytesPerS: cluster.bytesPerS, objectsPerS: cluster.objectsPerS, nodesAnswered: answers.length - failed, nodesFailed: failed };
  const sent = summed?.bytesSent ?? self.bytesSent;
  const rate = summed?.bytesPerS ?? self.bytesPerS;
  const etaS = estimateBytes === undefined || rate <= 0 ? null : Math.round(Math.max(0, estimateBytes - sent) / rate);
  return { self, cluster: summed, estimateBytes: estimateBytes ?? null, etaS };
}

function antiEntropyOf(stats: ReturnType<ShoalNode['repairStatus']>['antiEntropy']): DashboardSnapshot['antiEntropy'] {
  const { enabled, exchanges, inSync, failed, keysRepaired, bytes, segmentsCompared } = stats;
  return { enabled, exchanges, inSync, failed, keysRepaired, bytes, segmentsCompared };
}

function admissionOf(stats: ReturnType<ShoalNode['repairStatus']>['admission']): DashboardSnapshot['admission'] {
  const { enabled, share, foregroundP99Ms, p99TargetMs, throttles } = stats;
  return { enabled, share, foregroundP99Ms, p99TargetMs, throttles };
}
