/**
 * Membership as the node serves it: the peer messages (gossip, a join asked of a seed, a
 * transfer batch, transfer counters) and the operator's changes (join, leave, remove),
 * each planned by the pure planners of core/membership/plan.ts, shown, and applied on
 * confirmation (`dryRun: false`): the planning node adopts the new state, persists it and
 * spreads it by gossip; the transfers then run by themselves (transferSender.ts).
 */
import { decodeState, encodeState } from '../../core/membership/codec.ts';
import { findMember, MembershipError } from '../../core/membership/member.ts';
import { planJoin, planLeave, planRemove, type PlanResult } from '../../core/membership/plan.ts';
import { isSettled, type ClusterState } from '../../core/membership/state.ts';
import { replicasOf } from '../../core/membership/transfers.ts';
import type { Logger } from '../../ports/logger.ts';
import type { PeerAddress, Transport } from '../../ports/transport.ts';
import type { DataEstimate, Replica } from '../../ports/replica.ts';
import type { NodeConfig } from '../config.ts';
import type { FailureDetector } from '../failureDetector.ts';
import { RequestError } from '../errors.ts';
import { describeFailure, type PeerClient } from '../peerClient.ts';
import { ACK, BadMessageError, parseReply, type JoinMessage, type Reply, type StatsReply } from '../protocol.ts';
import type { Gossip } from './gossip.ts';
import type { Membership } from './membership.ts';
import { planViewOf, ringViewOf, type PlanView, type RingView } from './planView.ts';
import { receiveTransferBatch } from './transferReceiver.ts';
import type { TransferSender, TransferStats } from './transferSender.ts';
import type { GossipMessage, HoldingsMessage, PartitionsReply, TransferBatchMessage, TransferEndMessage } from '../protocol.ts';
import type { PartitionHoldings } from './holdings.ts';

export interface MembershipServiceDeps {
  readonly config: NodeConfig;
  readonly membership: Membership;
  readonly gossip: Gossip;
  readonly sender: TransferSender;
  /** The partitions this node really holds: a finished transfer adds to them. */
  readonly holdings: PartitionHoldings;
  readonly transport: Transport;
  readonly peers: PeerClient;
  readonly detector: FailureDetector;
  /** This node's data: transfers are merged into it, estimates read from it. */
  readonly replica: Replica;
  readonly logger: Logger;
  readonly timeoutMs: number;
}

export type ChangeRefusalCode =
  | 'transfers-pending'
  | 'already-member'
  | 'unknown-member'
  | 'not-valid'
  | 'too-few-members'
  | 'live-member'
  | 'plan-changed'
  | 'cluster-mismatch'
  | 'not-a-member'
  | 'not-empty'
  | 'unreachable';

export type ChangeOutcome =
  | { readonly ok: true; readonly applied: boolean; readonly plan: PlanView }
  | { readonly ok: false; readonly code: ChangeRefusalCode; readonly reason: string };

export interface ClusterTransfers extends Omit<TransferStats, 'active' | 'pending' | 'finished'> {
  readonly plan: Pick<PlanView, 'kind' | 'member' | 'ringVersion' | 'transfersDone' | 'transfersTotal'> | null;
  readonly nodes: Readonly<Record<string, (TransferStats & { error?: undefined }) | { error: string }>>;
}

/** How many objects a data estimate samples to learn the average object size. */

/** A stranger's gossip is logged the first time and then every this many times (a removed node gossips each round). */
const STRANGER_GOSSIP_LOG_EVERY = 60;
/** Strangers whose gossip is counted; past it the counts start over. */
const STRANGERS_COUNTED_MAX = 1024;

export class MembershipService {
  private readonly strangerGossip = new Map<string, number>();

  constructor(private readonly deps: MembershipServiceDeps) {}

  // --- peer messages ----------------------------------------------------------------------

  /**
   * Merges a peer's state and answers with ours. A node still alone adopts the state of a
   * cluster that lists it as a member: its join was applied there, but the seed's answer
   * never reached it (lost, or overtaken by the refusal of a duplicate or retried request).
   *
   * Only a member's state is merged: a node this one does not count as a member (removed,
   * or one it has not heard of yet) is answered with our state and changes nothing here, so
   * it learns of its own removal, and a join reaches us from a member that applied it.
   */
  async gossip(message: GossipMessage, from: string): Promise<Reply> {
    const incoming = decodePeerState(message.state);
    if (this.listsUsAsJoined(incoming)) {
      await this.adoptJoined(incoming);
      return { type: 'state', state: encodeState(this.deps.membership.state) };
    }
    if (!this.isMember(from)) {
      this.noteStrangerGossip(from);
      return { type: 'state', state: encodeState(this.deps.membership.state) };
    }
    try {
      await this.deps.membership.merge(incoming);
    } catch (error) {
      if (error instanceof MembershipError) return { type: 'refused', code: 'cluster-mismatch', reason: error.message };
      throw error;
    }
    return { type: 'state', state: encodeState(this.deps.membership.state) };
  }

  private noteStrangerGossip(from: string): void {
    if (this.strangerGossip.size >= STRANGERS_COUNTED_MAX && !this.strangerGossip.has(from)) this.strangerGossip.clear();
    const count = (this.strangerGossip.get(from) ?? 0) + 1;
    this.strangerGossip.set(from, count);
    if (count % STRANGER_GOSSIP_LOG_EVERY === 1) this.deps.logger.warn({ peer: from, times: count }, 'gossip from a node that is not a member: answered, not merged');
  }

  /** Whether `id` is a member of the cluster as this node knows it (joining and leaving ones included, removed ones not). */
  isMember(id: string): boolean {
    const entry = findMember(this.deps.membership.state.members, id);
    return entry !== undefined && entry.status !== 'removed';
  }

  /**
   * Whether `id` is, or was, a member: a node that left or was removed still hands back the
   * hints it holds and finishes what it streams, so its writes are taken; a node never in
   * the cluster's member table is not.
   */
  isKnownNode(id: string): boolean {
    return findMember(this.deps.membership.state.members, id) !== undefined;
  }

  /** A seed plans (and unless dryRun applies) the join of the node that asks. */
  async serveJoin(message: JoinMessage): Promise<Reply> {
    const { id, host, port, dryRun, expectRingVersion, clusterName } = message;
    const ours = this.deps.membership.state.clusterName;
    if (clusterName !== ours) {
      return { type: 'refused', code: 'cluster-mismatch', reason: `the seed is in cluster ${JSON.stringify(ours)}, the joining node in ${JSON.stringify(clusterName)}` };
    }
    const outcome = await this.change((state) => planJoin(state, { id, address: { host, port } }), dryRun, expectRingVersion);
    if (!outcome.ok) return { type: 'refused', code: outcome.code, reason: outcome.reason };
    return { type: 'plan', applied: outcome.applied, plan: outcome.plan as unknown as Record<string, unknown>, state: encodeState(this.deps.membership.state) };
  }

  transferBatch(message: TransferBatchMessage): Promise<Reply> {
    const { replica, config } = this.deps;
    return receiveTransferBatch({ replica, partitionCount: this.deps.membership.state.ring.partitionCount, keyBytesMax: config.keyBytesMax }, message);
  }

  /**
   * A sender finished streaming a partition here. Taken only for the change this node
   * knows (same cluster and ring version) and a partition it gains in it; otherwise the
   * sender retries, and gossip brings the change meanwhile.
   */
  async transferEnd(message: TransferEndMessage, from: string): Promise<Reply> {
    const { membership, holdings, logger } = this.deps;
    const state = membership.state;
    const self = membership.view.self;
    const expected = state.clusterId === message.clusterId && state.ringVersion === message.ringVersion;
    const gained = expected && replicasOf(state.ring, message.partition, state.replicas).includes(self);
    if (!gained) {
      logger.info({ partition: message.partition, ringVersion: message.ringVersion, ours: state.ringVersion }, 'refused the end of a partition transfer this node does not expect');
      throw new RequestError('TRANSFER_UNEXPECTED', `not expecting partition ${message.partition} at ring version ${message.ringVersion} (this node is at ${state.ringVersion})`);
    }
    await holdings.add(message.clusterId, message.partition, from, message.ringVersion);
    return ACK;
  }

  /** Which of the asked partitions this node holds, and which the asker streamed here (a former replica asks before it drops its copy). */
  holdingsOf(message: HoldingsMessage, from: string): PartitionsReply {
    const { held, streamed } = this.deps.holdings.confirm(message.clusterId, message.partitions, from, message.ringVersion);
    return { type: 'partitions', partitions: held, streamed };
  }

  transferStats(): StatsReply {
    return { type: 'stats', stats: { ...this.deps.sender.stats() } };
  }

  // --- operator changes ---------------------------------------------------------------------

  /**
   * This node (alone, empty) joins the cluster `seed` belongs to. A joiner whose join lost
   * a race with another change (it is `joining` in the member table but not in the ring,
   * and no change of its own is pending) may ask again; what it holds came from the cluster.
   */
  async join(seed: PeerAddress, dryRun: boolean, expectRingVersion?: number): Promise<ChangeOutcome> {
    const { membership, config } = this.deps;
    const own = membership.state;
    const orphaned = this.isOrphanedJoiner(own);
    if (own.members.length > 1 && !orphaned) {
      return refuse('already-member', `this node is already a member of cluster ${JSON.stringify(own.clusterName)} (${own.members.length} members)`);
    }
    const objects = this.deps.replica.objectCount();
    if (objects > 0 && !orphaned) return refuse('not-empty', `this node holds ${objects} objects; only an empty node can join a cluster`);
    const message: JoinMessage = { type: 'join', clusterName: config.clusterName, id: config.id, host: config.listen.host, port: config.listen.port, dryRun, ...(expectRingVersion === undefined ? {} : { expectRingVersion }) };
    let reply: Reply;
    try {
      const answer = await this.deps.transport.requestAt(seed, message, this.deps.timeoutMs);
      reply = parseReply(answer.reply);
    } catch (error) {
      const reason = `seed ${seed.host}:${seed.port}: ${describeFailure(error)}`;
      return refuse(/is in cluster/.test(reason) ? 'cluster-mismatch' : 'unreachable', reason);
    }
    if (reply.type === 'refused') return refuse(reply.code as ChangeRefusalCode, reply.reason);
    if (reply.type !== 'plan') return refuse('unreachable', `seed ${seed.host}:${seed.port} answered ${describeFailure(reply)}`);
    const plan = reply.plan as unknown as PlanView;
    if (reply.applied) await this.adoptJoined(decodePeerState(reply.state));
    return { ok: true, applied: reply.applied, plan };
  }

  /** This node hands its partitions to the others and leaves. */
  leave(dryRun: boolean, expectRingVersion?: number): Promise<ChangeOutcome> {
    return this.change((state) => planLeave(state, this.deps.config.id), dryRun, expectRingVersion);
  }

  /** A dead member's partitions are reassigned and rebuilt from the surviving replicas. */
  remove(id: string, force: boolean, dryRun: boolean, expectRingVersion?: number): Promise<ChangeOutcome> {
    if (id === this.deps.config.id) return Promise.resolve(refuse('not-valid', 'a node does not remove itself; use leave'));
    if (!force && this.deps.detector.view().some((peer) => peer.id === id && peer.status !== 'down')) {
      return Promise.resolve(refuse('live-member', `${JSON.stringify(id)} is up as this node sees it; use leave, or force the removal`));
    }
    return this.change((state) => planRemove(state, id), dryRun, expectRingVersion);
  }

  ring(): RingView {
    return ringViewOf(this.deps.membership.state, this.dataEstimate());
  }

  /** Transfer progress across the cluster: every live member's counters, summed. */
  async transfers(): Promise<ClusterTransfers> {
    const view = this.deps.membership.view;
    const ids = [...view.peers.keys()];
    const answers = await Promise.all(ids.map((id) => this.statsOf(id)));
    const nodes: Record<string, TransferStats | { error: string }> = { [view.self]: this.deps.sender.stats() };
    ids.forEach((id, i) => {
      nodes[id] = answers[i] as TransferStats | { error: string };
    });
    const sum = (field: 'objectsSent' | 'bytesSent' | 'objectsPerS' | 'bytesPerS'): number =>
      Object.values(nodes).reduce((total, stats) => total + ('error' in stats && stats.error !== undefined ? 0 : (stats as TransferStats)[field]), 0);
    const ring = this.ring();
    const plan = ring.plan === null ? null : { kind: ring.plan.kind, member: ring.plan.member, ringVersion: ring.plan.ringVersion, transfersDone: ring.plan.transfersDone, transfersTotal: ring.plan.transfersTotal };
    return { plan, objectsSent: sum('objectsSent'), bytesSent: sum('bytesSent'), objectsPerS: sum('objectsPerS'), bytesPerS: sum('bytesPerS'), nodes };
  }

  // --- internals ----------------------------------------------------------------------------

  private async change(planner: (state: ClusterState) => PlanResult, dryRun: boolean, expectRingVersion: number | undefined): Promise<ChangeOutcome> {
    const state = this.deps.membership.state;
    // A removed node's plans would be its own: no member merges its gossip (see gossip()).
    if (!this.isMember(this.deps.config.id)) return refuse('not-a-member', `${this.deps.config.id} was removed from the cluster: ask a member`);
    const result = planner(state);
    if (!result.ok) return refuse(result.code, result.reason);
    if (expectRingVersion !== undefined && result.state.ringVersion !== expectRingVersion) {
      return refuse('plan-changed', `the ring moved since the plan was shown (it would now be version ${result.state.ringVersion}, not ${expectRingVersion}); review the new plan`);
    }
    const plan = planViewOf(result.state, this.dataEstimate());
    if (dryRun) return { ok: true, applied: false, plan };
    await this.deps.membership.adopt(result.state);
    this.deps.logger.info({ kind: plan.kind, member: plan.member, ringVersion: plan.ringVersion, transfers: plan.transfersTotal }, 'membership change applied');
    this.deps.gossip.spread();
    return { ok: true, applied: true, plan };
  }

  /** This node's join was applied once but lost a race with another planner's change. */
  private isOrphanedJoiner(state: ClusterState): boolean {
    const self = this.deps.config.id;
    const entry = findMember(state.members, self);
    const ownChange = state.change !== undefined && state.change.member === self && !isSettled(state);
    return entry?.status === 'joining' && !state.ring.members.includes(self) && !ownChange;
  }

  /** This node is alone, and `incoming` (another cluster of our name and shape) has our join. */
  private listsUsAsJoined(incoming: ClusterState): boolean {
    const { membership, config } = this.deps;
    const own = membership.state;
    if (own.members.length > 1 || own.ringVersion !== 1 || incoming.clusterId === own.clusterId) return false;
    if (incoming.clusterName !== own.clusterName || incoming.replicas !== own.replicas || incoming.ring.partitionCount !== own.ring.partitionCount) return false;
    const entry = findMember(incoming.members, config.id);
    return entry !== undefined && entry.status !== 'removed' && entry.address.host === config.listen.host && entry.address.port === config.listen.port;
  }

  /** A joiner replaces its solo state with the cluster's. */
  private async adoptJoined(state: ClusterState): Promise<void> {
    const { membership, config } = this.deps;
    if (state.clusterName !== config.clusterName || state.ring.partitionCount !== config.partitionCount) {
      throw new Error(`the seed answered a state of cluster ${JSON.stringify(state.clusterName)} with Q=${state.ring.partitionCount}`);
    }
    await membership.adopt(state);
    this.deps.gossip.spread();
  }

  private async statsOf(id: string): Promise<TransferStats | { error: string }> {
    try {
      const reply = await this.deps.peers.request(id, { type: 'transfer-stats' }, Math.min(this.deps.timeoutMs, 2000));
      if (reply.type !== 'stats') return { error: describeFailure(reply) };
      return reply.stats as unknown as TransferStats;
    } catch (error) {
      return { error: describeFailure(error) };
    }
  }

  /** Objects and bytes per key-partition replica, from this node's own data. */
  private dataEstimate(): DataEstimate {
    const { membership, replica } = this.deps;
    const state = membership.state;
    const self = membership.view.self;
    const held: number[] = [];
    for (let p = 0; p < state.ring.partitionCount; p++) if (replicasOf(state.ring, p, state.replicas).includes(self)) held.push(p);
    return replica.dataEstimate(held);
  }
}

function decodePeerState(raw: unknown): ClusterState {
  try {
    return decodeState(raw);
  } catch (error) {
    if (error instanceof MembershipError) throw new BadMessageError(error.message);
    throw error;
  }
}

function refuse(code: ChangeRefusalCode, reason: string): ChangeOutcome {
  return { ok: false, code, reason };
}
