/**
 * Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012): instead of one fixed fault
 * mix, every seed draws its own cluster shape, quorum, buffer settings, network faults,
 * partition and crash schedule, clock skews and workload. Some seeds then hammer one
 * corner (a lossy network with W = 1, many crashes with a tiny buffer…) that an average
 * mix would rarely reach.
 *
 * The plan is a pure function of the seed (its own PRNG stream), so it can be printed and
 * a failing seed replays with exactly the same plan.
 *
 * Membership changes (MEMBERSHIP_CHANGE_RATE of the seeds) are drawn from a stream of
 * their own, so adding them left every other part of older seeds' plans as it was: spares
 * start outside the cluster and join through a founder's address, members leave, and
 * members crash for good and are removed, during the safety phase and alongside the other
 * faults; some changes also crash one of their transfer senders (or the receiver) while
 * the transfers run. Who leaves or is removed is drawn here; whether the change is still
 * possible when its time comes (the node may be gone, the cluster too small, another
 * change pending) is the run's business (membershipDriver.ts).
 *
 * Anti-entropy runs in every seed, with settings drawn from a stream of their own too: the
 * pause between exchanges of partitions in sync (ANTI_ENTROPY_INTERVAL_MS), and in
 * TOMBSTONE_REAP_RATE of the seeds a tombstone grace period of a few seconds of virtual
 * time, so tombstones are reaped to markers while the run goes (the rest keep the node's
 * default of an hour: never reaped in a run). Markers are kept far longer than any run
 * (MARKER_RETENTION_MS), so a deleted value may never come back (checker.ts resurrected).
 * The same stream sets the share of deletes, so every seed deletes, and in the seeds that
 * reap it retires some keys partway through the safety phase (clients then only delete or
 * read them), so their tombstones age and are reaped while faults still run: the moment a
 * late hint or message could bring a deleted value back.
 *
 * Gray failures (nodes neither up nor down) are drawn from a stream of their own too
 * ('plan gray'), so older seeds keep every other part of their plans:
 * - more one-way partitions (GRAY_ONE_WAY_RATE of the seeds get one or two more, appended
 *   to the plan's partitions): a one-way window {from, to} blocks what `from` sends to
 *   each of `to` (simNetwork.ts), so `to` still reaches `from` but never hears back;
 * - paused nodes (PAUSE_RATE): a founder stopped as by SIGSTOP for PAUSE_MS of virtual
 *   time (pauseGate.ts: its timers and everything that reaches it wait; its clock runs on);
 * - slow peers (SLOW_PEER_RATE): for a window, every message a founder sends takes an extra
 *   SLOW_PEER_DELAY_SHARE of the request timeout, so it answers after most of the timeout.
 * Like the partitions, every gray window ends within the safety phase.
 */
import { CACHE_POLICIES, type CachePolicy } from '../core/cache/objectCache.ts';
import { Prng } from './prng.ts';
import type { ClockSkew } from './simClock.ts';
import type { NetworkFaults } from './simNetwork.ts';
import type { WorkloadOptions } from './clients.ts';
import type { PartitionWindow, PauseWindow, SlowPeerWindow } from './faultWindows.ts';

export type { PartitionWindow, PauseWindow, SlowPeerWindow } from './faultWindows.ts';

export interface CrashPlan {
  readonly node: string;
  readonly atMs: number;
  readonly downMs: number;
}

export type MembershipAction =
  | {
      readonly kind: 'join';
      readonly atMs: number;
      /** A spare: started (alone, empty) at startMs, then joined through a founder's address. */
      readonly node: string;
      readonly startMs: number;
      readonly crash: ChangeCrash | undefined;
    }
  | { readonly kind: 'leave'; readonly atMs: number; readonly node: string; readonly crash: ChangeCrash | undefined }
  | {
      readonly kind: 'remove';
      /** When the node crashes for good; the removal is asked for detectMs later. */
      readonly atMs: number;
      readonly node: string;
      readonly detectMs: number;
      /** remove --force (otherwise the planner's failure detector must see the node down). */
      readonly force: boolean;
      readonly crash: ChangeCrash | undefined;
    };

/** A crash while a change's transfers run: one of its senders, or its receiver, afterMs after it was applied. */
export interface ChangeCrash {
  readonly afterMs: number;
  readonly downMs: number;
  readonly target: 'sender' | 'receiver';
}

export interface ForgedSettle {
  readonly atMs: number;
  /** The change it forges the end of (the plan's last). */
  readonly kind: MembershipAction['kind'];
  readonly member: string;
}

export interface MembershipPlan {
  /** Nodes that start outside the cluster (each joins once, by a join action). */
  readonly spares: readonly string[];
  /** In time order. */
  readonly actions: readonly MembershipAction[];
}

/** Node settings the seed chooses (the rest are the node's defaults). */
export interface NodeSettings {
  readonly partitionCount: number;
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly durableWrites: 'one' | 'all';
  readonly bufferObjectsMax: number;
  readonly flushIntervalMs: number;
  readonly groupCommitMs: number;
  /** The read cache: off, tiny (evicting all the time, either policy) or roomy. */
  readonly cacheObjectsMax: number;
  readonly cacheBytesMax: number;
  readonly cachePolicy: CachePolicy;
  readonly requestTimeoutMs: number;
  readonly forwardTimeoutMs: number;
  readonly readRepairLingerMs: number;
  readonly hintDeliveryIntervalMs: number;
  readonly probeIntervalMs: number;
  readonly gossipIntervalMs: number;
  readonly dropDelayMs: number;
  readonly transferBatchObjectsMax: number;
  readonly transferPauseMs: number;
  readonly transferConcurrency: number;
  /** Pause between anti-entropy exchanges of partitions in sync (never 0 here: it runs in every seed). */
  readonly antiEntropyIntervalMs: number;
  readonly tombstoneGraceMs: number;
  readonly markerRetentionMs: number;
}

export interface SwarmPlan {
  readonly seed: number;
  /** The founders (the initial cluster). */
  readonly nodes: readonly string[];
  readonly settings: NodeSettings;
  readonly faults: NetworkFaults;
  readonly skews: ReadonlyMap<string, ClockSkew>;
  /** Split and one-way windows; those drawn as gray failures come last. */
  readonly partitions: readonly PartitionWindow[];
  readonly crashes: readonly CrashPlan[];
  /** How many of the partitions are gray failures' one-way windows (the last ones). */
  readonly grayOneWay: number;
  /** Gray failures: paused founders. */
  readonly pauses: readonly PauseWindow[];
  /** Gray failures: slow founders. */
  readonly slowPeers: readonly SlowPeerWindow[];
  readonly membership: MembershipPlan;
  /**
   * Nemesis: when a forged (or buggy) gossip state reaches a node, marking every transfer of
   * the change in progress done although none finished (issue 14). Each is tried at atMs,
   * then a little later again while no change is in progress, a few times.
   */
  readonly forgeries: readonly ForgedSettle[];
  readonly clients: number;
  readonly workload: WorkloadOptions;
  /** Virtual time of the safety phase (faults on, clients running). */
  readonly safetyMs: number;
}

export const SAFETY_PHASE_MS = 3000;
/** Share of seeds with a power failure (every node crashes at once). */
export const POWER_FAILURE_RATE = 0.2;
/** Share of seeds with membership changes. */
export const MEMBERSHIP_CHANGE_RATE = 0.45;
/** Share of the seeds with membership changes that also get forged "settled" states. */
export const FORGERY_RATE = 0.4;
/** Share of changes during whose transfers a node crashes. */
export const CHANGE_CRASH_RATE = 0.4;
/** The range of antiEntropyIntervalMs drawn per seed (virtual ms). */
export const ANTI_ENTROPY_INTERVAL_MS: readonly [number, number] = [100, 1000];
/** Share of seeds whose tombstones are reaped during the run (a grace of TOMBSTONE_GRACE_MS). */
export const TOMBSTONE_REAP_RATE = 0.75;
export const TOMBSTONE_GRACE_MS: readonly [number, number] = [500, 3000];
/** The grace of the other seeds: the node's default, longer than any run. */
export const TOMBSTONE_GRACE_LONG_MS = 3_600_000;
/** Longer than any run: a marker is never removed, so nothing deleted may come back. */
export const MARKER_RETENTION_MS = 86_400_000;
/** In seeds that reap, the share of keys (all but the first) retired: deleted and left deleted (clients.ts). */
export const RETIRE_RATE = 0.5;
/** The share of deletes among a client's operations (the rest of the workload is drawn as before). */
export const DELETE_SHARE: readonly [number, number] = [0.05, 0.2];
/** Share of seeds that get one or two more one-way partitions (gray failures). */
export const GRAY_ONE_WAY_RATE = 0.6;
/** Share of seeds with a paused founder (a quarter of them pause a second one). */
export const PAUSE_RATE = 0.35;
/** How long a pause lasts (virtual ms; cut at the end of the safety phase). */
export const PAUSE_MS: readonly [number, number] = [500, 3000];
/** Share of seeds with a slow founder. */
export const SLOW_PEER_RATE = 0.35;
/** How long a founder stays slow (virtual ms; cut at the end of the safety phase). */
export const SLOW_PEER_MS: readonly [number, number] = [300, 2000];
/** A slow peer's extra delay per message, as shares of the request timeout. */
export const SLOW_PEER_DELAY_SHARE: readonly [number, number] = [0.5, 0.9];

export function planSwarm(seed: number): SwarmPlan {
  const root = Prng.fromSeed(seed);
  const random = root.fork('plan');
  const changes = root.fork('plan membership');
  const repair = root.fork('plan anti-entropy');
  const nodeCount = random.intBetween(3, 6);
  const nodes = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
  const settings = { ...planSettings(random), ...planMembershipSettings(changes), ...planRepairSettings(repair) };
  const safetyMs = SAFETY_PHASE_MS;
  const faults = planFaults(random);
  const skews = new Map(nodes.map((id) => [id, { offsetMs: random.between(-500, 500), driftPpm: random.between(-200, 200) }]));
  const gray = planGray(root.fork('plan gray'), nodes, settings.requestTimeoutMs, safetyMs);
  const partitions = [...planPartitions(random, nodes, safetyMs), ...gray.oneWay];
  const crashes = planCrashes(random, nodes, safetyMs);
  const clients = random.intBetween(2, 5);
  const drawn = planWorkload(random, settings);
  const workload = {
    ...drawn,
    deleteShare: repair.between(DELETE_SHARE[0], DELETE_SHARE[1]),
    retireAtMs: settings.tombstoneGraceMs < TOMBSTONE_GRACE_LONG_MS ? planRetirements(repair, drawn.keys, safetyMs) : {},
  };
  const membership = planMembership(changes, nodes, settings.n, safetyMs);
  for (const spare of membership.spares) skews.set(spare, { offsetMs: changes.between(-500, 500), driftPpm: changes.between(-200, 200) });
  const forgeries = planForgeries(root.fork('plan forgeries'), membership, safetyMs);
  return { seed, nodes, settings, faults, skews, partitions, crashes, grayOneWay: gray.oneWay.length, pauses: gray.pauses, slowPeers: gray.slowPeers, membership, forgeries, clients, workload, safetyMs };
}

/**
 * The plan without its gray failures: as the simulator drew it before they came, so a seed
 * kept for what it once found (a regression seed) still runs exactly as it did then.
 */
export function withoutGrayFailures(plan: SwarmPlan): SwarmPlan {
  return { ...plan, partitions: plan.partitions.slice(0, plan.partitions.length - plan.grayOneWay), grayOneWay: 0, pauses: [], slowPeers: [] };
}

/** The gray failures (see the file comment), from their own stream. */
function planGray(random: Prng, nodes: readonly string[], requestTimeoutMs: number, safetyMs: number): { oneWay: PartitionWindow[]; pauses: PauseWindow[]; slowPeers: SlowPeerWindow[] } {
  const window = (durationMs: readonly [number, number]): { startMs: number; endMs: number } => {
    const startMs = random.between(0, safetyMs * 0.8);
    return { startMs, endMs: Math.min(safetyMs, startMs + random.between(durationMs[0], durationMs[1])) };
  };
  const oneWay: PartitionWindow[] = [];
  if (random.chance(GRAY_ONE_WAY_RATE)) {
    const count = random.chance(0.3) ? 2 : 1;
    for (let i = 0; i < count; i++) {
      const [from, ...rest] = random.shuffle(nodes) as [string, ...string[]];
      oneWay.push({ kind: 'one-way', ...window([50, 1500]), from, to: rest.slice(0, random.intBetween(1, rest.length)) });
    }
  }
  const pauses: PauseWindow[] = [];
  if (random.chance(PAUSE_RATE)) {
    const count = random.chance(0.25) ? 2 : 1;
    for (let i = 0; i < count; i++) pauses.push({ node: random.pick(nodes), ...window(PAUSE_MS) });
  }
  const slowPeers: SlowPeerWindow[] = [];
  if (random.chance(SLOW_PEER_RATE)) {
    const [low, high] = SLOW_PEER_DELAY_SHARE;
    slowPeers.push({ node: random.pick(nodes), ...window(SLOW_PEER_MS), delayMinMs: low * requestTimeoutMs, delayMaxMs: high * requestTimeoutMs });
  }
  return { oneWay, pauses, slowPeers };
}

type MembershipSettings = 'gossipIntervalMs' | 'dropDelayMs' | 'transferBatchObjectsMax' | 'transferPauseMs' | 'transferConcurrency';
type RepairSettings = 'antiEntropyIntervalMs' | 'tombstoneGraceMs' | 'markerRetentionMs';

function planSettings(random: Prng): Omit<NodeSettings, MembershipSettings | RepairSettings> {
  const requestTimeoutMs = random.intBetween(150, 600);
  return {
    partitionCount: random.pick([16, 32]),
    n: 3,
    r: random.intBetween(1, 3),
    w: random.intBetween(1, 3),
    durableWrites: random.chance(0.75) ? 'one' : 'all',
    bufferObjectsMax: random.pick([0, 4, 64]),
    flushIntervalMs: random.intBetween(10, 200),
    requestTimeoutMs,
    forwardTimeoutMs: Math.max(20, Math.round(requestTimeoutMs * random.between(0.3, 0.6))),
    readRepairLingerMs: random.intBetween(0, 100),
    hintDeliveryIntervalMs: random.intBetween(100, 400),
    probeIntervalMs: random.intBetween(100, 400),
    groupCommitMs: random.pick([0, 10, 50]),
    ...planCache(random),
  };
}

function planCache(random: Prng): Pick<NodeSettings, 'cacheObjectsMax' | 'cacheBytesMax' | 'cachePolicy'> {
  const cachePolicy = random.pick(CACHE_POLICIES);
  switch (random.pick(['off', 'tiny', 'tiny', 'roomy'] as const)) {
    case 'off':
      return { cacheObjectsMax: 0, cacheBytesMax: 0, cachePolicy };
    case 'tiny':
      return { cacheObjectsMax: random.intBetween(1, 4), cacheBytesMax: random.intBetween(300, 3000), cachePolicy };
    case 'roomy':
      return { cacheObjectsMax: 10_000, cacheBytesMax: 10_000_000, cachePolicy };
  }
}

function planFaults(random: Prng): NetworkFaults {
  const delayMinMs = random.between(0.1, 2);
  return {
    delayMinMs,
    delayMaxMs: delayMinMs + random.between(0.5, random.pick([3, 10, 40, 120])),
    dropRate: random.pick([0, 0, 0.01, 0.05, 0.15]),
    duplicateRate: random.pick([0, 0.02, 0.1]),
    refusedRate: random.next(),
  };
}

function planPartitions(random: Prng, nodes: readonly string[], safetyMs: number): PartitionWindow[] {
  const windows: PartitionWindow[] = [];
  const count = random.intBetween(0, 3);
  for (let i = 0; i < count; i++) {
    const startMs = random.between(0, safetyMs * 0.8);
    const endMs = Math.min(safetyMs, startMs + random.between(50, 1500));
    const shuffled = random.shuffle(nodes);
    if (random.chance(0.6)) {
      const cut = random.intBetween(1, nodes.length - 1);
      windows.push({ kind: 'split', startMs, endMs, sides: [shuffled.slice(0, cut), shuffled.slice(cut)] });
    } else {
      const [from, ...rest] = shuffled as [string, ...string[]];
      windows.push({ kind: 'one-way', startMs, endMs, from, to: rest.slice(0, random.intBetween(1, rest.length)) });
    }
  }
  return windows;
}

/**
 * Independent crashes of single nodes, and sometimes a power failure: every node at once,
 * each back after its own downtime. Only the correlated one loses every buffered copy of
 * a write, so only it shows whether acknowledged writes were really on a disk.
 */
function planCrashes(random: Prng, nodes: readonly string[], safetyMs: number): CrashPlan[] {
  const count = random.pick([0, 1, 1, 2, 3]);
  const crashes = Array.from({ length: count }, () => ({
    node: random.pick(nodes),
    atMs: random.between(0, safetyMs * 0.9),
    downMs: random.between(20, 1500),
  }));
  if (random.chance(POWER_FAILURE_RATE)) {
    const atMs = random.between(safetyMs * 0.2, safetyMs * 0.8);
    for (const node of nodes) crashes.push({ node, atMs, downMs: random.between(20, 400) });
  }
  return crashes;
}

function planRepairSettings(random: Prng): Pick<NodeSettings, RepairSettings> {
  return {
    // Log-uniform: as many seeds pace anti-entropy at 100-300 ms as at 300-1000 ms.
    antiEntropyIntervalMs: Math.round(logUniform(random, ANTI_ENTROPY_INTERVAL_MS)),
    tombstoneGraceMs: random.chance(TOMBSTONE_REAP_RATE) ? Math.round(logUniform(random, TOMBSTONE_GRACE_MS)) : TOMBSTONE_GRACE_LONG_MS,
    markerRetentionMs: MARKER_RETENTION_MS,
  };
}

function logUniform(random: Prng, [min, max]: readonly [number, number]): number {
  return min * (max / min) ** random.next();
}

/**
 * Keys retired (only deleted or read from then on: clients.ts) early enough in the safety
 * phase for their tombstones to be reaped while faults still run: some of them, never all.
 */
function planRetirements(random: Prng, keys: readonly string[], safetyMs: number): Record<string, number> {
  const retired: Record<string, number> = {};
  for (const key of keys.slice(1)) if (random.chance(RETIRE_RATE)) retired[key] = Math.round(random.between(0.1, 0.5) * safetyMs);
  const last = keys[keys.length - 1];
  if (Object.keys(retired).length === 0 && last !== undefined && keys.length > 1) retired[last] = Math.round(random.between(0.1, 0.5) * safetyMs);
  return retired;
}

function planMembershipSettings(random: Prng): Pick<NodeSettings, MembershipSettings> {
  return {
    gossipIntervalMs: random.intBetween(100, 500),
    // 0: a former replica drops its copies the moment it sees the change settle.
    dropDelayMs: random.pick([0, 50, 300, 1000]),
    // Small batches make a transfer of a few keys take several batches (and cursors).
    transferBatchObjectsMax: random.pick([1, 2, 512]),
    transferPauseMs: random.pick([0, 0, 10, 50]),
    transferConcurrency: random.intBetween(1, 2),
  };
}

/**
 * Joins, leaves and removes at random times of the safety phase. The plan tracks the
 * members it expects (every change applied) only to draw sensible changes; leaves that
 * would take the cluster below N are drawn now and then on purpose (the core refuses them).
 */
function planMembership(random: Prng, founders: readonly string[], n: number, safetyMs: number): MembershipPlan {
  if (!random.chance(MEMBERSHIP_CHANGE_RATE)) return { spares: [], actions: [] };
  const count = random.pick([1, 1, 2, 2, 3]);
  const members = [...founders];
  const spares: string[] = [];
  const actions: MembershipAction[] = [];
  let atMs = random.between(100, 900);
  for (let i = 0; i < count && atMs < safetyMs * 0.85; i++) {
    const crash = random.chance(CHANGE_CRASH_RATE)
      ? { afterMs: random.between(0, 60), downMs: random.between(50, 800), target: random.chance(0.7) ? ('sender' as const) : ('receiver' as const) }
      : undefined;
    const roomy = members.length > n;
    const kind = roomy ? random.pick(['join', 'leave', 'remove', 'remove'] as const) : random.chance(0.85) ? 'join' : 'leave';
    if (kind === 'join') {
      const node = `n${founders.length + spares.length + 1}`;
      spares.push(node);
      members.push(node);
      actions.push({ kind, atMs, node, startMs: random.between(0, atMs), crash });
    } else {
      const node = random.pick(members);
      if (roomy) members.splice(members.indexOf(node), 1);
      if (kind === 'leave') actions.push({ kind, atMs, node, crash });
      else actions.push({ kind, atMs, node, detectMs: random.between(50, 600), force: random.chance(0.5), crash });
    }
    atMs += random.between(250, 1000);
  }
  return { spares, actions };
}

/**
 * Forgeries aim at the plan's last change only: one forged during an earlier change lets the
 * operator go on to the next while a node that missed the forgery (down, or cut off) is still
 * at the older ring version; that node then plans the next change at the same version as the
 * forged-settled one, the two planners race, and the loser is undone (a removal undone with
 * its node dead for good leaves a change that never finishes): a liveness failure the forgery
 * causes, which authenticated gossip prevents (issue 14), not a loss of data.
 */
function planForgeries(random: Prng, membership: MembershipPlan, safetyMs: number): ForgedSettle[] {
  const last = membership.actions.at(-1);
  if (last === undefined || !random.chance(FORGERY_RATE)) return [];
  return Array.from({ length: random.intBetween(1, 2) }, () => ({ atMs: Math.min(last.atMs + random.between(0, 400), safetyMs * 0.9), kind: last.kind, member: last.node })).sort((a, b) => a.atMs - b.atMs);
}

function planWorkload(random: Prng, settings: Pick<NodeSettings, 'n' | 'r' | 'w' | 'requestTimeoutMs'>): WorkloadOptions {
  const keyCount = random.intBetween(2, 5);
  return {
    keys: Array.from({ length: keyCount }, (_, i) => `k${i}`),
    thinkMsMin: 0,
    thinkMsMax: random.between(10, 120),
    // Well past the node's own timeout (a forward adds one hop): the node, not the
    // client, should be the one to give up.
    deadlineMs: settings.requestTimeoutMs * 3,
    getShare: random.between(0.25, 0.5),
    deleteShare: random.between(0, 0.15),
    blindWriteRate: random.between(0, 0.3),
    quorumOverrideRate: random.pick([0, 0, 0.2]),
    quorum: { n: settings.n, r: settings.r, w: settings.w },
  };
}

/** The plan in one line, for the run's report. */
export function describePlan(plan: SwarmPlan): string {
  const s = plan.settings;
  const f = plan.faults;
  return [
    `S=${plan.nodes.length} Q=${s.partitionCount} N=${s.n} R=${s.r} W=${s.w} durable=${s.durableWrites}`,
    `buffer=${s.bufferObjectsMax}/${s.flushIntervalMs}ms group-commit=${s.groupCommitMs}ms cache=${s.cachePolicy}/${s.cacheObjectsMax}/${s.cacheBytesMax}B timeout=${s.requestTimeoutMs}ms`,
    `delay=${f.delayMinMs.toFixed(1)}-${f.delayMaxMs.toFixed(1)}ms drop=${f.dropRate} dup=${f.duplicateRate}`,
    `partitions=${plan.partitions.length} crashes=${plan.crashes.length} clients=${plan.clients} keys=${plan.workload.keys.length} deletes=${plan.workload.deleteShare.toFixed(2)}`,
    // Only seeds with gray failures say so: the line of every other seed reads as before.
    ...(plan.grayOneWay === 0 ? [] : [`gray-one-way=${plan.grayOneWay}`]),
    ...(plan.pauses.length === 0 ? [] : [`pauses=${plan.pauses.map((p) => `${p.node}@${describeWindow(p)}`).join(',')}`]),
    ...(plan.slowPeers.length === 0 ? [] : [`slow=${plan.slowPeers.map((p) => `${p.node}@${describeWindow(p)}+${p.delayMinMs.toFixed(0)}-${p.delayMaxMs.toFixed(0)}ms`).join(',')}`]),
    `ae=${s.antiEntropyIntervalMs}ms grace=${s.tombstoneGraceMs >= TOMBSTONE_GRACE_LONG_MS ? 'long' : `${s.tombstoneGraceMs}ms`}` + describeRetirements(plan.workload.retireAtMs ?? {}),
    ...(plan.membership.actions.length === 0 ? [] : [`gossip=${s.gossipIntervalMs}ms drop-delay=${s.dropDelayMs}ms batch=${s.transferBatchObjectsMax}/${s.transferPauseMs}ms`, `changes=${describeActions(plan.membership.actions)}`]),
    ...(plan.forgeries.length === 0 ? [] : [`forged-settled=${plan.forgeries.map((f) => `${(f.atMs / 1000).toFixed(2)}s`).join(',')}`]),
  ].join(' ');
}

function describeWindow(window: { readonly startMs: number; readonly endMs: number }): string {
  return `${(window.startMs / 1000).toFixed(2)}-${(window.endMs / 1000).toFixed(2)}s`;
}

function describeRetirements(retireAtMs: Readonly<Record<string, number>>): string {
  const entries = Object.entries(retireAtMs);
  return entries.length === 0 ? '' : ` retired=${entries.map(([key, atMs]) => `${key}@${(atMs / 1000).toFixed(2)}s`).join(',')}`;
}

function describeActions(actions: readonly MembershipAction[]): string {
  return actions
    .map((a) => {
      const crash = a.crash === undefined ? '' : `+crash-${a.crash.target}`;
      const force = a.kind === 'remove' && a.force ? '!' : '';
      return `${a.kind}${force}:${a.node}@${(a.atMs / 1000).toFixed(2)}s${crash}`;
    })
    .join(',');
}
