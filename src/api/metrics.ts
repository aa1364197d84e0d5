/**
 * Prometheus metrics of one node, in a Registry of its own (never prom-client's global
 * one, so several nodes can live in one process: tests, the simulator, `shoal dev`).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NodeEvents } from '../node/events.ts';
import type { MembershipGauges, RepairStatus } from '../node/shoalNode.ts';
import type { PeerView } from '../node/failureDetector.ts';
import type { CacheStats } from '../core/cache/objectCache.ts';
import type { BufferEvents, BufferStats } from '../ports/replica.ts';
import type { RespStats } from './resp/stats.ts';
import { RequestHistory } from './dashboard/requestHistory.ts';

/** Seconds; from well under a millisecond (buffered writes) to the request timeout. */
const LATENCY_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const BATCH_BUCKETS_OBJECTS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

export const METRIC_NAMES = {
  httpRequests: 'shoal_http_requests_total',
  httpRequestDuration: 'shoal_http_request_duration_seconds',
  bufferObjects: 'shoal_buffer_objects',
  bufferObjectsMax: 'shoal_buffer_objects_max',
  writesWaiting: 'shoal_buffer_writes_waiting',
  flushBatchObjects: 'shoal_flush_batch_objects',
  flushDuration: 'shoal_flush_duration_seconds',
  writeWaitDuration: 'shoal_buffer_write_wait_seconds',
  engineErrors: 'shoal_engine_errors_total',
  hints: 'shoal_hints',
  hintsMax: 'shoal_hints_max',
  hintsStored: 'shoal_hints_stored_total',
  hintDeliveries: 'shoal_hint_deliveries_total',
  readRepairs: 'shoal_read_repairs_total',
  forwards: 'shoal_forwards_total',
  quorumFailures: 'shoal_quorum_failures_total',
  peers: 'shoal_peers',
  peerStatus: 'shoal_peer_status',
  peerRtt: 'shoal_peer_rtt_seconds',
  peerInFlight: 'shoal_peer_requests_in_flight',
  peerSuspicion: 'shoal_peer_suspicion',
  hedges: 'shoal_hedged_requests_total',
  internodeRequests: 'shoal_internode_requests_total',
  gossipExchanges: 'shoal_gossip_exchanges_total',
  ringVersion: 'shoal_ring_version',
  members: 'shoal_members',
  partitionsOwned: 'shoal_partitions_owned',
  changeTransfers: 'shoal_change_transfers',
  transfersPending: 'shoal_transfers_pending',
  transferObjectsSent: 'shoal_transfer_objects_sent',
  transferBytesSent: 'shoal_transfer_bytes_sent',
  transferBytesPerSecond: 'shoal_transfer_bytes_per_second',
  droppedObjects: 'shoal_dropped_objects',
  antiEntropyExchanges: 'shoal_anti_entropy_exchanges',
  cacheObjects: 'shoal_cache_objects',
  cacheBytes: 'shoal_cache_bytes',
  cacheObjectsMax: 'shoal_cache_objects_max',
  cacheBytesMax: 'shoal_cache_bytes_max',
  cacheRequests: 'shoal_cache_requests_total',
  cacheEvictions: 'shoal_cache_evictions_total',
  cacheAdmissions: 'shoal_cache_admissions_total',
  antiEntropySegments: 'shoal_anti_entropy_segments_compared',
  antiEntropyKeysRepaired: 'shoal_anti_entropy_keys_repaired',
  antiEntropyBytes: 'shoal_anti_entropy_bytes',
  hashTreesTrusted: 'shoal_hash_trees_trusted',
  hashTreeRebuilds: 'shoal_hash_tree_rebuilds',
  tombstonesReaped: 'shoal_tombstones_reaped',
  reapedMarkersRemoved: 'shoal_reaped_markers_removed',
  admissionShare: 'shoal_admission_background_share',
  admissionP99: 'shoal_admission_foreground_p99_seconds',
  admissionThrottles: 'shoal_admission_throttles',
  respCommands: 'shoal_resp_commands_total',
  respErrors: 'shoal_resp_errors_total',
  respConflictedReads: 'shoal_resp_conflicted_reads_total',
  respProtocolErrors: 'shoal_resp_protocol_errors_total',
  respConnections: 'shoal_resp_connections',
  respConnectionsAccepted: 'shoal_resp_connections_total',
} as const;

/** What the cluster gauges read, when collected. */
export interface ClusterGaugeSource {
  readonly hints: number;
  readonly hintsMax: number;
  readonly peersUp: number;
  readonly peersSuspect: number;
  readonly peersDown: number;
  /** Every peer's state and the evidence for it (failureDetector.ts). */
  readonly peerViews?: readonly PeerView[];
  readonly membership: MembershipGauges;
  readonly repair?: RepairStatus;
  readonly cache?: CacheStats;
}

const MEMBER_STATUSES = ['joining', 'valid', 'leaving', 'down', 'removed'] as const;

const EMPTY_MEMBERSHIP: MembershipGauges = {
  ringVersion: 0,
  members: {},
  partitionsOwned: 0,
  changeTransfersDone: 0,
  changeTransfersTotal: 0,
  transfersPending: 0,
  transferObjectsSent: 0,
  transferBytesSent: 0,
  transferBytesPerS: 0,
  droppedObjects: 0,
};

export interface NodeMetricsOptions {
  /** Labels on every metric (e.g. { node: 'node1' }). */
  readonly defaultLabels?: Record<string, string>;
}

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  private readonly httpRequestDuration: Histogram<'route' | 'method'>;
  private readonly flushBatchObjects: Histogram<'durable'>;
  private readonly flushDuration: Histogram<'durable'>;
  private readonly writeWaitDuration: Histogram;
  private readonly engineErrors: Counter<'source'>;
  /** Children per label set, so the hot path skips prom-client's label hashing. */
  private readonly requestChildren = new Map<string, { count: Counter.Internal; duration: Histogram.Internal<'route' | 'method'>; historyRoute: number }>();
  /** Per-second requests and latency percentiles per route, for the dashboard's charts. */
  readonly requestHistory = new RequestHistory();
  private statsSource: (() => BufferStats) | undefined;
  private clusterSource: (() => ClusterGaugeSource) | undefined;
  private respStats: RespStats | undefined;

  /** Hooks to hand the object buffer (the ObjectStore's `events` option). */
  readonly storeEvents: BufferEvents;
  /** Hooks to hand openNode (its `events`): the store's, plus replication's. */
  readonly nodeEvents: NodeEvents;

  constructor(options: NodeMetricsOptions = {}) {
    if (options.defaultLabels !== undefined) this.registry.setDefaultLabels(options.defaultLabels);
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: METRIC_NAMES.httpRequests,
      help: 'HTTP requests answered, by route, method and status code',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.httpRequestDuration = new Histogram({
      name: METRIC_NAMES.httpRequestDuration,
      help: 'HTTP request latency, from the request to the reply, by route and method',
      labelNames: ['route', 'method'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.flushBatchObjects = new Histogram({
      name: METRIC_NAMES.flushBatchObjects,
      help: 'Objects per buffer flush batch written to the engine',
      labelNames: ['durable'],
      buckets: BATCH_BUCKETS_OBJECTS,
      registers,
    });
    this.flushDuration = new Histogram({
      name: METRIC_NAMES.flushDuration,
      help: 'Time to write one flush batch to the engine',
      labelNames: ['durable'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.writeWaitDuration = new Histogram({
      name: METRIC_NAMES.writeWaitDuration,
      help: 'Time writes waited for room in a full buffer (admitted or refused)',
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    this.engineErrors = new Counter({
      name: METRIC_NAMES.engineErrors,
      help: 'Storage engine failures: source="flush" for failed buffer flushes (retried), source="request" for requests answered 5xx',
      labelNames: ['source'],
      registers,
    });
    this.engineErrors.labels('flush').inc(0);
    this.engineErrors.labels('request').inc(0);
    this.createStoreGauges(registers);
    this.storeEvents = {
      onFlush: (objects, durationMs, durable) => this.observeFlush(objects, durationMs, durable),
      onEngineError: () => this.engineErrors.labels('flush').inc(),
      onWriteWait: (waitMs) => this.writeWaitDuration.observe(waitMs / 1000),
    };
    this.nodeEvents = { store: this.storeEvents, ...this.createClusterMetrics(registers) };
    this.createRespMetrics(registers);
  }

  /** Where the Redis front end's counters read from (set when it runs). */
  watchResp(stats: RespStats): void {
    this.respStats = stats;
  }

  /** Where the cluster gauges (hints, peers) read from (set once the node exists). */
  watchCluster(source: () => ClusterGaugeSource): void {
    this.clusterSource = source;
  }

  /** Where the buffer gauges read from (set once the store exists). */
  watchStore(stats: () => BufferStats): void {
    this.statsSource = stats;
  }

  observeRequest(route: string, method: string, status: number, durationMs: number): void {
    const id = `${route} ${method} ${status}`;
    let children = this.requestChildren.get(id);
    if (children === undefined) {
      children = {
        count: this.httpRequests.labels(route, method, String(status)),
        duration: this.httpRequestDuration.labels(route, method),
        historyRoute: this.requestHistory.routeIndex(`${method} ${route}`),
      };
      this.requestChildren.set(id, children);
    }
    children.count.inc();
    children.duration.observe(durationMs / 1000);
    this.requestHistory.record(children.historyRoute, durationMs, Date.now());
  }

  /** A request answered 5xx because of an engine failure (a read, or a durable write's flush). */
  observeRequestEngineError(): void {
    this.engineErrors.labels('request').inc();
  }

  /** The Prometheus text exposition. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private observeFlush(objects: number, durationMs: number, durable: boolean): void {
    const label = durable ? 'true' : 'false';
    this.flushBatchObjects.labels(label).observe(objects);
    this.flushDuration.labels(label).observe(durationMs / 1000);
  }

  private createStoreGauges(registers: Registry[]): void {
    const stats = (): BufferStats => this.currentStats();
    new Gauge({
      name: METRIC_NAMES.bufferObjects,
      help: 'Objects held in the write buffer (waiting for a flush or in flight)',
      registers,
      collect(this: Gauge) {
        this.set(stats().bufferedObjects);
      },
    });
    new Gauge({
      name: METRIC_NAMES.bufferObjectsMax,
      help: 'Bound on the objects held in the write buffer',
      registers,
      collect(this: Gauge) {
        this.set(stats().bufferedObjectsMax);
      },
    });
    new Gauge({
      name: METRIC_NAMES.writesWaiting,
      help: 'Writes waiting for room in the buffer',
      registers,
      collect(this: Gauge) {
        this.set(stats().waitingWrites);
      },
    });
  }

  private createClusterMetrics(registers: Registry[]): Omit<NodeEvents, 'store'> {
    const hintsStored = new Counter({ name: METRIC_NAMES.hintsStored, help: 'Hints this node stored for down primaries', registers });
    const deliveries = new Counter({
      name: METRIC_NAMES.hintDeliveries,
      help: 'Hints handed back to their owners (result="delivered") and failed attempts (result="failed")',
      labelNames: ['result'],
      registers,
    });
    const readRepairs = new Counter({ name: METRIC_NAMES.readRepairs, help: 'Stale replicas sent the reconciled object after a read', registers });
    const forwards = new Counter({
      name: METRIC_NAMES.forwards,
      help: 'Client requests forwarded to a primary: answered, failed-over (one attempt failed), hedged (the next was also asked), coordinated-locally (no primary took it)',
      labelNames: ['outcome'],
      registers,
    });
    const quorumFailures = new Counter({
      name: METRIC_NAMES.quorumFailures,
      help: 'Requests that missed their quorum (503), by operation and reason (unreachable or timeout)',
      labelNames: ['operation', 'reason'],
      registers,
    });
    const internode = new Counter({
      name: METRIC_NAMES.internodeRequests,
      help: 'Requests from peers answered, by message type and outcome (type="invalid": did not validate)',
      labelNames: ['type', 'outcome'],
      registers,
    });
    const gossip = new Counter({
      name: METRIC_NAMES.gossipExchanges,
      help: 'Gossip exchanges this node started, by outcome (changed: the peer taught it something)',
      labelNames: ['outcome'],
      registers,
    });
    const hedges = new Counter({
      name: METRIC_NAMES.hedges,
      help: 'Stand-ins asked because a replica had not answered within the hedge delay, by operation',
      labelNames: ['operation'],
      registers,
    });
    for (const operation of ['read', 'write']) hedges.labels(operation).inc(0);
    for (const result of ['delivered', 'failed']) deliveries.labels(result).inc(0);
    for (const outcome of ['changed', 'same', 'failed']) gossip.labels(outcome).inc(0);
    this.createClusterGauges(registers);
    this.createMembershipGauges(registers);
    this.createRepairGauges(registers);
    this.createCacheMetrics(registers);
    return {
      onHintStored: () => hintsStored.inc(),
      onHintDelivery: (outcome) => deliveries.labels(outcome).inc(),
      onReadRepair: (replicas) => readRepairs.inc(replicas),
      onHedge: (operation, standIns) => hedges.labels(operation).inc(standIns),
      onForward: (outcome) => forwards.labels(outcome).inc(),
      onQuorumFailure: (operation, reason) => quorumFailures.labels(operation, reason).inc(),
      onInternodeRequest: (type, outcome) => internode.labels(type, outcome).inc(),
      onGossip: (outcome) => gossip.labels(outcome).inc(),
    };
  }

  private createMembershipGauges(registers: Registry[]): void {
    const source = (): MembershipGauges => this.clusterSource?.().membership ?? EMPTY_MEMBERSHIP;
    const simple: [string, string, (m: MembershipGauges) => number][] = [
      [METRIC_NAMES.ringVersion, 'Version of the cluster state (bumped by every membership change)', (m) => m.ringVersion],
      [METRIC_NAMES.partitionsOwned, 'Ring positions this node owns in the serving ring', (m) => m.partitionsOwned],
      [METRIC_NAMES.transfersPending, 'Partition transfers this node still has to send for the current change', (m) => m.transfersPending],
      [METRIC_NAMES.transferObjectsSent, 'Objects this node sent in partition transfers of the current change', (m) => m.transferObjectsSent],
      [METRIC_NAMES.transferBytesSent, 'Bytes this node sent in partition transfers of the current change', (m) => m.transferBytesSent],
      [METRIC_NAMES.transferBytesPerSecond, 'Partition transfer rate of this node over the last seconds', (m) => m.transferBytesPerS],
      [METRIC_NAMES.droppedObjects, 'Objects deleted from partitions this node handed over', (m) => m.droppedObjects],
    ];
    readGauges(registers, simple, source);
    new Gauge({
      name: METRIC_NAMES.members,
      help: 'Members of the cluster by status, as this node knows them',
      labelNames: ['status'],
      registers,
      collect(this: Gauge<'status'>) {
        const members = source().members;
        for (const status of MEMBER_STATUSES) this.labels(status).set(members[status] ?? 0);
      },
    });
    new Gauge({
      name: METRIC_NAMES.changeTransfers,
      help: 'Transfers of the membership change in progress, done and in total (0 when settled)',
      labelNames: ['state'],
      registers,
      collect(this: Gauge<'state'>) {
        const current = source();
        this.labels('done').set(current.changeTransfersDone);
        this.labels('total').set(current.changeTransfersTotal);
      },
    });
  }

  private createCacheMetrics(registers: Registry[]): void {
    const source = (): CacheStats | undefined => this.clusterSource?.().cache;
    readGauges<CacheStats>(registers, [
      [METRIC_NAMES.cacheObjects, 'Clean objects held in the read cache', (c) => c.objects],
      [METRIC_NAMES.cacheBytes, 'Bytes the read cache holds, as it charges its objects', (c) => c.bytes],
      [METRIC_NAMES.cacheObjectsMax, 'Bound on the objects in the read cache (0: off)', (c) => c.objectsMax],
      [METRIC_NAMES.cacheBytesMax, 'Bound on the bytes in the read cache (0: off)', (c) => c.bytesMax],
    ], source);
    // Counters read from the cache's own ones when scraped (nothing per request here).
    const counter = (name: string, help: string, labelName: string, read: (c: CacheStats) => Record<string, number>): void => {
      new Counter({
        name,
        help,
        labelNames: [labelName],
        registers,
        collect(this: Counter<string>) {
          const current = source();
          if (current === undefined) return;
          this.reset();
          for (const [label, value] of Object.entries(read(current))) this.labels(label).inc(value);
        },
      });
    };
    counter(METRIC_NAMES.cacheRequests, 'Reads that looked in the cache, by result', 'result', (c) => ({ hit: c.hits, miss: c.misses }));
    counter(METRIC_NAMES.cacheEvictions, 'Objects pushed out of the cache to make room, by policy', 'policy', (c) => ({ [c.policy]: c.evictions }));
    counter(METRIC_NAMES.cacheAdmissions, 'Objects offered to the cache after a miss, by what the admission policy did', 'result', (c) => ({ admitted: c.admitted, rejected: c.rejected }));
  }

  private createRepairGauges(registers: Registry[]): void {
    const source = (): RepairStatus | undefined => this.clusterSource?.().repair;
    const simple: [string, string, (r: RepairStatus) => number][] = [
      [METRIC_NAMES.antiEntropySegments, 'Hash-tree segments anti-entropy compared key by key since start', (r) => r.antiEntropy.segmentsCompared],
      [METRIC_NAMES.antiEntropyKeysRepaired, 'Keys anti-entropy sent or fetched since start', (r) => r.antiEntropy.keysRepaired],
      [METRIC_NAMES.antiEntropyBytes, 'Bytes of hashes, key lists and objects anti-entropy exchanged since start', (r) => r.antiEntropy.bytes],
      [METRIC_NAMES.hashTreesTrusted, 'Partitions whose hash tree is trusted (built and kept current)', (r) => r.antiEntropy.trees.trusted],
      [METRIC_NAMES.hashTreeRebuilds, 'Hash trees rebuilt from storage since start', (r) => r.antiEntropy.trees.rebuilds],
      [METRIC_NAMES.tombstonesReaped, 'Tombstones this node reaped to markers since start', (r) => r.antiEntropy.tombstonesReaped],
      [METRIC_NAMES.reapedMarkersRemoved, 'Reaped markers this node removed since start', (r) => r.antiEntropy.markersRemoved],
      [METRIC_NAMES.admissionShare, 'Share of time background work may use now (admission control)', (r) => r.admission.share],
      [METRIC_NAMES.admissionP99, 'Foreground p99 latency over the admission window', (r) => r.admission.foregroundP99Ms / 1000],
      [METRIC_NAMES.admissionThrottles, 'Times admission control cut the background share since start', (r) => r.admission.throttles],
    ];
    readGauges(registers, simple, source);
    new Gauge({
      name: METRIC_NAMES.antiEntropyExchanges,
      help: 'Anti-entropy exchanges since start, by outcome',
      labelNames: ['outcome'],
      registers,
      collect(this: Gauge<'outcome'>) {
        const current = source()?.antiEntropy;
        if (current === undefined) return;
        this.labels('in-sync').set(current.inSync);
        this.labels('repaired').set(current.exchanges - current.inSync);
        this.labels('failed').set(current.failed);
      },
    });
  }

  /** The Redis front end's counters, read from its RespStats when scraped (nothing without one). */
  private createRespMetrics(registers: Registry[]): void {
    const stats = (): RespStats | undefined => this.respStats;
    /** A counter with at most one label; `read` gives a value per label value ('' when unlabelled). */
    const counter = (name: string, help: string, labelName: string | undefined, read: (current: RespStats) => readonly (readonly [string, number])[]): void => {
      new Counter({
        name,
        help,
        labelNames: labelName === undefined ? [] : [labelName],
        registers,
        collect(this: Counter<string>) {
          const current = stats();
          if (current === undefined) return;
          this.reset();
          for (const [label, value] of read(current)) {
            if (labelName === undefined) this.inc(value);
            else this.labels(label).inc(value);
          }
        },
      });
    };
    counter(METRIC_NAMES.respCommands, 'Redis-protocol commands run, by command (unknown: not in the table)', 'command', (current) => [
      ...current.commands.map((command) => [command.name, command.calls] as const),
      ['unknown', current.unknownCommands],
    ]);
    counter(METRIC_NAMES.respErrors, 'Redis-protocol error replies, by code (ERR, TRYAGAIN, BUSY, NOPROTO)', 'code', (current) => [...current.errorReplies]);
    counter(METRIC_NAMES.respConflictedReads, 'Redis GET/MGET keys that met several siblings and were answered with the deterministic winner', undefined, (current) => [
      ['', current.conflictedReads],
    ]);
    counter(METRIC_NAMES.respProtocolErrors, 'Redis-protocol connections closed for malformed input', undefined, (current) => [['', current.protocolErrors]]);
    counter(METRIC_NAMES.respConnectionsAccepted, 'Redis-protocol connections accepted, refused past connectionsMax, and closed idle', 'result', (current) => [
      ['accepted', current.connectionsAccepted],
      ['refused', current.connectionsRejected],
      ['idle_closed', current.connectionsIdleClosed],
    ]);
    new Gauge({
      name: METRIC_NAMES.respConnections,
      help: 'Redis-protocol connections open',
      registers,
      collect(this: Gauge) {
        const current = stats();
        if (current !== undefined) this.set(current.connectionsOpen);
      },
    });
  }

  private createClusterGauges(registers: Registry[]): void {
    const source = (): ClusterGaugeSource => this.clusterSource?.() ?? { hints: 0, hintsMax: 0, peersUp: 0, peersSuspect: 0, peersDown: 0, membership: EMPTY_MEMBERSHIP };
    new Gauge({
      name: METRIC_NAMES.hints,
      help: 'Hints this node holds for down primaries',
      registers,
      collect(this: Gauge) {
        this.set(source().hints);
      },
    });
    new Gauge({
      name: METRIC_NAMES.hintsMax,
      help: 'Bound on the hints this node holds (hintsMax)',
      registers,
      collect(this: Gauge) {
        this.set(source().hintsMax);
      },
    });
    new Gauge({
      name: METRIC_NAMES.peers,
      help: 'Peers by status as this node sees them',
      labelNames: ['status'],
      registers,
      collect(this: Gauge<'status'>) {
        const current = source();
        this.labels('up').set(current.peersUp);
        this.labels('suspect').set(current.peersSuspect);
        this.labels('down').set(current.peersDown);
      },
    });
    this.createPeerGauges(registers, source);
  }

  /** Per peer: its status and the evidence for it (round trip, requests waiting, suspicion). */
  private createPeerGauges(registers: Registry[], source: () => ClusterGaugeSource): void {
    const perPeer = (name: string, help: string, read: (peer: PeerView) => number | undefined): void => {
      new Gauge({
        name,
        help,
        labelNames: ['peer'],
        registers,
        collect(this: Gauge<'peer'>) {
          this.reset(); // departed peers leave no stale series
          for (const peer of source().peerViews ?? []) {
            const value = read(peer);
            if (value !== undefined) this.labels(peer.id).set(value);
          }
        },
      });
    };
    new Gauge({
      name: METRIC_NAMES.peerStatus,
      help: 'Each peer as this node sees it: 1 for its current status (up, suspect or down)',
      labelNames: ['peer', 'status'],
      registers,
      collect(this: Gauge<'peer' | 'status'>) {
        this.reset();
        for (const peer of source().peerViews ?? []) this.labels(peer.id, peer.status).set(1);
      },
    });
    perPeer(METRIC_NAMES.peerRtt, "Smoothed round trip of this node's requests to each peer", (peer) => (peer.evidence.rttMs === undefined ? undefined : peer.evidence.rttMs / 1000));
    perPeer(METRIC_NAMES.peerInFlight, "This node's requests waiting on each peer", (peer) => peer.evidence.inFlight);
    perPeer(METRIC_NAMES.peerSuspicion, "How long requests have waited on each peer with no answer, in expected round trips (suspect at 8)", (peer) => peer.evidence.suspicion);
  }

  private currentStats(): BufferStats {
    if (this.statsSource === undefined) return EMPTY_STATS;
    return this.statsSource();
  }
}

/** Gauges that read one number each from `source()` when collected (nothing while it is undefined). */
function readGauges<T>(registers: Registry[], specs: readonly (readonly [string, string, (source: T) => number])[], source: () => T | undefined): void {
  for (const [name, help, read] of specs) {
    new Gauge({
      name,
      help,
      registers,
      collect(this: Gauge) {
        const current = source();
        if (current !== undefined) this.set(read(current));
      },
    });
  }
}

const EMPTY_STATS: BufferStats = {
  bufferedObjects: 0,
  bufferedObjectsMax: 0,
  dirtyObjects: 0,
  flushingObjects: 0,
  flushing: false,
  waitingWrites: 0,
  engineFailures: 0,
  flushes: 0,
};
