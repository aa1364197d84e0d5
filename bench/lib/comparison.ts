/**
 * A YCSB comparison of several systems side by side in one run (bench/ycsb.ts,
 * bench/vs-redis.ts, bench/vs-etcd.ts): flags, starting the targets, the runs, ratios,
 * warnings and the JSON + HTML output.
 */
import { randomInt } from 'node:crypto';
import { parseFlags, usage, type FlagSpec } from './args.ts';
import { publishResults } from './html-report.ts';
import { launchTargets, parseTargetNames } from './launch-targets.ts';
import { commandLine, machineFacts } from './machine.ts';
import { log } from './report.ts';
import { comparisonSections } from './report-sections.ts';
import type { ComparisonOutput } from './outputs.ts';
import type { BenchTarget } from './targets.ts';
import { describeLoop, parseWorkloads, runSideBySide, type LoopShape, type SideBySideResult } from './ycsb.ts';
import { parseDistribution, type KeyDistribution } from './zipfian.ts';

export interface ComparisonDefaults {
  targets: string;
  workloads: string;
  distribution: KeyDistribution;
  clients: number;
  records: number;
  durationS: number;
  warmupS: number;
  shoalNodes: number;
  shoalArgs: string;
}

export function comparisonFlagSpec(d: ComparisonDefaults) {
  return {
    numbers: {
      'duration-s': { default: d.durationS, min: 0.5, help: 'measured seconds per workload and target' },
      'warmup-s': { default: d.warmupS, min: 0, help: 'unmeasured warm-up before each, seconds' },
      clients: { default: d.clients, min: 1, integer: true, help: 'closed loop: concurrent clients, one connection each' },
      rate: { default: 0, min: 0, help: 'open loop at this many operations/s (0: closed loop)' },
      concurrency: { default: 64, min: 1, integer: true, help: 'open loop: most requests in flight (= connections)' },
      records: { default: d.records, min: 1, integer: true, help: 'records loaded before the runs (the key space)' },
      'value-bytes': { default: 100, min: 1, integer: true, help: 'value size, bytes' },
      'load-concurrency': { default: 32, min: 1, integer: true, help: 'requests in flight during the load phase' },
      'shoal-nodes': { default: d.shoalNodes, min: 1, integer: true, help: 'nodes of a shoal-http / shoal-client cluster' },
      'etcd-members': { default: 3, min: 1, integer: true, help: 'members of the etcd cluster' },
      'redis-benchmark-requests': { default: 20_000, min: 0, integer: true, help: 'vs-redis: redis-benchmark -n per test (0: skip it)' },
      seed: { default: -1, integer: true, help: 'seed of every key and operation choice (-1: random, printed)' },
    },
    strings: {
      targets: { default: d.targets, help: 'systems, the first compared with each other: shoal-http,shoal-resp,redis,etcd,shoal-client-server-driven,shoal-client-client-driven' },
      workloads: { default: d.workloads, help: 'YCSB core workloads among A,B,C,F' },
      distribution: { default: d.distribution, help: 'key choice: uniform or zipfian (scrambled, 0.99)' },
      'shoal-args': { default: d.shoalArgs, help: 'extra `shoal start` flags for every Shoal node (space-separated)' },
      out: { help: 'also write the JSON results to this file' },
    },
  } satisfies FlagSpec;
}

type Spec = ReturnType<typeof comparisonFlagSpec>;
export type ComparisonNumbers = Record<keyof Spec['numbers'], number>;
export type ComparisonStrings = Record<keyof Spec['strings'], string | undefined>;

export interface ComparisonPlan {
  benchmark: string;
  title: string;
  question: string;
  defaults: ComparisonDefaults;
  /** Runs with the targets still up, after the YCSB runs (e.g. redis-benchmark against each). */
  extra?: (targets: readonly BenchTarget[], n: ComparisonNumbers) => Promise<Record<string, unknown>>;
  /** Computes the goal from the finished output. */
  goal?: (output: ComparisonOutput) => ComparisonOutput['goal'];
}

/** Parses the flags, runs the comparison, publishes JSON + HTML. */
export async function runComparison(plan: ComparisonPlan, argv: readonly string[]): Promise<void> {
  const spec = comparisonFlagSpec(plan.defaults);
  const flags = parseFlags(argv, spec);
  if (flags.help) {
    process.stderr.write(usage(`npm run bench:${plan.benchmark} --`, spec) + '\n');
    return;
  }
  const n = flags.numbers as ComparisonNumbers;
  const s = flags.strings as ComparisonStrings;
  const seed = n.seed >= 0 ? n.seed : randomInt(0, 2 ** 31 - 1);
  const names = parseTargetNames(s.targets ?? plan.defaults.targets);
  const workloads = parseWorkloads(s.workloads ?? plan.defaults.workloads);
  const distribution = parseDistribution(s.distribution ?? plan.defaults.distribution);
  const shoalArgs = (s['shoal-args'] ?? '').split(/\s+/).filter((a) => a !== '');
  const loop: LoopShape = n.rate > 0 ? { mode: 'open', ratePerS: n.rate, concurrency: n.concurrency } : { mode: 'closed', clients: n.clients };
  const started = Date.now();
  const machine = machineFacts();
  const command = commandLine();
  log(`command: ${command}`);
  log(`machine: ${machine.cpuCount} cpu (${machine.cpuModel}), node ${machine.nodeVersion}, load ${machine.loadAvg1m}, cpu pressure ${machine.cpuPressureSome60s ?? 'n/a'}; seed=${seed}`);

  const { targets, skipped } = await launchTargets(names, { shoalNodes: n['shoal-nodes'], shoalArgs, etcdMembers: n['etcd-members'], contexts: 'last-seen' }, log);
  let sideBySide: SideBySideResult | null = null;
  let extra: Record<string, unknown> | undefined;
  try {
    if (targets.length > 0) {
      sideBySide = await runSideBySide(targets, {
        workloads, distribution, records: n.records, valueBytes: n['value-bytes'], seed, loop,
        warmupS: n['warmup-s'], durationS: n['duration-s'], loadConcurrency: n['load-concurrency'], log,
      });
      if (plan.extra !== undefined) extra = await plan.extra(targets, n);
    }
  } finally {
    await Promise.all(targets.map((t) => t.stop()));
  }
  const end = machineFacts();
  const output: ComparisonOutput = {
    benchmark: plan.benchmark,
    question: plan.question,
    command,
    machine,
    machineAtEnd: { loadAvg1m: end.loadAvg1m, cpuPressureSome60s: end.cpuPressureSome60s },
    startedAt: new Date(started).toISOString(),
    elapsedS: Math.round((Date.now() - started) / 100) / 10,
    seed,
    options: {
      targets: names, workloads: workloads.map((w) => w.name), distribution, loop, records: n.records, valueBytes: n['value-bytes'],
      warmupS: n['warmup-s'], durationS: n['duration-s'], shoalNodes: n['shoal-nodes'], shoalArgs, seed,
    },
    targets: Object.fromEntries(targets.map((t) => [t.name, { description: t.description, facts: t.facts }])),
    skipped,
    sideBySide,
    extra,
    warnings: [],
  };
  output.goal = plan.goal?.(output);
  output.warnings = comparisonWarnings(output);
  for (const w of output.warnings) log(`WARNING: ${w}`);
  log(`${describeLoop(loop)}; ratios: ${JSON.stringify(sideBySide?.ratios.map((r) => [r.workload, r.pair, r.throughput]) ?? [])}`);
  publishResults(plan.benchmark, output, comparisonSections(output), s.out, plan.title);
}

function comparisonWarnings(output: ComparisonOutput): string[] {
  const out: string[] = [];
  for (const [name, skip] of Object.entries(output.skipped)) out.push(`${name} skipped: ${skip.reason}${skip.install !== undefined ? ` (install: ${skip.install})` : ''}`);
  for (const run of output.sideBySide?.runs ?? []) {
    const at = `${run.target} ${run.workload}`;
    if (run.errorCount > 0) out.push(`${at}: ${run.errorCount} failed operations ${JSON.stringify(Object.fromEntries(Object.entries(run.operations).map(([op, s]) => [op, s.labels])))}`);
    if (run.saturated === true) out.push(`${at}: did not keep up with the offered rate (open loop): latencies include queueing`);
    if (run.cpu.clientCores >= 0.8) {
      out.push(`${at}: the load generator used ${run.cpu.clientCores} cores: the driver may cap the throughput (on a 2-core machine it competes with the servers)`);
    }
    if ((run.cpu.otherCores ?? 0) >= 0.5) {
      out.push(`${at}: other work on the machine took ${run.cpu.otherCores} cores during this run; a ratio against a run that did not share the machine alike is unreliable (rerun, or lengthen --duration-s)`);
    }
    if ((run.cpu.cpuPressureSome ?? 0) >= 0.3) out.push(`${at}: busy machine (some task waited for a CPU ${Math.round((run.cpu.cpuPressureSome ?? 0) * 100)}% of the time)`);
  }
  return out;
}
