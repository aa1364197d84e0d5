/**
 * Paper section 6.4: client-driven vs server-driven coordination, in the layout of the
 * paper's Table 2 (99.9th percentile and average latency, reads and writes, per mode).
 *
 * One cluster of --nodes Shoal nodes (more than N = 3, so that a request sent to any node
 * often lands on a node outside the key's preference list, which forwards it: the extra
 * hop client-driven coordination saves). Both modes drive the same cluster at the same
 * time, each with half of the open-loop load (YCSB workload --workload at --rate / 2,
 * latency from the scheduled time), so the machine's noise hits both alike:
 *
 *   server-driven  Shoal's TypeScript client in server-driven mode: HTTP to the nodes in
 *                  turn (a write goes to the replica its context names, when the client
 *                  knows its address); the node coordinates, or forwards to a primary
 *   client-driven  the same client in client-driven mode: it routes by the ring and
 *                  coordinates reads itself, writes go to one replica in one hop
 *
 * The nodes' forwarded-request counters (shoal_forwards_total) are read before and after:
 * client-driven requests are never forwarded, so the difference is the server-driven hops.
 *
 *   npm run bench:coordination -- [--nodes 5] [--rate 200] [--duration-s 20] …   (--help)
 */
import { randomInt } from 'node:crypto';
import { parseFlags, usage, type FlagSpec } from './lib/args.ts';
import type { ShoalCluster } from './lib/cluster.ts';
import { publishResults } from './lib/html-report.ts';
import { launchShoalCluster } from './lib/launch-targets.ts';
import { commandLine, machineFacts } from './lib/machine.ts';
import { scrapeMetrics } from './lib/metrics.ts';
import type { CoordinationOutput } from './lib/outputs.ts';
import { log, ratio, runMain } from './lib/report.ts';
import { coordinationSections } from './lib/report-sections.ts';
import { shoalClientTarget, type BenchTarget, type ClientMode } from './lib/targets.ts';
import { loadRecords, parseWorkloads, runWorkload, type YcsbRunResult } from './lib/ycsb.ts';
import { parseDistribution } from './lib/zipfian.ts';

const flagSpec = {
  numbers: {
    nodes: { default: 5, min: 1, integer: true, help: 'cluster members (more than N = 3: some requests land outside the preference list)' },
    rate: { default: 200, min: 1, help: 'offered load, operations/s (open loop)' },
    concurrency: { default: 64, min: 1, integer: true, help: 'most requests in flight' },
    'duration-s': { default: 20, min: 1, help: 'measured seconds per mode' },
    'warmup-s': { default: 3, min: 0, help: 'unmeasured warm-up per mode, seconds' },
    records: { default: 10_000, min: 1, integer: true, help: 'keys, all loaded first' },
    'value-bytes': { default: 100, min: 1, integer: true, help: 'value size, bytes' },
    seed: { default: -1, integer: true, help: 'seed of every key and operation choice (-1: random, printed)' },
  },
  strings: {
    workload: { default: 'A', help: 'YCSB workload (A: 50% reads, 50% writes)' },
    distribution: { default: 'zipfian', help: 'key choice: uniform or zipfian' },
    out: { help: 'also write the JSON results to this file' },
  },
} satisfies FlagSpec;

type Numbers = Record<keyof typeof flagSpec.numbers, number>;

const MODES: readonly ClientMode[] = ['server-driven', 'client-driven'];

/** The mode's target on the shared cluster. */
async function modeTarget(mode: ClientMode, cluster: ShoalCluster): Promise<{ target: BenchTarget; implementation: string }> {
  const target = await shoalClientTarget(mode, cluster.httpUrls, {
    name: mode, description: `Shoal's TypeScript client, ${mode}`, processes: cluster.nodes, facts: {}, stop: async () => undefined,
  });
  return { target, implementation: 'src/client' };
}

async function forwardsTotal(cluster: ShoalCluster): Promise<number> {
  const scrapes = await Promise.all(cluster.httpUrls.map((url) => scrapeMetrics(url)));
  let total = 0;
  for (const samples of scrapes) for (const [key, value] of samples ?? []) if (key.startsWith('shoal_forwards_total')) total += value;
  return total;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('npm run bench:coordination --', flagSpec) + '\n');
    return;
  }
  const n = flags.numbers as Numbers;
  const [workload] = parseWorkloads(flags.strings.workload ?? 'A');
  if (workload === undefined) throw new RangeError('--workload: one workload expected');
  const distribution = parseDistribution(flags.strings.distribution ?? 'zipfian');
  const seed = n.seed >= 0 ? n.seed : randomInt(0, 2 ** 31 - 1);
  const started = Date.now();
  const machine = machineFacts();
  const command = commandLine();
  log(`command: ${command}`);
  log(`machine: ${machine.cpuCount} cpu, load ${machine.loadAvg1m}, cpu pressure ${machine.cpuPressureSome60s ?? 'n/a'}; seed=${seed}`);
  const cluster = await launchShoalCluster(n.nodes, []);
  const runs: YcsbRunResult[] = [];
  const table2: CoordinationOutput['table2'] = [];
  const forwards: Record<string, number> = {};
  const implementations: Record<string, string> = {};
  try {
    const chosen = await Promise.all(MODES.map((mode) => modeTarget(mode, cluster)));
    for (const [i, mode] of MODES.entries()) implementations[mode] = (chosen[i] as { implementation: string }).implementation;
    log(`loading ${n.records} records through ${MODES[0]}`);
    await loadRecords((chosen[0] as { target: BenchTarget }).target, n.records, 32, n['value-bytes'], seed);
    const before = await forwardsTotal(cluster);
    // Both modes at once, each at half the rate, on the same cluster: whatever the machine
    // does meanwhile (other work, a GC pause in this process) hits both alike.
    log(`both modes at once: workload ${workload.name}, ${distribution} keys, ${n.rate / 2}/s each, ${n['warmup-s']} s warm-up + ${n['duration-s']} s`);
    const results = await Promise.all(
      MODES.map((mode, i) =>
        runWorkload((chosen[i] as { target: BenchTarget }).target, {
          workload, distribution, records: n.records, valueBytes: n['value-bytes'], seed: seed + i,
          loop: { mode: 'open', ratePerS: n.rate / 2, concurrency: n.concurrency }, warmupS: n['warmup-s'], durationS: n['duration-s'],
          onProgress: (line) => log(`${mode}: ${line}`),
        }),
      ),
    );
    for (const { target } of chosen) await target.stop();
    cluster.assertRunning('running both modes');
    // Client-driven requests are never forwarded: every forward counted is a server-driven one.
    forwards['server-driven'] = (await forwardsTotal(cluster)) - before;
    for (const [i, mode] of MODES.entries()) {
      const run = results[i] as YcsbRunResult;
      runs.push({ ...run, target: mode });
      const read = run.operations.read?.latencyMs;
      const write = (run.operations.update ?? run.operations.rmw)?.latencyMs;
      table2.push({ mode, readP99_9Ms: read?.p99_9 ?? null, writeP99_9Ms: write?.p99_9 ?? null, readMeanMs: read?.mean ?? null, writeMeanMs: write?.mean ?? null });
      log(`${mode}: read p99.9 ${read?.p99_9} mean ${read?.mean}; write p99.9 ${write?.p99_9} mean ${write?.mean} ms`);
    }
    log(`forwards by nodes (server-driven requests sent to a node outside the key's preference list): ${forwards['server-driven']}`);
  } finally {
    await cluster.stop();
  }
  const [server, client] = table2;
  const both = server !== undefined && client !== undefined && server.skipped === undefined && client.skipped === undefined;
  const r = (a: number | null | undefined, b: number | null | undefined): number | null => (a === null || a === undefined || b === null || b === undefined ? null : ratio(a, b));
  const end = machineFacts();
  const warnings = [
    ...table2.flatMap((row) => (row.skipped === undefined ? [] : [`${row.mode} skipped: ${row.skipped.reason}`])),
    ...runs.flatMap((run) => [
      ...(run.errorCount > 0 ? [`${run.target}: ${run.errorCount} failed operations`] : []),
      ...(run.saturated === true ? [`${run.target}: the cluster did not keep up with ${n.rate}/s: latencies include queueing (lower --rate)`] : []),
    ]),
  ];
  const output: CoordinationOutput = {
    benchmark: 'coordination',
    question: 'Paper 6.4: does client-driven coordination (the client runs the coordinator and talks to the preference list directly) lower the 99.9th percentile and the mean of read and write latency compared to server-driven coordination?',
    command,
    machine,
    machineAtEnd: { loadAvg1m: end.loadAvg1m, cpuPressureSome60s: end.cpuPressureSome60s },
    startedAt: new Date(started).toISOString(),
    elapsedS: Math.round((Date.now() - started) / 100) / 10,
    seed,
    options: { nodes: n.nodes, ratePerS: n.rate, durationS: n['duration-s'], records: n.records, workload: workload.name, distribution },
    implementations,
    table2,
    ratiosClientOverServer: both
      ? { readP99_9: r(client.readP99_9Ms, server.readP99_9Ms), writeP99_9: r(client.writeP99_9Ms, server.writeP99_9Ms), readMean: r(client.readMeanMs, server.readMeanMs), writeMean: r(client.writeMeanMs, server.writeMeanMs) }
      : null,
    runs,
    forwards,
    warnings,
  };
  for (const w of warnings) log(`WARNING: ${w}`);
  publishResults('coordination', output, coordinationSections(output), flags.strings.out, 'Shoal: client-driven vs server-driven coordination (paper 6.4)');
}

runMain(main);
