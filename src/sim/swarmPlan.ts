/**
 * Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012): instead of one fixed fault
 * mix, every seed draws its own cluster shape, quorum, buffer settings, network faults,
 * partition and crash schedule, clock skews and workload. Some seeds then hammer one
 * corner (a lossy network with W = 1, many crashes with a tiny buffer…) that an average
 * mix would rarely reach.
 *
 * The plan is a pure function of the seed (its own PRNG stream), so it can be printed and
 * a failing seed replays with exactly the same plan.
 */
import { Prng } from './prng.ts';
import type { ClockSkew } from './simClock.ts';
import type { NetworkFaults } from './simNetwork.ts';
import type { WorkloadOptions } from './clients.ts';

export type PartitionWindow =
  | { readonly kind: 'split'; readonly startMs: number; readonly endMs: number; readonly sides: readonly [readonly string[], readonly string[]] }
  | { readonly kind: 'one-way'; readonly startMs: number; readonly endMs: number; readonly from: string; readonly to: readonly string[] };

export interface CrashPlan {
  readonly node: string;
  readonly atMs: number;
  readonly downMs: number;
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
  readonly requestTimeoutMs: number;
  readonly forwardTimeoutMs: number;
  readonly readRepairLingerMs: number;
  readonly hintDeliveryIntervalMs: number;
  readonly probeIntervalMs: number;
}

export interface SwarmPlan {
  readonly seed: number;
  readonly nodes: readonly string[];
  readonly settings: NodeSettings;
  readonly faults: NetworkFaults;
  readonly skews: ReadonlyMap<string, ClockSkew>;
  readonly partitions: readonly PartitionWindow[];
  readonly crashes: readonly CrashPlan[];
  readonly clients: number;
  readonly workload: WorkloadOptions;
  /** Virtual time of the safety phase (faults on, clients running). */
  readonly safetyMs: number;
}

export const SAFETY_PHASE_MS = 3000;
/** Share of seeds with a power failure (every node crashes at once). */
export const POWER_FAILURE_RATE = 0.2;

export function planSwarm(seed: number): SwarmPlan {
  const random = Prng.fromSeed(seed).fork('plan');
  const nodeCount = random.intBetween(3, 6);
  const nodes = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
  const settings = planSettings(random);
  const safetyMs = SAFETY_PHASE_MS;
  return {
    seed,
    nodes,
    settings,
    faults: planFaults(random),
    skews: new Map(nodes.map((id) => [id, { offsetMs: random.between(-500, 500), driftPpm: random.between(-200, 200) }])),
    partitions: planPartitions(random, nodes, safetyMs),
    crashes: planCrashes(random, nodes, safetyMs),
    clients: random.intBetween(2, 5),
    workload: planWorkload(random, settings),
    safetyMs,
  };
}

function planSettings(random: Prng): NodeSettings {
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
  };
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

function planWorkload(random: Prng, settings: NodeSettings): WorkloadOptions {
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
    `buffer=${s.bufferObjectsMax}/${s.flushIntervalMs}ms timeout=${s.requestTimeoutMs}ms`,
    `delay=${f.delayMinMs.toFixed(1)}-${f.delayMaxMs.toFixed(1)}ms drop=${f.dropRate} dup=${f.duplicateRate}`,
    `partitions=${plan.partitions.length} crashes=${plan.crashes.length} clients=${plan.clients} keys=${plan.workload.keys.length}`,
  ].join(' ');
}
