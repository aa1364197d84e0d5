/**
 * One sim run per seed:
 *
 *   safety phase    the plan's faults are on (drops, duplicates, delays, partitions,
 *                   crash-restarts, clock skew) while the clients run, for plan.safetyMs
 *                   of virtual time.
 *   heal            partitions end, drops and duplicates stop, delays drop to a few ms,
 *                   every node is up again.
 *   liveness phase  time runs on (no clients) until every client call has ended, every
 *                   node sees every peer up and no node holds a hint, within
 *                   LIVENESS_MS_MAX; then one read of every key at R = N (read repair),
 *                   and time for the repairs to land.
 *   check           checker.ts judges the history and the final state.
 *
 * Everything a run does is decided by the seed; RealTimeGuard fails the run if anything
 * reads the real clock or real randomness while it runs.
 */
import { encodeUtf8 } from '../core/bytes.ts';
import { partitionOfKey } from '../core/hash.ts';
import { primaryNodes } from '../core/preflist.ts';
import { clusterViewOf } from '../node/cluster.ts';
import { nodeConfigFrom, type NodeConfig } from '../node/config.ts';
import { openNode } from '../node/openNode.ts';
import type { Logger } from '../ports/logger.ts';
import type { WriteOp } from '../ports/storage.ts';
import { decodeObject } from '../storage/objectCodec.ts';
import { checkRun, type CheckReport, type ReplicaCopy, type Violation } from './checker.ts';
import { SimClient, errorCode } from './clients.ts';
import { History, valueIdOf, type OpRecord } from './history.ts';
import { Prng } from './prng.ts';
import { ReplicaAudit, disksPromised } from './replicaAudit.ts';
import { RealTimeGuard, RealTimeUseError } from './realTime.ts';
import { Scheduler, SimRunError, Trace, describe, drainMicrotasks } from './scheduler.ts';
import { SimCluster, type OpenSimNode } from './simCluster.ts';
import { CALM_NETWORK, SimNetwork } from './simNetwork.ts';
import { describePlan, planSwarm, type SwarmPlan } from './swarmPlan.ts';

export const CLUSTER_NAME = 'sim';
/** Longest liveness phase: hint delivery backs off up to 60 s after repeated failures. */
export const LIVENESS_MS_MAX = 90_000;
/** Anomalies kept per run (the first ones tell the story). */
const ANOMALIES_KEPT_MAX = 20;
/** How often the liveness phase checks whether the cluster has settled. */
const SETTLE_STEP_MS = 50;
/** Attempts of each final read (a peer wrongly believed down fails a read at R = N until probed). */
const FINAL_READ_ATTEMPTS = 3;

export interface RunOptions {
  /** The node under test (default: the real openNode). */
  readonly openNode?: OpenSimNode;
  /** Receives the event trace, node logs and notes (the `--verbose` flag). */
  readonly print?: (line: string) => void;
  /** Changes the plan before the run (tests pin one fault, or turn faults off). */
  readonly adjustPlan?: (plan: SwarmPlan) => SwarmPlan;
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
  readonly appliedTwice: number;
  readonly crashes: number;
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
  readonly persisted = new Set<string>();
  readonly audit: ReplicaAudit;
  readonly anomalies: string[] = [];
  private anomaliesChecked = 0;
  private readonly root: Prng;

  constructor(
    readonly plan: SwarmPlan,
    options: RunOptions,
  ) {
    this.root = Prng.fromSeed(plan.seed);
    this.trace = new Trace(options.print);
    this.scheduler = new Scheduler(this.trace);
    this.network = new SimNetwork(this.scheduler, this.root.fork('network'), plan.faults);
    this.cluster = new SimCluster({
      scheduler: this.scheduler,
      network: this.network,
      random: this.root.fork('nodes'),
      configs: configsOf(plan),
      skews: plan.skews,
      openNode: options.openNode ?? openNode,
      loggerFor: options.print === undefined ? undefined : (label) => traceLogger(this.trace, this.scheduler, label),
      diskObserver: (node, engine) => ({
        beforeWrite: engine === 'hints' ? (ops) => this.audit.beforeHintWrite(node, ops) : undefined,
        afterWrite: (ops) => this.notePersisted(ops),
      }),
      onNodeError: (label, message, fields) => this.anomaly(`${label} logged an error: ${message} ${fieldsText(fields)}`),
    });
    this.network.onReply = (from, to, request, reply) => this.checkReply(from, to, request, reply);
    this.audit = new ReplicaAudit(this.cluster, plan.settings, plan.workload.keys);
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
    this.startClients();
    await scheduler.runUntil(plan.safetyMs);
    this.heal();
    await this.settle();
    const reads = await this.finalReads();
    await scheduler.runUntil(scheduler.nowMs + 2 * (plan.settings.readRepairLingerMs + plan.settings.requestTimeoutMs));
    this.anomaliesChecked = this.anomalies.length;
    return checkRun(this.history.records, {
      reads,
      primaries: this.primaryCopies(),
      hintsLeft: this.hintsLeft(),
      persisted: this.persisted,
      durabilityPromised: (put) => disksPromised(plan.settings, put.quorum) > 0,
      anomalies: this.anomalies.slice(),
    });
  }

  result(error: string | undefined, report: CheckReport | undefined): SeedResult {
    const records = this.history.records.filter((r) => r.client !== 'final');
    // Anomalies seen after the check (or when the run failed before it) still count.
    const late = this.anomalies.slice(report === undefined ? 0 : this.anomaliesChecked);
    const violations = [...this.audit.violations, ...(report?.violations ?? []), ...late.map(anomalyViolation)];
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
      appliedTwice: report?.appliedTwice.length ?? 0,
      crashes: this.cluster.crashes,
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
  }

  private startClients(): void {
    const deps = {
      scheduler: this.scheduler,
      cluster: this.cluster,
      history: this.history,
      clusterName: CLUSTER_NAME,
      onPutAcknowledged: (record: OpRecord) => this.audit.putAcknowledged(record),
    };
    for (let i = 1; i <= this.plan.clients; i++) {
      const client = new SimClient(`c${i}`, { ...deps, random: this.root.fork(`client c${i}`) }, this.plan.workload);
      this.clients.push(client);
      client.start(this.plan.safetyMs);
    }
  }

  /** Healed: no partitions, drops or duplicates, and delays far below any timeout. */
  private heal(): void {
    this.scheduler.schedule(0, 'heal: partitions end, calm network, every node up', () => {
      this.network.heal();
      this.network.setFaults(CALM_NETWORK);
      for (const id of this.cluster.downNodes()) this.cluster.restart(id);
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

  private settled(): boolean {
    if (this.history.records.some((record) => record.outcome === 'pending')) return false;
    for (const id of this.cluster.ids) {
      const node = this.cluster.node(id);
      if (node === undefined || node.localHints().total > 0) return false;
      if (node.peers().some((peer) => peer.status !== 'up')) return false;
    }
    return true;
  }

  /** Reads every key at R = N through a random node; the last attempt is the one judged. */
  private async finalReads(): Promise<Map<string, OpRecord>> {
    const reads = new Map<string, OpRecord>();
    const random = this.root.fork('final reads');
    for (const key of this.plan.workload.keys) {
      for (let attempt = 0; attempt < FINAL_READ_ATTEMPTS; attempt++) {
        if (attempt > 0) await this.settle();
        const record = await this.finalRead(key, random.pick(this.cluster.ids));
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

  private primaryCopies(): Map<string, ReplicaCopy[]> {
    const config = configsOf(this.plan)[0] as NodeConfig;
    const { ring, quorum } = clusterViewOf(config);
    const copies = new Map<string, ReplicaCopy[]>();
    for (const key of this.plan.workload.keys) {
      const keyBytes = encodeUtf8(key);
      const primaries = primaryNodes(ring, partitionOfKey(keyBytes, ring.partitionCount), quorum.n);
      copies.set(
        key,
        primaries.map((node) => ({ node, object: this.cluster.node(node)?.localVersions(keyBytes)?.object })),
      );
    }
    return copies;
  }

  private hintsLeft(): Map<string, number> {
    return new Map(this.cluster.ids.map((id) => [id, this.cluster.node(id)?.localHints().total ?? 0]));
  }

  /** The durability log: every value some disk held (objects or hints). */
  private notePersisted(ops: readonly WriteOp[]): void {
    for (const op of ops) {
      if (op.kind !== 'put') continue;
      let siblings;
      try {
        siblings = decodeObject(op.value).siblings;
      } catch {
        continue; // not an object (the hint store's or a future record): nothing to log
      }
      for (const sibling of siblings) if (!sibling.deleted) this.persisted.add(valueIdOf(sibling.value, false));
    }
  }
}

function anomalyViolation(text: string): Violation {
  return { kind: 'node-anomaly', key: undefined, valueIds: [], message: text, records: [] };
}

const configCache = new WeakMap<SwarmPlan, NodeConfig[]>();

/** One validated config per node, every one listing the whole cluster. */
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
