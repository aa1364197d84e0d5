/**
 * A Shoal node: the client-facing get / put / delete of one cluster member (openNode.ts
 * builds it).
 *
 * A request is validated here, then routed: a node among the key's top N primaries
 * coordinates it (coordinator/putCoordinator.ts, getCoordinator.ts); any other node
 * forwards it to the first reachable primary and coordinates itself only when none can
 * take it (coordinator/forwarder.ts). The request surface (keys, contexts, options,
 * errors) is the single node's, plus QUORUM_UNREACHABLE and OVERLOADED (503).
 *
 * Requests from peers arrive through the Transport and are served by replicaService.ts;
 * background work (hinted handoff, probing down peers) runs on the Clock.
 */
import { decodeContext, encodeContext } from '../core/context.ts';
import type { ActorId, VersionVector } from '../core/clock.ts';
import { partitionOfKey } from '../core/hash.ts';
import { oneSiblingPerWrite, type StoredObject } from '../core/object.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { NodeId } from '../ports/transport.ts';
import type { BufferStats, Replica } from '../ports/replica.ts';
import type { CacheStats } from '../core/cache/objectCache.ts';
import { primariesOf, type ClusterView } from './cluster.ts';
import { clusterSnapshotOf, type ClusterSnapshot } from './clusterSnapshot.ts';
import { configSummary, securityStatus, type ConfigSummary, type NodeConfig, type SecurityStatus } from './config.ts';
import type { CoordinatorDeps } from './coordinator/deps.ts';
import { forwardRequest, type Coordinated } from './coordinator/forwarder.ts';
import { routeRequest } from './coordinator/route.ts';
import { coordinateGet } from './coordinator/getCoordinator.ts';
import { coordinatePut } from './coordinator/putCoordinator.ts';
import { Deadline } from './deadline.ts';
import { OverloadedError, RequestError } from './errors.ts';
import type { PeerView } from './failureDetector.ts';
import type { HandoffStats, HintedHandoff } from './hintedHandoff.ts';
import type { Prober } from './prober.ts';
import type { ForwardMessage } from './protocol.ts';
import { currentMembers, isSettled } from '../core/membership/state.ts';
import type { Gossip } from './membership/gossip.ts';
import type { Membership } from './membership/membership.ts';
import type { MembershipService } from './membership/membershipService.ts';
import type { PartitionDrop } from './membership/partitionDrop.ts';
import type { TransferSender, TransferStats } from './membership/transferSender.ts';
import { checkContentType, checkKey, checkValue, resolveQuorum, type Quorum, type RequestOptions } from './request.ts';
import type { AdmissionController, AdmissionStatus } from './admission.ts';
import type { AntiEntropy, AntiEntropyStats } from './antiEntropy/antiEntropy.ts';
import type { PartitionTrees, TreeStats } from './antiEntropy/partitionTrees.ts';
import type { BackgroundTasks } from './background.ts';
import type { ListingPage } from '../core/listing.ts';
import { checkListInput, type ListInput } from './listing/listInput.ts';
import { coordinateListPage } from './listing/listCoordinator.ts';
import type { KeyListsReply, ListKeysMessage } from './protocol.ts';
import type { BackupService } from './backup/backupService.ts';
import type { ClusterState } from '../core/membership/state.ts';

/** Everything a node is made of; openNode builds it. */
export interface NodeParts {
  readonly config: NodeConfig;
  readonly membership: Membership;
  readonly startEpoch: number;
  readonly coordinator: CoordinatorDeps;
  readonly handoff: HintedHandoff;
  readonly prober: Prober;
  readonly gossip: Gossip;
  readonly sender: TransferSender;
  readonly drop: PartitionDrop;
  readonly admin: MembershipService;
  readonly admission: AdmissionController;
  readonly antiEntropy: AntiEntropy;
  readonly trees: PartitionTrees;
  /** Every background task above, stopped together when the node stops. */
  readonly background: BackgroundTasks;
  /** This node's answer to a listing page for its own partitions (listing/listingService.ts). */
  readonly listKeys: (message: ListKeysMessage) => Promise<KeyListsReply>;
  readonly backup: BackupService;
}

export type { ListInput };

/** Anti-entropy and admission control, as `GET /admin/status` and the metrics show them. */
export interface RepairStatus {
  readonly antiEntropy: AntiEntropyStats & { readonly enabled: boolean; readonly trees: TreeStats };
  readonly admission: AdmissionStatus & { readonly enabled: boolean };
}

export type NodeState = 'serving' | 'stopping' | 'stopped';

/** The membership as gauges read it (for metrics). */
export interface MembershipGauges {
  readonly ringVersion: number;
  /** Members of the table by status. */
  readonly members: Readonly<Record<string, number>>;
  /** Ring positions this node owns in the serving ring. */
  readonly partitionsOwned: number;
  /** The change in progress: transfers done and in total (0 / 0 when settled). */
  readonly changeTransfersDone: number;
  readonly changeTransfersTotal: number;
  /** This node's own transfers (sending side) for the current change. */
  readonly transfersPending: number;
  readonly transferObjectsSent: number;
  readonly transferBytesSent: number;
  readonly transferBytesPerS: number;
  readonly droppedObjects: number;
}


export interface ReadResult {
  /** Every version found (undefined: the key was never written, or was removed). */
  readonly object: StoredObject | undefined;
  /** The opaque context to hand back with the next write of this key. */
  readonly context: string;
}

export interface WriteResult {
  /** The context of the object after the write (it names the new version). */
  readonly context: string;
  readonly object: StoredObject;
}

export interface PutInput {
  readonly value: Uint8Array;
  readonly contentType: string;
  /** From a previous read; absent = supersede nothing (the value joins the siblings). */
  readonly context?: string;
  /**
   * Also supersede every version the coordinating replica holds when it writes (the Redis
   * front end's SET): what that replica has not seen yet stays a sibling.
   */
  readonly supersedeSeen?: boolean;
}

/** The versions this node holds for a key, for operators (`GET /admin/local/:key`). */
export interface LocalVersions {
  readonly partition: number;
  readonly object: StoredObject;
}

/** The hints this node holds for down nodes. */
export interface LocalHints {
  readonly total: number;
  readonly byTarget: Readonly<Record<NodeId, number>>;
  readonly hintsMax: number;
}

export interface ClusterStatus {
  readonly members: readonly NodeId[];
  /** This node's status in the member table (a node outside any cluster: valid, alone). */
  readonly memberStatus: string;
  readonly ringVersion: number;
  /** The change in progress (null once settled) with its transfers done / total. */
  readonly change: { readonly kind: string; readonly member: string; readonly transfersDone: number; readonly transfersTotal: number } | null;
  /** This node's own partition transfers (sending side). */
  readonly transfers: TransferStats;
  /** Objects deleted from partitions this node handed over. */
  readonly droppedObjects: number;
  readonly partitionCount: number;
  /** The cluster's N, R, W as this node runs them. */
  readonly n: number;
  readonly r: number;
  readonly w: number;
}

export interface NodeStatus {
  readonly nodeId: string;
  readonly clusterName: string;
  readonly state: NodeState;
  readonly actor: ActorId;
  readonly startEpoch: number;
  readonly uptimeMs: number;
  readonly config: ConfigSummary;
  readonly buffer: BufferStats;
  /** The cache of clean objects (reads of cached keys skip the engine). */
  readonly cache: CacheStats;
  readonly cluster: ClusterStatus;
  readonly peers: readonly PeerView[];
  readonly hints: LocalHints & HandoffStats;
  /** Requests this node is coordinating (or forwarding) now. */
  readonly requestsInFlight: number;
  readonly repair: RepairStatus;
  /** TLS and client authentication, and the warning of a node serving beyond loopback without them (--insecure). */
  readonly security: SecurityStatus;
}

type ClientRequest =
  | { readonly op: 'get'; readonly key: Uint8Array; readonly partition: number; readonly quorum: Quorum }
  | {
      readonly op: 'put' | 'delete';
      readonly key: Uint8Array;
      readonly partition: number;
      readonly quorum: Quorum;
      readonly value: Uint8Array;
      readonly contentType: string;
      readonly contextText: string | undefined;
      readonly context: VersionVector;
      readonly supersedeSeen: boolean;
      /** The replica the context names (the fastest of the read it came from): it coordinates when it can (paper 4.5). */
      readonly preferred: string | undefined;
      /** Set when the write may be coordinated more than once (forwarded: hedged, failed over): see core/object.ts. */
      readonly writeId: string | undefined;
    };

const EMPTY_VECTOR: VersionVector = [];
const NO_CONTEXT = { vector: EMPTY_VECTOR } as const;
const NO_COORDINATOR = {} as const;
const EMPTY_VALUE = new Uint8Array(0);
/** Tombstones carry no value; their content type is never shown as a value's. */
const TOMBSTONE_CONTENT_TYPE = 'application/octet-stream';

export class ShoalNode {
  readonly id: NodeId;
  private state: NodeState = 'serving';
  private stopPromise: Promise<void> | undefined;
  private readonly config: NodeConfig;
  private readonly deps: CoordinatorDeps;
  private readonly replica: Replica;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly startedAtMs: number;
  private readonly summary: ConfigSummary;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Writes entered here so far: the counter of their write ids. */
  private writesEntered = 0;
  /**
   * Forwarded writes coordinated here, by write id, oldest first: in flight (their outcome)
   * or done (null). A duplicate forward is never applied twice (FORWARDED_WRITE_IDS_MAX kept).
   */
  private readonly forwardedWrites = new Map<string, Promise<Coordinated> | null>();

  constructor(private readonly parts: NodeParts) {
    this.config = parts.config;
    this.deps = parts.coordinator;
    this.replica = parts.coordinator.replica;
    this.clock = parts.coordinator.clock;
    this.logger = parts.coordinator.logger;
    this.id = parts.config.id;
    this.startedAtMs = this.clock.monotonicMs();
    this.summary = configSummary(parts.config);
  }

  /** The actor this node issues dots under now (a new one after it dropped handed-over copies). */
  get actor(): ActorId {
    return this.deps.actor;
  }

  get currentState(): NodeState {
    return this.state;
  }

  /** Backup pages and restores (backup/backupService.ts). */
  get backup(): BackupService {
    this.checkServing();
    return this.parts.backup;
  }

  /** Membership: the ring, joins, leaves, removes and transfer progress. */
  get membership(): MembershipService {
    return this.parts.admin;
  }

  private get cluster(): ClusterView {
    return this.parts.membership.view;
  }

  /** Every version of the key the read quorum found, with its context. */
  async get(key: Uint8Array, options?: RequestOptions): Promise<ReadResult> {
    this.checkServing();
    checkKey(key, this.config.keyBytesMax);
    const quorum = resolveQuorum(this.cluster.quorum, options);
    const { object, nextCoordinator } = await this.route({ op: 'get', key, partition: this.partitionOf(key), quorum });
    return new Answer(object, nextCoordinator, this.config.clusterName);
  }

  /** Writes a value that supersedes the versions named by `input.context`. */
  async put(key: Uint8Array, input: PutInput, options?: RequestOptions): Promise<WriteResult> {
    this.checkServing();
    checkKey(key, this.config.keyBytesMax);
    checkValue(input.value, this.config.valueBytesMax);
    checkContentType(input.contentType);
    return this.write(key, input.value, input.contentType, 'put', input.context, options, input.supersedeSeen === true);
  }

  /** Writes a tombstone that supersedes the versions named by `context`. */
  async delete(key: Uint8Array, context?: string, options?: RequestOptions & { readonly supersedeSeen?: boolean }): Promise<WriteResult> {
    this.checkServing();
    checkKey(key, this.config.keyBytesMax);
    return this.write(key, EMPTY_VALUE, TOMBSTONE_CONTENT_TYPE, 'delete', context, options, options?.supersedeSeen === true);
  }

  /**
   * A page of the cluster's live keys in byte order (core/listing.ts): one replica per
   * partition is read, so a key not yet on that replica, or deleted only there, may be
   * missed or shown; a key on all of its replicas throughout the listing never is.
   */
  async list(input: ListInput): Promise<ListingPage> {
    this.checkServing();
    checkListInput(input, this.config.keyBytesMax);
    const deps = { ...this.deps, serveLocal: this.parts.listKeys };
    const deadline = new Deadline(this.clock, this.config.requestTimeoutMs);
    // A long scan: counted in flight, but not as foreground latency for admission control.
    return this.tracked(() => coordinateListPage(deps, { ...input, deadline }), false);
  }

  /** The versions this node itself holds for the key (its main store only), asking no other node. */
  localVersions(key: Uint8Array): LocalVersions | undefined {
    checkKey(key, this.config.keyBytesMax);
    const partition = this.partitionOf(key);
    const object = this.replica.readOwn(partition, key);
    return object === undefined ? undefined : { partition, object };
  }

  /** How many hints this node holds, in total and per node they are for. */
  /** Whether this node has yet to finish dropping the copies a settled change handed over (partitionDrop.ts). */
  dropsPending(): boolean {
    return this.parts.drop.pending;
  }

  localHints(): LocalHints {
    const counts = this.replica.hintCounts();
    return { total: counts.total, byTarget: Object.fromEntries(counts.byTarget), hintsMax: this.config.hintsMax };
  }

  /** The object buffer's counters (for metrics). */
  bufferStats(): BufferStats {
    return this.replica.bufferStats();
  }

  /** The cache's counters and size (for metrics). */
  cacheStats(): CacheStats {
    return this.replica.cacheStats();
  }

  /** The membership as metrics read it (cheap: no data estimate, no peer requests). */
  membershipGauges(): MembershipGauges {
    const { state, ring, self } = this.cluster;
    const members: Record<string, number> = {};
    for (const member of currentMembers(state)) members[member.status] = (members[member.status] ?? 0) + 1;
    const transfers = this.parts.sender.stats();
    const change = isSettled(state) ? undefined : state.change;
    return {
      ringVersion: state.ringVersion,
      members,
      partitionsOwned: ring.owners.filter((owner) => owner === self).length,
      changeTransfersDone: change?.transfers.filter((t) => t.done).length ?? 0,
      changeTransfersTotal: change?.transfers.length ?? 0,
      transfersPending: transfers.pending,
      transferObjectsSent: transfers.objectsSent,
      transferBytesSent: transfers.bytesSent,
      transferBytesPerS: transfers.bytesPerS,
      droppedObjects: this.parts.drop.droppedObjects,
    };
  }

  /** Anti-entropy counters, hash trees and the admission controller's state. */
  repairStatus(): RepairStatus {
    return {
      antiEntropy: { enabled: this.config.antiEntropyIntervalMs > 0, ...this.parts.antiEntropy.counters(), trees: this.parts.trees.stats() },
      admission: { enabled: this.config.admissionControl, ...this.parts.admission.status() },
    };
  }

  /** The cluster state and this node's quorums and limits, for partition-aware clients (clusterSnapshot.ts). */
  clusterSnapshot(): ClusterSnapshot {
    return clusterSnapshotOf(this.config, this.cluster.state);
  }

  /** The cluster state as this node knows it now: member table, target ring, the last change (the dashboard draws it). */
  clusterState(): ClusterState {
    return this.cluster.state;
  }

  /** Each peer's status as this node's failure detector sees it. */
  peers(): PeerView[] {
    return this.deps.detector.view();
  }

  status(): NodeStatus {
    const { quorum, members, ring, state } = this.cluster;
    const self = currentMembers(state).find((m) => m.id === this.id);
    const plan = this.parts.admin.ring().plan;
    return {
      nodeId: this.config.id,
      clusterName: this.config.clusterName,
      state: this.state,
      actor: this.actor,
      startEpoch: this.parts.startEpoch,
      uptimeMs: Math.round(this.clock.monotonicMs() - this.startedAtMs),
      config: this.summary,
      buffer: this.replica.bufferStats(),
      cache: this.replica.cacheStats(),
      cluster: {
        members,
        memberStatus: self?.status ?? 'valid',
        ringVersion: state.ringVersion,
        change: plan === null ? null : { kind: plan.kind, member: plan.member, transfersDone: plan.transfersDone, transfersTotal: plan.transfersTotal },
        transfers: this.parts.sender.stats(),
        droppedObjects: this.parts.drop.droppedObjects,
        partitionCount: ring.partitionCount,
        n: quorum.n,
        r: quorum.r,
        w: quorum.w,
      },
      peers: this.peers(),
      hints: { ...this.localHints(), ...this.parts.handoff.stats() },
      requestsInFlight: this.inFlight.size,
      repair: this.repairStatus(),
      security: securityStatus(this.config),
    };
  }

  /**
   * Refuses new requests (peers' included), stops the background tasks and lingering reads,
   * lets requests in flight finish (each ends by its deadline), flushes the buffer and
   * closes both stores. Leaves the transport's lifetime to its owner. Idempotent.
   */
  stop(): Promise<void> {
    if (this.stopPromise === undefined) {
      this.state = 'stopping';
      this.parts.background.stop();
      for (const lingering of [...this.deps.lingering]) lingering.stopLingering();
      this.logger.info({ buffer: this.replica.bufferStats(), requestsInFlight: this.inFlight.size }, 'flushing the buffer and closing storage');
      this.stopPromise = this.closeStores().then(() => {
        this.state = 'stopped';
      });
    }
    return this.stopPromise;
  }

  /** Coordinates a client request a peer forwarded here (never forwards it again). */
  coordinateForwarded(message: ForwardMessage): Promise<Coordinated> {
    this.checkServing();
    const request = this.forwardedRequest(message);
    const { writeId } = message;
    const seen = writeId === undefined ? undefined : this.forwardedWrites.get(writeId);
    if (seen === null) return Promise.reject(new RequestError('WRITE_DUPLICATE', `write ${writeId} was already coordinated here`));
    if (seen !== undefined) return seen;
    // Answer within the sender's budget, so it hears a clear 503 rather than a transport timeout.
    const timeoutMs = Math.min(message.timeoutMs, this.config.requestTimeoutMs);
    const outcome = this.tracked(() => this.coordinate(request, timeoutMs));
    if (writeId !== undefined) this.rememberForwardedWrite(writeId, outcome);
    return outcome;
  }

  private rememberForwardedWrite(writeId: string, outcome: Promise<Coordinated>): void {
    this.forwardedWrites.set(writeId, outcome);
    const settled = (): void => {
      if (this.forwardedWrites.get(writeId) === outcome) this.forwardedWrites.set(writeId, null);
    };
    outcome.then(settled, settled);
    for (const oldest of this.forwardedWrites.keys()) {
      if (this.forwardedWrites.size <= FORWARDED_WRITE_IDS_MAX) break;
      this.forwardedWrites.delete(oldest);
    }
  }

  /** A forwarded request, validated as if a client had sent it here. */
  private forwardedRequest(message: ForwardMessage): ClientRequest {
    const { key, op } = message;
    checkKey(key, this.config.keyBytesMax);
    const quorum = resolveQuorum(this.cluster.quorum, { n: message.n, r: message.r, w: message.w });
    const partition = this.partitionOf(key);
    if (op === 'get') return { op, key, partition, quorum };
    const value = op === 'put' ? (message.value ?? EMPTY_VALUE) : EMPTY_VALUE;
    const contentType = op === 'put' ? (message.contentType ?? TOMBSTONE_CONTENT_TYPE) : TOMBSTONE_CONTENT_TYPE;
    if (op === 'put') {
      checkValue(value, this.config.valueBytesMax);
      checkContentType(contentType);
    }
    const { vector: context } = this.decode(message.context);
    return { op, key, partition, quorum, value, contentType, contextText: message.context, context, supersedeSeen: message.supersedeSeen === true, preferred: undefined, writeId: message.writeId };
  }

  private async write(
    key: Uint8Array,
    value: Uint8Array,
    contentType: string,
    op: 'put' | 'delete',
    contextText: string | undefined,
    options: RequestOptions | undefined,
    supersedeSeen: boolean,
  ): Promise<WriteResult> {
    const { vector: context, coordinator: preferred } = this.decode(contextText);
    const quorum = resolveQuorum(this.cluster.quorum, options);
    const request: ClientRequest = { op, key, partition: this.partitionOf(key), quorum, value, contentType, contextText, context, supersedeSeen, preferred, writeId: undefined };
    const { object, nextCoordinator } = await this.route(request);
    if (object === undefined) throw new Error('invariant: a put left no object');
    return new Answer(object, nextCoordinator, this.config.clusterName);
  }

  /**
   * A read is coordinated here, where it entered: it issues no dot, so any node may (paper
   * 6.4's client-driven reads, as Riak runs its get FSM on the receiving node); this node's
   * own view of which replicas answer is the one that counts, and a hop is saved. A write
   * is coordinated here or forwarded (forwarder.ts), as coordinator/route.ts decides.
   */
  private route(request: ClientRequest): Promise<Coordinated> {
    return this.tracked(() => {
      const deadline = new Deadline(this.clock, this.config.requestTimeoutMs);
      if (request.op === 'get') return this.coordinate(request, deadline.timeoutMs);
      const route = routeRequest({
        primaries: primariesOf(this.cluster, request.partition, request.quorum.n),
        preferred: request.preferred,
        isUp: this.isUp,
        self: this.id,
      });
      if (route.coordinateHere) return this.coordinate(request, deadline.timeoutMs);
      // The write may now be coordinated by more than one node (hedged, failed over, or here
      // after all): one write id for all of them, minted here, where it entered the cluster.
      const forwarded = { ...request, writeId: `${this.deps.actor}/${++this.writesEntered}` };
      return forwardRequest(this.deps, {
        candidates: route.candidates,
        message: forwardMessageOf(forwarded),
        deadline,
        coordinateLocally: (timeoutMs) => this.coordinate(forwarded, timeoutMs),
      });
    });
  }

  private readonly isUp = (node: string): boolean => this.deps.detector.isUp(node);

  private async coordinate(request: ClientRequest, timeoutMs: number): Promise<Coordinated> {
    const { partition, key, quorum } = request;
    switch (request.op) {
      case 'get': {
        const { object, fastest } = await coordinateGet(this.deps, { partition, key, quorum, timeoutMs });
        return { object, nextCoordinator: fastest };
      }
      case 'put':
      case 'delete': {
        const { value, contentType, context, supersedeSeen, writeId } = request;
        const object = await coordinatePut(this.deps, { partition, key, value, contentType, deleted: request.op === 'delete', context, supersedeSeen, quorum, timeoutMs, writeId });
        return { object, nextCoordinator: this.id };
      }
    }
  }

  /** Runs `work` as one of the requests in flight, refusing past requestsInFlightMax. */
  private tracked<T>(work: () => Promise<T>, foreground = true): Promise<T> {
    if (this.inFlight.size >= this.config.requestsInFlightMax) return Promise.reject(new OverloadedError(this.config.requestsInFlightMax));
    let running: Promise<T>;
    try {
      running = work();
    } catch (error) {
      return Promise.reject(error);
    }
    this.inFlight.add(running);
    const startedMs = this.clock.monotonicMs();
    // Unnamed arrows calling a method: a named closure per request costs a name definition under tsx.
    running.then(
      () => this.settled(running, startedMs, foreground),
      () => this.settled(running, startedMs, foreground),
    );
    return running;
  }

  private settled(request: Promise<unknown>, startedMs: number, foreground: boolean): void {
    this.inFlight.delete(request);
    if (foreground) this.parts.admission.recordForeground(this.clock.monotonicMs() - startedMs);
  }

  private async closeStores(): Promise<void> {
    await Promise.all([...this.inFlight].map((request) => request.then(noop, noop)));
    await this.parts.membership.flushed();
    // The trees are saved once no write can reach the store: they then match it exactly.
    await this.replica.close(() => this.parts.trees.save());
  }

  private decode(text: string | undefined): { readonly vector: VersionVector; readonly coordinator?: string } {
    if (text === undefined) return NO_CONTEXT;
    const decoded = decodeContext(text, this.config.clusterName);
    if (!decoded.ok) throw new RequestError('CONTEXT_INVALID', `bad context: ${decoded.reason}`);
    return decoded;
  }


  private partitionOf(key: Uint8Array): number {
    return partitionOfKey(key, this.config.partitionCount);
  }

  private checkServing(): void {
    if (this.state !== 'serving') throw new RequestError('NODE_NOT_SERVING', `node is ${this.state}`);
  }
}

/**
 * A read's or a write's answer. Its context is encoded when first asked for: the Redis
 * front end's GET and SET never ask, and encoding is a good part of a request's work.
 */
class Answer<O extends StoredObject | undefined> {
  private text: string | undefined;
  /** The object as clients see it: one sibling per write (core/object.ts oneSiblingPerWrite). */
  readonly object: O;

  constructor(
    object: O,
    private readonly nextCoordinator: string | undefined,
    private readonly clusterName: string,
  ) {
    this.object = (object === undefined ? object : oneSiblingPerWrite(object)) as O;
  }

  get context(): string {
    if (this.text === undefined) {
      const vector = this.object === undefined ? EMPTY_VECTOR : this.object.vector;
      this.text = encodeContext(vector, this.clusterName, this.nextCoordinator === undefined ? NO_COORDINATOR : { coordinator: this.nextCoordinator });
    }
    return this.text;
  }
}

/** Write ids a node remembers having coordinated (a duplicate comes within a request timeout; thousands of writes a second). */
export const FORWARDED_WRITE_IDS_MAX = 65_536;

function forwardMessageOf(request: ClientRequest): Omit<ForwardMessage, 'timeoutMs'> {
  const { key, quorum } = request;
  const base = { type: 'forward', op: request.op, key, n: quorum.n, r: quorum.r, w: quorum.w } as const;
  switch (request.op) {
    case 'get':
      return base;
    case 'put':
    case 'delete': {
      const { writeId } = request;
      const withValue = request.op === 'put' ? { ...base, value: request.value, contentType: request.contentType } : base;
      const withId = writeId === undefined ? withValue : { ...withValue, writeId };
      const withSeen = request.supersedeSeen ? { ...withId, supersedeSeen: true } : withId;
      return request.contextText === undefined ? withSeen : { ...withSeen, context: request.contextText };
    }
  }
}

function noop(): void {}
