/**
 * Builds a running node from its ports: the one entry point shared by the production
 * runtime (io/runtime.ts), the simulator and the tests.
 *
 * openNode advances the start epoch (durably, before anything is served), builds the
 * object store and the hint store over their engines, the cluster view and ring, the
 * failure detector, serves the transport, and starts the background timers (hint delivery,
 * probes of down peers). Everything it touches comes from `deps`: no module-level state,
 * no wall clock or timers outside the Clock port, no randomness outside the Random port,
 * so the simulator can run many nodes in one process and crash-restart them by calling
 * openNode again on the same engines.
 */
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { Random } from '../ports/random.ts';
import type { MetaStore, StorageEngine } from '../ports/storage.ts';
import type { Transport } from '../ports/transport.ts';
import { HintStore } from '../storage/hintStore.ts';
import { ObjectStore } from '../storage/objectStore.ts';
import { primariesOf } from './cluster.ts';
import { Gossip } from './membership/gossip.ts';
import { Membership } from './membership/membership.ts';
import { MembershipService } from './membership/membershipService.ts';
import { PartitionDrop } from './membership/partitionDrop.ts';
import { PartitionHoldings } from './membership/holdings.ts';
import { TransferSender } from './membership/transferSender.ts';
import type { NodeConfig } from './config.ts';
import type { CoordinatorDeps } from './coordinator/deps.ts';
import { emit, type NodeEvents } from './events.ts';
import { FailureDetector } from './failureDetector.ts';
import { HintedHandoff } from './hintedHandoff.ts';
import { PeerClient } from './peerClient.ts';
import { Prober } from './prober.ts';
import { toWire, type KeyListsReply, type ListKeysMessage } from './protocol.ts';
import { handlePeerRequest, type ReplicaServiceDeps } from './replicaService.ts';
import { ShoalNode } from './shoalNode.ts';
import { actorIdOf, advanceStartEpoch, firstEpochOf } from './startEpoch.ts';
import { ADMISSION_DEFAULTS } from '../core/admission.ts';
import { SHAPE_DEFAULT } from '../core/antiEntropy/hashTree.ts';
import { AdmissionController } from './admission.ts';
import { BackgroundTasks } from './background.ts';
import { AntiEntropy, exchangeablePartition } from './antiEntropy/antiEntropy.ts';
import { answeringPeer } from './antiEntropy/exchange.ts';
import { remoteExchangePeer } from './antiEntropy/exchangeMessages.ts';
import { PartitionTrees } from './antiEntropy/partitionTrees.ts';
import { mergeBatch } from './membership/transferReceiver.ts';
import { NodeReplica } from './replica/nodeReplica.ts';
import { serveListKeys, type ListingServiceDeps } from './listing/listingService.ts';

export interface NodeDeps {
  /** config.cluster lists every member (id + internode address); absent = a cluster of one. */
  readonly config: NodeConfig;
  /** The node's objects. */
  readonly engine: StorageEngine;
  /** The hint store's own engine (LMDB: the "hints" named database of the same environment). */
  readonly hintEngine: StorageEngine;
  /** The start epoch and other node metadata. */
  readonly meta: MetaStore;
  readonly clock: Clock;
  readonly random: Random;
  /** Already created for config.id; openNode installs its handler with serve(). */
  readonly transport: Transport;
  readonly logger: Logger;
  /** Metrics hooks (optional). */
  readonly events?: NodeEvents;
}

export async function openNode(deps: NodeDeps): Promise<ShoalNode> {
  const { config, clock, logger } = deps;
  if (deps.transport.localId !== config.id) {
    throw new Error(`transport is for node ${JSON.stringify(deps.transport.localId)}, config for ${JSON.stringify(config.id)}`);
  }
  const inCluster = (config.cluster?.length ?? 0) >= 2 || config.seeds !== undefined;
  const startEpoch = await advanceStartEpoch(deps.meta, () => firstEpochOf(inCluster, deps.random));
  const membership = await Membership.open(config, deps.meta, logger);
  const holdings = await PartitionHoldings.open(deps.meta, config.id, membership.state);
  const cluster = membership.view;
  if (cluster.quorumLowered !== undefined) {
    logger.warn({ configured: cluster.quorumLowered, running: cluster.quorum }, `a ring of ${cluster.ring.members.length} member(s) runs with lower n, r, w until it grows`);
  }
  const events = deps.events ?? {};
  const trees = new PartitionTrees(SHAPE_DEFAULT, deps.meta, logger);
  const treesLoaded = await trees.load();
  const store = new ObjectStore(deps.engine, clock, {
    bufferObjectsMax: config.bufferObjectsMax,
    flushIntervalMs: config.flushIntervalMs,
    groupCommitMs: config.groupCommitMs,
    cache: { bytesMax: config.cacheBytesMax, objectsMax: config.cacheObjectsMax, policy: config.cachePolicy },
    writeWaitMsMax: config.writeWaitMsMax,
    events: events.store,
    observer: trees.observe,
  });
  const admission = new AdmissionController(clock, {
    ...ADMISSION_DEFAULTS,
    p99TargetMs: config.admissionP99TargetMs,
    windowMs: config.admissionWindowMs,
    // Off: background work always gets the whole share (no pauses).
    shareMin: config.admissionControl ? ADMISSION_DEFAULTS.shareMin : 1,
  });
  const hints = new HintStore(deps.hintEngine, { hintsMax: config.hintsMax });
  const detector = new FailureDetector(config.id, cluster.members, clock, (peer, state) => {
    logger.info({ peer, status: state.status, lastError: state.lastError }, `peer ${peer} is ${state.status}`);
    emit(() => events.onPeerStatus?.(peer, state.status));
  });
  const peers = new PeerClient(deps.transport, detector, logger);
  deps.transport.setPeers(cluster.peers);
  const replica = new NodeReplica({ self: config.id, store, hints, engine: deps.engine, routing: () => membership.view });
  // A new actor (a new epoch) once the node dropped copies it held: see renewActor below.
  let actor = actorIdOf(config.id, startEpoch);
  const coordinator: CoordinatorDeps = {
    config,
    get cluster() {
      return membership.view;
    },
    replica,
    get actor() {
      return actor;
    },
    detector,
    peers,
    clock,
    logger,
    events,
    lingering: new Set(),
  };
  const shared = { detector, peers, clock, random: deps.random, logger, events };
  const handoff = new HintedHandoff({
    ...shared,
    hints: replica,
    intervalMs: config.hintDeliveryIntervalMs,
    requestTimeoutMs: config.requestTimeoutMs,
    pacer: admission,
    departed: {
      self: config.id,
      isMember: (node) => membership.view.members.includes(node),
      replicasOf: (partition) => primariesOf(membership.view, partition, membership.view.quorum.n),
      storeLocally: (partition, key, object) => replica.merge(partition, key, object, { durable: true }),
    },
  });
  const prober = new Prober({ ...shared, intervalMs: config.probeIntervalMs, timeoutMs: Math.min(config.probeIntervalMs, config.requestTimeoutMs) });
  const gossip = new Gossip({
    membership,
    peers,
    transport: deps.transport,
    clock,
    random: deps.random,
    logger,
    intervalMs: config.gossipIntervalMs,
    timeoutMs: config.requestTimeoutMs,
    seeds: config.seeds ?? [],
    onExchange: (outcome) => emit(() => events.onGossip?.(outcome)),
  });
  const sender = new TransferSender({
    membership,
    replica,
    meta: deps.meta,
    peers,
    clock,
    logger,
    batchObjectsMax: config.transferBatchObjectsMax,
    batchBytesMax: config.transferBatchBytesMax,
    pauseMs: config.transferPauseMs,
    pacer: admission,
    concurrency: config.transferConcurrency,
    timeoutMs: Math.max(config.requestTimeoutMs, 10_000),
    retryDelayMsMax: 5000,
    onDone: () => gossip.spread(),
    deliverHints: () => handoff.round(),
  });
  // Dropping copies forgets the counters this node's actor reached on those keys; should the
  // node coordinate one of them again (a request forwarded by a stale view, the partition
  // coming back to it), the same actor would issue the same dots again (startEpoch.ts): so
  // the node takes a new epoch, and a new actor, before it deletes anything.
  const renewActor = async (): Promise<void> => {
    const epoch = await advanceStartEpoch(deps.meta);
    actor = actorIdOf(config.id, epoch);
    logger.info({ actor }, 'new actor before dropping handed-over copies');
  };
  const drop = new PartitionDrop({
    membership,
    replica,
    meta: deps.meta,
    clock,
    logger,
    delayMs: config.dropDelayMs,
    requestTimeoutMs: config.requestTimeoutMs,
    batchObjectsMax: config.transferBatchObjectsMax,
    beforeDeleting: renewActor,
    pacer: admission,
    holdings,
    confirmedBy: async (replica, clusterId, ringVersion, partitions) => {
      try {
        const reply = await peers.request(replica, { type: 'holdings', clusterId, ringVersion, partitions }, config.requestTimeoutMs);
        return reply.type === 'partitions' ? { held: reply.partitions, streamed: reply.streamed } : undefined;
      } catch {
        return undefined; // not asked: asked again later
      }
    },
    handOff: (partition, to, wanted) => sender.handOff(partition, to, wanted),
  });
  const admin = new MembershipService({ config, membership, gossip, sender, holdings, transport: deps.transport, peers, detector, replica, logger, timeoutMs: config.requestTimeoutMs });
  membership.onView((view) => {
    deps.transport.setPeers(view.peers);
    detector.setPeers(view.peers.keys());
    holdings.follow(view.state.clusterId, view.holds).catch((error: unknown) => logger.error({ err: error }, 'could not persist the partitions this node holds'));
  });
  const receiver = { replica, partitionCount: config.partitionCount, keyBytesMax: config.keyBytesMax };
  const antiEntropy = new AntiEntropy({
    membership,
    trees,
    replica,
    detector,
    admission,
    clock,
    random: deps.random,
    logger,
    intervalMs: config.antiEntropyIntervalMs,
    reaping: { tombstoneGraceMs: config.tombstoneGraceMs, markerRetentionMs: config.markerRetentionMs },
    peerFor: (peer) => remoteExchangePeer(peers, peer, config.requestTimeoutMs),
  });
  const listing: ListingServiceDeps = {
    reader: replica,
    clock,
    partitionCount: config.partitionCount,
    keyBytesMax: config.keyBytesMax,
    holds: (partition) => membership.view.holds[partition] === true,
    pauseAfterMs: (workMs) => admission.pauseAfterMs(workMs),
  };
  const listKeys = (message: ListKeysMessage): Promise<KeyListsReply> => serveListKeys(listing, message);
  const background = new BackgroundTasks([handoff, prober, gossip, sender, drop, admission, ...(config.antiEntropyIntervalMs > 0 ? [antiEntropy] : [])]);
  const node = new ShoalNode({ config, membership, startEpoch, coordinator, handoff, prober, gossip, sender, drop, admin, admission, antiEntropy, trees, background, listKeys });
  const service: ReplicaServiceDeps = {
    replica,
    membership: admin,
    partitionCount: config.partitionCount,
    keyBytesMax: config.keyBytesMax,
    logger,
    events,
    serving: () => node.currentState === 'serving',
    coordinateForwarded: (forward) => node.coordinateForwarded(forward),
    listKeys,
    antiEntropy: answeringPeer(
      trees,
      replica,
      (partition, keys, objects) => mergeBatch(receiver, partition, keys, objects),
      { exchangeable: (partition) => exchangeablePartition(membership.view, partition), onReaped: antiEntropy.countReaped, betweenPages: () => new Promise((resolve) => clock.setTimer(0, resolve)) },
    ),
  };
  deps.transport.serve((from, message, role) => handlePeerRequest(service, from, message, role).then(toWire));
  background.start();
  logger.info({ treesLoaded,  actor: node.actor, startEpoch, members: cluster.members, ringVersion: cluster.state.ringVersion, quorum: cluster.quorum, hints: replica.hintCounts().total }, 'node opened');
  return node;
}
