/**
 * One sim run per seed:
 *
 *   safety phase    the plan's faults are on (drops, duplicates, delays, partitions,
 *                   crash-restarts, clock skew, membership changes, and the gray ones:
 *                   paused nodes and slow peers) while the clients run, for
 *                   plan.safetyMs of virtual time.
 *   heal            partitions end, drops and duplicates stop, delays drop to a few ms,
 *                   slow peers are fast again, every node is up and running again (but
 *                   those crashed for good and removed).
 *   liveness phase  time runs on (no clients) until every client call has ended, the
 *                   membership changes under way took effect, every member holds the same
 *                   settled cluster state, every node sees every peer up and no node
 *                   holds a hint, within LIVENESS_MS_MAX; then dropDelayMs for former
 *                   replicas to drop their copies.
 *   convergence     time runs on, still with no client call (no read repair), until every
 *                   key's replicas under the final ring hold the same version (objectDigest)
 *                   — anti-entropy alone must bring them there — within a budget the
 *                   node's pacing can meet (convergenceBudgetMs); the copies then are
 *                   judged (checker.ts not-converged, resurrected).
 *   final reads     one read of every key at R = N (read repair) through a member, time
 *                   for the repairs to land, and (bounded by the same budget) for the
 *                   replicas to agree again: a reaping round may be halfway through (its
 *                   peers hold the marker, the initiator still the tombstone).
 *   check           checker.ts judges the history and the final state; the replicas of a
 *                   key are those of the final ring (the settled cluster state). The
 *                   requests of the safety phase are judged for availability against the
 *                   run's reachability timeline (availability.ts); its failures are
 *                   violations only with strictAvailability.
 *
 * Everything a run does is decided by the seed; RealTimeGuard fails the run if anything
 * reads the real clock or real randomness while it runs.
 */
import { decodeUtf8, encodeUtf8 } from '../core/bytes.ts';
import { partitionOfKey } from '../core/hash.ts';
import { decodeState, encodeState } from '../core/membership/codec.ts';
import { isSettled, servingRing, type ClusterState } from '../core/membership/state.ts';
import { replicasOf } from '../core/membership/transfers.ts';
import { initialClusterState } from '../node/cluster.ts';
import { nodeConfigFrom, type NodeConfig } from '../node/config.ts';
import { MEMBERSHIP_RECORD } from '../node/membership/membership.ts';
import { dropWaitMs } from '../node/membership/partitionDrop.ts';
import { openNode } from '../node/openNode.ts';
import type { Logger } from '../ports/logger.ts';
import type { WriteOp } from '../ports/storage.ts';
import { decodeObject } from '../storage/objectCodec.ts';
import { CHANGE_SPREAD_GOSSIP_ROUNDS, emptyCounts, networkCondition, recoveryGraceMs, type AvailabilityCounts } from './availability.ts';
import { checkRun, convergedCopies, type CheckReport, type Convergence, type MembershipSnapshot, type ReplicaCopy, type Violation } from './checker.ts';
import { SimClient, errorCode } from './clients.ts';
import { checkListings, SimLister, type ListingCounts } from './lister.ts';
import { isDeletedObject } from '../core/object.ts';
import { formatDot, History, valueIdOf, type OpRecord } from './history.ts';
import { MembershipDriver, type ChangeCounts } from './membershipDriver.ts';
import { DeadVersions } from './deadVersions.ts';
import { Prng } from './prng.ts';
import { ReplicaAudit, disksPromised } from './replicaAudit.ts';
import { ReachabilityTimeline } from './reachability.ts';
import { RealTimeGuard, RealTimeUseError } from './realTime.ts';
import { Scheduler, SimRunError, Trace, describe, drainMicrotasks } from './scheduler.ts';
import { SimCluster, type OpenSimNode, type RepairCounters } from './simCluster.ts';
import { CALM_NETWORK, SimNetwork } from './simNetwork.ts';
import { describePlan, planSwarm, type ForgedSettle, type SwarmPlan } from './swarmPlan.ts';

export const CLUSTER_NAME = 'sim';
/** Longest liveness phase: hint delivery backs off up to 60 s after repeated failures. */
export const LIVENESS_MS_MAX = 90_000;
/** Anomalies kept per run (the first ones tell the story). */
const ANOMALIES_KEPT_MAX = 20;
/** A forged "settled" state is tried this many times, FORGERY_RETRY_MS apart, until a change is in progress. */
const FORGERY_TRIES = 150;
const FORGERY_RETRY_MS = 10;
/** How often the liveness phase checks whether the cluster has settled. */
const SETTLE_STEP_MS = 50;
/** Attempts of each final read (a peer wrongly believed down fails a read at R = N until probed). */
const FINAL_READ_ATTEMPTS = 3;
/**
 * Anti-entropy cycles the convergence phase allows (convergenceBudgetMs). In one cycle every
 * replica exchanges each partition it holds once, with one other replica picked at random,
 * and each exchange leaves both sides with the merge of the two; three replicas that all
 * differ are merged after two cycles in the worst order, and two more allow for exchanges
 * that fail and for random peer choices that pair the same two replicas again. Measured
 * over 2,000 seeds (bases 2000000 and 3000000): the slowest seed that converged needed
 * 0.22 of this budget (under one cycle); most need none (the settle phase already ran
 * anti-entropy), so the budget only costs time in failing runs.
 */
export const CONVERGENCE_CYCLES = 4;
/**
 * What a cycle may spend beyond the pauses between partitions in sync, per partition: the
 * admission controller's pause after an exchange that repaired (its work times
 * 1/shareMin - 1 = 19 when the foreground p99 was over target: a few round trips of a
 * calm network, well under this), and a tree rebuild after a restart.
 */
const CYCLE_SLACK_PER_PARTITION_MS = 250;

export interface RunOptions {
  /** The node under test (default: the real openNode). */
  readonly openNode?: OpenSimNode;
  /** Receives the event trace, node logs and notes (the `--verbose` flag). */
  readonly print?: (line: string) => void;
  /** Changes the plan before the run (tests pin one fault, or turn faults off). */
  readonly adjustPlan?: (plan: SwarmPlan) => SwarmPlan;
  /** Requests that could have succeeded but failed are `unavailable` violations (availability.ts); else they are only counted. */
  readonly strictAvailability?: boolean;
}

export interface SeedResult {
  readonly seed: number;
  readonly plan: SwarmPlan;
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  /** The run itself failed (a node threw from a timer, real time was used…). */
  readonly error: string | undefined;
  readonly traceHash: string;
  readonly events: number;
  readonly virtualMs: number;
  readonly ops: { readonly total: number; readonly ok: number; readonly failed: number; readonly timedOut: number };
  readonly ackedWrites: number;
  readonly bufferLosses: number;
  /** Acknowledged puts lost with a node crashed for good and removed (only it had them). */
  readonly removalLosses: number;
  readonly appliedTwice: number;
  readonly crashes: number;
  readonly changes: ChangeCounts;
  /** Forged "settled" states delivered to a node (the forgery nemesis). */
  readonly forgedStates: number;
  /** Anti-entropy over the run, every node and incarnation. */
  readonly repairs: RepairCounters;
  /** Virtual ms the convergence phase waited, and its budget (undefined when the run did not get there). */
  readonly convergedAfterMs: number | undefined;
  readonly convergenceBudgetMs: number | undefined;
  /** The availability tallies of the safety phase's requests (all zero when the run did not get to the check). */
  readonly availability: AvailabilityCounts;
  /** Messages and calls dropped because a paused node's backlog was full. */
  readonly pauseDrops: number;
  /** Key listings run during the safety phase (lister.ts), and the keys they had to return. */
  readonly listings: ListingCounts;
}

export async function runSeed(seed: number, options: RunOptions = {}): Promise<SeedResult> {
  const plan = (options.adjustPlan ?? ((p: SwarmPlan) => p))(planSwarm(seed));
  const run = new SwarmRun(plan, options);
  const { report, error } = await underGuard(run);
  return run.result(error, report);
}

/**
 * Runs the sim with real time and real randomness forbidden (RealTimeGuard), and with
 * unhandled promise rejections recorded as anomalies: a promise the node lets reject
 * unhandled is a bug report, not a reason to kill the process.
 */
async function underGuard(run: SwarmRun): Promise<{ report: CheckReport | undefined; error: string | undefined }> {
  const guard = new RealTimeGuard();
  const onRejection = (reason: unknown): void => run.anomaly(`unhandled promise rejection: ${describeFully(reason)}`);
  let report: CheckReport | undefined;
  let error: string | undefined;
  process.on('unhandledRejection', onRejection);
  guard.install();
  try {
    report = await run.execute();
  } catch (caught) {
    error = caught instanceof SimRunError ? caught.message : describeFully(caught);
  } finally {
    guard.uninstall();
    await drainMicrotasks(); // rejections of the last event are reported after it settles
    process.off('unhandledRejection', onRejection);
  }
  try {
    guard.check();
  } catch (caught) {
    if (!(caught instanceof RealTimeUseError)) throw caught;
    error = caught.message;
  }
  return { report, error };
}

function describeFully(error: unknown): string {
  return error instanceof Error && error.stack !== undefined ? `${describe(error)}\n${error.stack}` : describe(error);
}

class SwarmRun {
  readonly trace: Trace;
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  readonly cluster: SimCluster;
  readonly history = new History();
  readonly clients: SimClient[] = [];
  lister: SimLister | undefined;
  readonly persisted = new Set<string>();
  /** Tombstones some disk held, as `key|actor:counter`. */
  readonly persistedTombstones = new Set<string>();
  readonly audit: ReplicaAudit;
  readonly dead: DeadVersions;
  readonly operator: MembershipDriver;
  readonly anomalies: string[] = [];
  private anomaliesChecked = 0;
  private convergence: Convergence | undefined;
  /** Metadata records stored so far (replicasInAnyView's cache is good until the next). */
  private metaWrites = 0;
  /** Forged "settled" states delivered (the forgery nemesis). */
  private forgeries = 0;
  private readonly replicasCache = new Map<string, { metaWrites: number; replicas: Set<string> }>();
  private readonly root: Prng;
  private readonly strictAvailability: boolean;

  constructor(
    readonly plan: SwarmPlan,
    options: RunOptions,
  ) {
    this.strictAvailability = options.strictAvailability === true;
    this.root = Prng.fromSeed(plan.seed);
    this.trace = new Trace(options.print);
    this.scheduler = new Scheduler(this.trace);
    this.network = new SimNetwork(this.scheduler, this.root.fork('network'), plan.faults);
    this.cluster = new SimCluster({
      scheduler: this.scheduler,
      network: this.network,
      random: this.root.fork('nodes'),
      configs: configsOf(plan),
      spares: spareConfigsOf(plan),
      skews: plan.skews,
      openNode: options.openNode ?? openNode,
      loggerFor: options.print === undefined ? undefined : (label) => traceLogger(this.trace, this.scheduler, label),
      diskObserver: (node, engine) => ({
        beforeWrite: (ops) => {
          this.dead.diskWritten(node);
          if (engine === 'hints') this.audit.beforeHintWrite(node, ops);
          else this.audit.beforeObjectWrite(node, ops);
        },
        afterWrite: (ops) => {
          this.dead.diskWritten(node);
          this.notePersisted(ops, engine);
        },
      }),
      metaObserver: (node, name, value) => {
        this.metaWrites++;
        this.audit.metaWritten(node, name, value);
      },
      onNodeError: (label, message, fields) => this.anomaly(`${label} logged an error: ${message} ${fieldsText(fields)}`),
    });
    this.network.onReply = (from, to, request, reply) => this.checkReply(from, to, request, reply);
    this.dead = new DeadVersions(this.cluster, plan.settings.partitionCount, (key) => this.replicasInAnyView(key));
    this.history.onBegin = (record) => {
      this.dead.operationStarted(record, this.scheduler.nowMs);
      record.entryMembers = this.entryMembers(record.node);
    };
    this.audit = new ReplicaAudit(this.cluster, plan.settings, plan.workload.keys, (valueId) => this.history.records.find((r) => r.op === 'put' && r.valueId === valueId));
    this.operator = new MembershipDriver({
      scheduler: this.scheduler,
      cluster: this.cluster,
      random: this.root.fork('operator'),
      actions: plan.membership.actions,
      replicas: plan.settings.n,
      beforeRetire: (node) => this.audit.nodeRetiring(node, this.history.records, (key) => this.replicasNow(key, node)),
      anomaly: (text) => this.anomaly(text),
    });
  }

  anomaly(text: string): void {
    if (this.anomalies.length < ANOMALIES_KEPT_MAX) this.anomalies.push(`at ${this.scheduler.nowMs.toFixed(3)} ms: ${text}`);
  }

  /** A BAD_MESSAGE error reply means a node sent a peer something the protocol refuses. */
  private checkReply(from: string, to: string, request: unknown, reply: unknown): void {
    if (typeof reply !== 'object' || reply === null) return;
    const { type, code, message } = reply as { type?: unknown; code?: unknown; message?: unknown };
    if (type === 'error' && code === 'BAD_MESSAGE') {
      this.anomaly(`${from} refused a message from ${to} as malformed (${String(message)}): ${fieldsText(request as object)}`);
    }
  }

  async execute(): Promise<CheckReport> {
    const { plan, scheduler } = this;
    this.trace.note(0, `seed ${plan.seed}: ${describePlan(plan)}`);
    this.cluster.startAll();
    this.scheduleFaults();
    this.operator.start();
    this.startClients();
    await scheduler.runUntil(plan.safetyMs);
    this.heal();
    await this.settle();
    // Former replicas drop their copies after they see the change settle (partitionDrop.ts).
    if (plan.membership.actions.length > 0) {
      await scheduler.runUntil(scheduler.nowMs + dropWaitMs(plan.settings.dropDelayMs, plan.settings.requestTimeoutMs) + 2 * (plan.settings.flushIntervalMs + plan.settings.groupCommitMs) + SETTLE_STEP_MS);
      await this.waitForDrops();
    }
    const finalState = this.membershipSnapshot().finalState;
    const settledCopies = this.primaryCopies(finalState);
    this.audit.checkRedundancy(this.history.records, (key) => (settledCopies.get(key) ?? []).map((copy) => copy.node));
    this.convergence = await this.converge();
    this.dead.checkCopies(this.convergence.copies, scheduler.nowMs);
    const reads = await this.finalReads();
    await scheduler.runUntil(scheduler.nowMs + 2 * (plan.settings.readRepairLingerMs + plan.settings.requestTimeoutMs));
    // A reaping round may be halfway (peers stepped, the initiator not yet): let it land.
    await this.waitForConvergence(this.membershipSnapshot().finalState, this.convergence.budgetMs);
    this.anomaliesChecked = this.anomalies.length;
    const membership = this.membershipSnapshot();
    return checkRun(this.history.records, {
      reads,
      primaries: this.primaryCopies(membership.finalState),
      hintsLeft: this.hintsLeft(),
      hintTargets: this.hintTargets(),
      persisted: this.persisted,
      durabilityPromised: (put) => disksPromised(plan.settings, put.quorum) > 0,
      removalExposed: this.audit.exposedByRemoval,
      persistedTombstones: this.persistedTombstones,
      convergence: this.convergence,
      membership,
      anomalies: this.anomalies.slice(),
      availability: {
        records: this.history.records,
        timeline: new ReachabilityTimeline({ partitions: plan.partitions, slowPeers: plan.slowPeers, life: this.cluster.lifeLog }),
        recoveryGraceMs: recoveryGraceMs(plan.settings, plan.faults.delayMaxMs),
        changes: this.operator.changeWindows(),
        changeSpreadMs: CHANGE_SPREAD_GOSSIP_ROUNDS * plan.settings.gossipIntervalMs,
        network: networkCondition(plan.faults, plan.settings),
        strict: this.strictAvailability,
      },
    });
  }

  /**
   * The members (not removed) of the node's ring as it sees it now; the founders for a node
   * without membership (a stand-in), undefined while it is down.
   */
  private entryMembers(node: string): readonly string[] | undefined {
    const target = this.cluster.node(node);
    if (target === undefined) return undefined;
    const ring = target.membership?.ring();
    if (ring === undefined) return this.cluster.founders;
    return ring.members.filter((member) => member.status !== 'removed').map((member) => member.id);
  }

  result(error: string | undefined, report: CheckReport | undefined): SeedResult {
    const records = this.history.records.filter((r) => r.client !== 'final');
    // Anomalies seen after the check (or when the run failed before it) still count.
    const late = this.anomalies.slice(report === undefined ? 0 : this.anomaliesChecked);
    this.dead.checkFinalReads(this.history.records);
    const listings = checkListings(this.lister?.listings ?? [], this.history.records);
    const violations = [...this.audit.violations, ...this.dead.violations, ...(report?.violations ?? []), ...late.map(anomalyViolation), ...listings.violations];
    return {
      seed: this.plan.seed,
      plan: this.plan,
      ok: error === undefined && violations.length === 0,
      violations,
      error,
      traceHash: this.trace.digest(),
      events: this.scheduler.executedEvents,
      virtualMs: this.scheduler.nowMs,
      ops: {
        total: records.length,
        ok: records.filter((r) => r.outcome === 'ok').length,
        failed: records.filter((r) => r.outcome === 'failed').length,
        timedOut: records.filter((r) => r.outcome === 'timeout').length,
      },
      ackedWrites: report?.ackedWrites ?? 0,
      bufferLosses: report?.bufferLosses.length ?? 0,
      removalLosses: report?.removalLosses.length ?? 0,
      appliedTwice: report?.appliedTwice.length ?? 0,
      crashes: this.cluster.crashes,
      changes: { ...this.operator.counts },
      forgedStates: this.forgeries,
      repairs: this.cluster.repairTotals(),
      convergedAfterMs: this.convergence?.waitedMs,
      convergenceBudgetMs: this.convergence?.budgetMs,
      availability: report?.availability ?? emptyCounts(),
      pauseDrops: this.cluster.pauseDrops(),
      listings: listings.counts,
    };
  }

  private scheduleFaults(): void {
    const { scheduler, network, cluster, plan } = this;
    for (const window of plan.partitions) {
      const links: [string, string][] = [];
      if (window.kind === 'split') {
        for (const a of window.sides[0]) for (const b of window.sides[1]) links.push([a, b], [b, a]);
      } else {
        for (const to of window.to) links.push([window.from, to]);
      }
      const text = links.map(([a, b]) => `${a}>${b}`).join(' ');
      scheduler.schedule(window.startMs, `partition ${window.kind} ${text}`, () => links.forEach(([a, b]) => network.block(a, b)));
      scheduler.schedule(window.endMs, `partition ends ${text}`, () => links.forEach(([a, b]) => network.unblock(a, b)));
    }
    for (const crash of plan.crashes) {
      scheduler.schedule(crash.atMs, `crash ${crash.node} for ${crash.downMs.toFixed(0)} ms`, () => cluster.crash(crash.node));
      scheduler.schedule(crash.atMs + crash.downMs, `restart ${crash.node}`, () => cluster.restart(crash.node));
    }
    for (const pause of plan.pauses) {
      scheduler.schedule(pause.startMs, `pause ${pause.node} for ${(pause.endMs - pause.startMs).toFixed(0)} ms`, () => cluster.pause(pause.node));
      scheduler.schedule(pause.endMs, `resume ${pause.node}`, () => cluster.resume(pause.node));
    }
    for (const slow of plan.slowPeers) {
      const range = { minMs: slow.delayMinMs, maxMs: slow.delayMaxMs };
      scheduler.schedule(slow.startMs, `slow ${slow.node}: +${range.minMs.toFixed(0)}-${range.maxMs.toFixed(0)} ms per message`, () => network.slowDown(slow.node, range));
      scheduler.schedule(slow.endMs, `slow ${slow.node} ends`, () => network.speedUp(slow.node, range));
    }
    for (const forgery of plan.forgeries) scheduler.schedule(forgery.atMs, 'forge a settled state', () => this.forgeSettled(forgery, FORGERY_TRIES));
  }

  /**
   * Nemesis: a serving node with a change in progress is handed, as a gossip message from a
   * peer would bring it, its own state with every transfer marked done. Nothing may be
   * dropped that the new replicas do not hold (partitionDrop.ts asks them first).
   */
  private forgeSettled(forgery: ForgedSettle, triesLeft: number): void {
    const { cluster, scheduler } = this;
    // A paused node reads no gossip: the forged state goes to a running one.
    for (const id of this.memberNodes().filter((node) => cluster.isServing(node) && !cluster.isPaused(node))) {
      const stored = cluster.disks(id).meta.get(MEMBERSHIP_RECORD);
      const state = stored === undefined ? undefined : decodeState(stored);
      const change = state?.change;
      if (state === undefined || change === undefined || isSettled(state) || change.kind !== forgery.kind || change.member !== forgery.member) continue;
      const forged = { ...state, change: { ...change, transfers: change.transfers.map((t) => ({ ...t, done: true })) } };
      this.forgeries++;
      this.trace.note(scheduler.nowMs, `forged: ${id} is told every transfer of ring version ${state.ringVersion} is done`);
      // From a member: a buggy or compromised node, not a stranger (whose state is not merged at all).
      const sender = state.members.find((member) => member.id !== id && member.status !== 'removed')?.id ?? id;
      void cluster.node(id)?.membership?.gossip({ type: 'gossip', state: encodeState(forged) }, sender).catch((error: unknown) => this.anomaly(`${id} failed on a forged state: ${describe(error)}`));
      return;
    }
    if (triesLeft > 1) scheduler.schedule(FORGERY_RETRY_MS, 'forge a settled state (again)', () => this.forgeSettled(forgery, triesLeft - 1));
  }

  private startClients(): void {
    const deps = {
      scheduler: this.scheduler,
      cluster: this.cluster,
      history: this.history,
      clusterName: CLUSTER_NAME,
      onPutAcknowledged: (record: OpRecord) => this.audit.putAcknowledged(record),
      targets: () => this.operator.clientTargets(),
    };
    for (let i = 1; i <= this.plan.clients; i++) {
      const client = new SimClient(`c${i}`, { ...deps, random: this.root.fork(`client c${i}`) }, this.plan.workload);
      this.clients.push(client);
      client.start(this.plan.safetyMs);
    }
    this.lister = new SimLister({
      scheduler: this.scheduler,
      cluster: this.cluster,
      random: this.root.fork('lister'),
      keys: this.plan.workload.keys,
      targets: () => this.operator.clientTargets(),
      stableNow: () => this.stableKeys(),
      deadlineMs: this.plan.workload.deadlineMs,
    });
    this.lister.start(this.plan.safetyMs);
  }

  /** The workload's keys live now on every one of their replicas (in any node's view), each of those serving. */
  private stableKeys(): Set<string> {
    const stable = new Set<string>();
    for (const key of this.plan.workload.keys) {
      const keyBytes = encodeUtf8(key);
      const live = [...this.replicasInAnyView(key)].every((id) => {
        const object = this.cluster.isServing(id) ? this.cluster.node(id)?.localVersions(keyBytes)?.object : undefined;
        return object !== undefined && !isDeletedObject(object);
      });
      if (live) stable.add(key);
    }
    return stable;
  }

  /** Healed: no partitions, drops, duplicates or slow peers, delays far below any timeout, no node paused. */
  private heal(): void {
    this.scheduler.schedule(0, 'heal: partitions end, calm network, every node up', () => {
      this.network.heal();
      this.network.setFaults(CALM_NETWORK);
      this.operator.heal();
      for (const id of this.cluster.downNodes()) this.cluster.restart(id);
      for (const id of this.cluster.ids) this.cluster.resume(id);
    });
  }

  /**
   * Runs until the cluster has settled (see the file comment), or LIVENESS_MS_MAX passed.
   * First lets every request sent before the heal run out its timeout: a late timeout can
   * still mark a peer down after the heal (until the next probe).
   */
  private async settle(): Promise<void> {
    const { scheduler, plan } = this;
    const endMs = scheduler.nowMs + LIVENESS_MS_MAX;
    await scheduler.runUntil(scheduler.nowMs + 2 * plan.settings.requestTimeoutMs + plan.workload.deadlineMs);
    while (this.scheduler.nowMs < endMs) {
      await this.scheduler.runUntil(this.scheduler.nowMs + SETTLE_STEP_MS);
      if (this.settled()) return;
    }
  }

  /**
   * Former replicas that still hand copies over before dropping them (a new replica lacked
   * one: a forged "settled" state) finish first; a drop still pending after the budget is
   * left to the checks.
   */
  private async waitForDrops(): Promise<void> {
    const endMs = this.scheduler.nowMs + LIVENESS_MS_MAX;
    const pending = (): boolean => this.liveNodes().some((id) => this.cluster.isServing(id) && this.cluster.node(id)?.dropsPending?.() === true);
    while (this.scheduler.nowMs < endMs && pending()) await this.scheduler.runUntil(this.scheduler.nowMs + SETTLE_STEP_MS);
    await this.scheduler.runUntil(this.scheduler.nowMs + 2 * (this.plan.settings.flushIntervalMs + this.plan.settings.groupCommitMs) + SETTLE_STEP_MS);
  }

  private settled(): boolean {
    if (this.history.records.some((record) => record.outcome === 'pending')) return false;
    if (this.operator.busy()) return false;
    for (const id of this.liveNodes()) {
      const node = this.cluster.node(id);
      if (node === undefined || node.localHints().total > 0) return false;
      if (node.peers().some((peer) => peer.status !== 'up')) return false;
    }
    const rings = this.memberNodes().map((id) => this.cluster.node(id)?.membership?.ring());
    if (rings.some((ring) => ring !== undefined && ring.plan !== null)) return false;
    const texts = new Set(rings.map((ring) => JSON.stringify(ring)));
    return texts.size <= 1;
  }

  /** Nodes that ran and were not crashed for good (leavers and spares that never joined included). */
  private liveNodes(): string[] {
    return this.cluster.ids.filter((id) => this.cluster.started(id) && !this.cluster.isRetired(id));
  }

  /**
   * Live nodes that are members as they see it: they hold the cluster's state (a spare
   * that never joined is alone) and are not removed in it (a leaver is, once it left). A
   * node without a membership service (a stand-in) is a member when it is a founder.
   */
  private memberNodes(): string[] {
    return this.liveNodes().filter((id) => {
      const node = this.cluster.node(id);
      const ring = node?.membership?.ring();
      if (ring === undefined) return node === undefined || this.cluster.founders.includes(id);
      return ring.members.length > 1 && ring.members.find((m) => m.id === id)?.status !== 'removed';
    });
  }

  /**
   * Lets time run, with no client call, until every key's replicas under the final ring hold
   * the same version, or the budget ran out; returns what they hold then.
   */
  private async converge(): Promise<Convergence> {
    const { scheduler, history } = this;
    const startMs = scheduler.nowMs;
    const callsBefore = history.records.length;
    const state = this.membershipSnapshot().finalState;
    const budgetMs = this.convergenceBudgetMs(state);
    const { converged, copies } = await this.waitForConvergence(state, budgetMs);
    return { waitedMs: scheduler.nowMs - startMs, budgetMs, converged, copies, clientCalls: history.records.length - callsBefore };
  }

  /** Runs until every key's replicas under `state`'s ring hold one version, or `budgetMs` passed. */
  private async waitForConvergence(state: ClusterState, budgetMs: number): Promise<{ converged: boolean; copies: Map<string, ReplicaCopy[]> }> {
    const { scheduler } = this;
    const endMs = scheduler.nowMs + budgetMs;
    for (;;) {
      const copies = this.primaryCopies(state);
      const converged = convergedCopies(copies);
      if (converged || scheduler.nowMs >= endMs) return { converged, copies };
      await scheduler.runUntil(Math.min(endMs, scheduler.nowMs + SETTLE_STEP_MS));
    }
  }

  /**
   * CONVERGENCE_CYCLES anti-entropy cycles of the busiest member: a cycle visits each
   * partition it replicates once, each visit followed by at most 1.5 times the interval (the
   * jittered pause) plus CYCLE_SLACK_PER_PARTITION_MS.
   */
  private convergenceBudgetMs(state: ClusterState): number {
    const ring = servingRing(state);
    const held = new Map<string, number>();
    for (let p = 0; p < ring.partitionCount; p++) for (const node of replicasOf(ring, p, state.replicas)) held.set(node, (held.get(node) ?? 0) + 1);
    const partitions = Math.max(1, ...held.values());
    return CONVERGENCE_CYCLES * partitions * (1.5 * this.plan.settings.antiEntropyIntervalMs + CYCLE_SLACK_PER_PARTITION_MS);
  }

  /** Reads every key at R = N through a random member; the last attempt is the one judged. */
  private async finalReads(): Promise<Map<string, OpRecord>> {
    const reads = new Map<string, OpRecord>();
    const random = this.root.fork('final reads');
    for (const key of this.plan.workload.keys) {
      for (let attempt = 0; attempt < FINAL_READ_ATTEMPTS; attempt++) {
        if (attempt > 0) await this.settle();
        const members = this.memberNodes();
        const record = await this.finalRead(key, random.pick(members.length > 0 ? members : this.cluster.founders));
        reads.set(key, record);
        if (record.outcome === 'ok') break;
      }
    }
    return reads;
  }

  private async finalRead(key: string, node: string): Promise<OpRecord> {
    const { scheduler, history, cluster, plan } = this;
    const { n, w } = plan.settings;
    const record = history.begin({ client: 'final', op: 'get', key, node, startMs: scheduler.nowMs, quorum: { n, r: n, w }, options: { r: n } });
    const keyBytes = encodeUtf8(key);
    scheduler.schedule(0, `final read ${key} @${node}`, () => {
      cluster.call(node, (target) => target.get(keyBytes, { r: n })).then(
        (result) => history.succeeded(record, scheduler.nowMs, result.object),
        (error: unknown) => history.failed(record, scheduler.nowMs, errorCode(error)),
      );
    });
    const done = await scheduler.runWhile(() => record.outcome === 'pending', scheduler.nowMs + plan.workload.deadlineMs);
    if (!done) history.timedOut(record, scheduler.nowMs);
    return record;
  }

  /** The key's replicas in the current and the target ring, as a live member other than `except` sees them. */
  private replicasNow(key: string, except: string): Set<string> {
    const member = this.memberNodes().find((id) => id !== except && this.cluster.isServing(id));
    const stored = member === undefined ? undefined : this.cluster.disks(member).meta.get(MEMBERSHIP_RECORD);
    if (stored === undefined) return new Set(this.cluster.ids);
    const state = decodeState(stored);
    const partition = partitionOfKey(encodeUtf8(key), state.ring.partitionCount);
    return new Set([...replicasOf(servingRing(state), partition, state.replicas), ...replicasOf(state.ring, partition, state.replicas)]);
  }

  /**
   * The key's replicas in the current and the target ring of every live node's view (its
   * persisted cluster state; the founders' initial state for nodes without one).
   */
  private replicasInAnyView(key: string): Set<string> {
    const cached = this.replicasCache.get(key);
    if (cached !== undefined && cached.metaWrites === this.metaWrites) return cached.replicas;
    const keyBytes = encodeUtf8(key);
    const replicas = new Set<string>();
    const add = (state: ClusterState): void => {
      const partition = partitionOfKey(keyBytes, state.ring.partitionCount);
      for (const id of [...replicasOf(servingRing(state), partition, state.replicas), ...replicasOf(state.ring, partition, state.replicas)]) replicas.add(id);
    };
    for (const id of this.liveNodes()) {
      const stored = this.cluster.disks(id).meta.get(MEMBERSHIP_RECORD);
      if (stored !== undefined) add(decodeState(stored));
    }
    if (replicas.size === 0) add(initialClusterState(configsOf(this.plan)[0] as NodeConfig));
    this.replicasCache.set(key, { metaWrites: this.metaWrites, replicas });
    return replicas;
  }

  /** Per key, what each of its replicas under the final ring holds. */
  private primaryCopies(state: ClusterState): Map<string, ReplicaCopy[]> {
    const ring = servingRing(state);
    const copies = new Map<string, ReplicaCopy[]>();
    for (const key of this.plan.workload.keys) {
      const keyBytes = encodeUtf8(key);
      const primaries = replicasOf(ring, partitionOfKey(keyBytes, ring.partitionCount), state.replicas);
      copies.set(
        key,
        primaries.map((node) => ({ node, object: this.cluster.node(node)?.localVersions(keyBytes)?.object })),
      );
    }
    return copies;
  }

  /**
   * The membership at the end: each live node's view of it, who the members are, and the
   * final cluster state (persisted by the first member; the founders' initial state for a
   * node without membership).
   */
  private membershipSnapshot(): MembershipSnapshot {
    const members = this.memberNodes();
    const views = new Map<string, string>();
    for (const id of this.liveNodes()) {
      const ring = this.cluster.node(id)?.membership?.ring();
      if (ring !== undefined) views.set(id, JSON.stringify(ring));
    }
    const first = members[0];
    const stored = first === undefined ? undefined : this.cluster.disks(first).meta.get(MEMBERSHIP_RECORD);
    const finalState = stored === undefined ? initialClusterState(configsOf(this.plan)[0] as NodeConfig) : decodeState(stored);
    const retired = this.cluster.ids.filter((id) => this.cluster.isRetired(id));
    return { members, views, finalState, retired, busy: this.operator.busy() ? this.operator.pendingActions() : [] };
  }

  private hintTargets(): Map<string, string> {
    const targets = new Map<string, string>();
    for (const id of this.liveNodes()) {
      const byTarget = this.cluster.node(id)?.localHints().byTarget;
      if (byTarget !== undefined) targets.set(id, Object.entries(byTarget).map(([target, count]) => `${count} for ${target}`).join(', '));
    }
    return targets;
  }

  private hintsLeft(): Map<string, number> {
    return new Map(this.liveNodes().map((id) => [id, this.cluster.node(id)?.localHints().total ?? 0]));
  }

  /** The durability log: every value and every tombstone some disk held (objects or hints). */
  private notePersisted(ops: readonly WriteOp[], engine: 'objects' | 'hints'): void {
    for (const op of ops) {
      if (op.kind !== 'put') continue;
      let siblings;
      try {
        siblings = decodeObject(op.value).siblings;
      } catch {
        continue; // not an object (the hint store's or a future record): nothing to log
      }
      for (const sibling of siblings) {
        if (!sibling.deleted) {
          this.persisted.add(valueIdOf(sibling.value, false));
          continue;
        }
        const key = engine === 'objects' ? decodeUtf8(op.key) : this.audit.keyOfHint(op.key);
        if (key !== undefined) this.persistedTombstones.add(`${key}|${formatDot(sibling.dot)}`);
      }
    }
  }
}

function anomalyViolation(text: string): Violation {
  return { kind: 'node-anomaly', key: undefined, valueIds: [], message: text, records: [] };
}

const configCache = new WeakMap<SwarmPlan, NodeConfig[]>();

/** One validated config per spare: alone (no `cluster`), with the founders as seeds. */
export function spareConfigsOf(plan: SwarmPlan): NodeConfig[] {
  return plan.membership.spares.map((id, i) =>
    nodeConfigFrom({
      id,
      clusterName: CLUSTER_NAME,
      seeds: plan.nodes.map((_, j) => `10.0.0.${j + 1}:7000`),
      listen: `10.0.1.${i + 1}:7000`,
      http: `10.0.1.${i + 1}:8080`,
      engine: 'memory',
      logLevel: 'silent',
      // Simulated addresses on a simulated network: no TLS to configure.
      insecure: true,
      ...plan.settings,
    }),
  );
}

/** One validated config per founder, every one listing the founders. */
export function configsOf(plan: SwarmPlan): NodeConfig[] {
  const cached = configCache.get(plan);
  if (cached !== undefined) return cached;
  const cluster = plan.nodes.map((id, i) => `${id}@10.0.0.${i + 1}:7000`);
  const configs = plan.nodes.map((id, i) =>
    nodeConfigFrom({
      id,
      clusterName: CLUSTER_NAME,
      cluster,
      listen: `10.0.0.${i + 1}:7000`,
      http: `10.0.0.${i + 1}:8080`,
      engine: 'memory',
      logLevel: 'silent',
      // Simulated addresses on a simulated network: no TLS to configure.
      insecure: true,
      ...plan.settings,
    }),
  );
  configCache.set(plan, configs);
  return configs;
}

function traceLogger(trace: Trace, scheduler: Scheduler, label: string): Logger {
  const line = (level: string) => (fields: object, message: string) => trace.log(scheduler.nowMs, `${label} ${level} ${message} ${fieldsText(fields)}`);
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

function fieldsText(fields: object): string {
  try {
    return JSON.stringify(fields, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value instanceof Uint8Array ? `<${value.length} bytes>` : value));
  } catch {
    return '{…}';
  }
}
