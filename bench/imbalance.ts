/**
 * Paper section 6.2: request-load imbalance across the nodes.
 *
 * A cluster of --nodes Shoal nodes; the client sends each request to the node that holds
 * the key first (its first primary, computed from the cluster's `GET /admin/ring` with the
 * project's own src/core hash and preference-list functions), so the load on a node is the
 * load of the keys it holds. An open loop at --rate (YCSB workload --workload) runs for
 * --windows windows of --window-s seconds, once with uniform and once with zipfian keys;
 * per window it counts the requests each node got and reports the fraction of nodes more
 * than 15% off the window's mean (the paper's figure 6), and the mean over the windows.
 *
 *   npm run bench:imbalance -- [--nodes 6] [--windows 10] [--window-s 5] [--rate 400] …   (--help)
 */
import { randomInt } from 'node:crypto';
import { parseFlags, usage, type FlagSpec } from './lib/args.ts';
import { publishResults } from './lib/html-report.ts';
import { firstPrimary, meanOutOfBalance, ringFromView, WindowCounter, OUT_OF_BALANCE_THRESHOLD, type RingView } from './lib/imbalance.ts';
import { launchShoalCluster, shoalHttpClusterTarget } from './lib/launch-targets.ts';
import { commandLine, machineFacts } from './lib/machine.ts';
import type { ImbalanceOutput, ImbalanceRun } from './lib/outputs.ts';
import { log, runMain } from './lib/report.ts';
import { imbalanceSections } from './lib/report-sections.ts';
import { loadRecords, parseWorkloads, recordKey, runWorkload } from './lib/ycsb.ts';
import { KEY_DISTRIBUTIONS, parseDistribution } from './lib/zipfian.ts';

const flagSpec = {
  numbers: {
    nodes: { default: 6, min: 2, integer: true, help: 'cluster members' },
    windows: { default: 10, min: 1, integer: true, help: 'measured windows per key distribution' },
    'window-s': { default: 5, min: 0.5, help: 'window length, seconds (the paper: 30 minutes)' },
    rate: { default: 400, min: 1, help: 'offered load, requests/s (open loop)' },
    concurrency: { default: 64, min: 1, integer: true, help: 'most requests in flight' },
    'warmup-s': { default: 3, min: 0, help: 'unmeasured warm-up before each distribution, seconds' },
    records: { default: 10_000, min: 1, integer: true, help: 'keys, all loaded first' },
    'value-bytes': { default: 100, min: 1, integer: true, help: 'value size, bytes' },
    'partition-count': { default: 64, min: 1, integer: true, help: 'Q, partitions of the ring (--partition-count)' },
    threshold: { default: OUT_OF_BALANCE_THRESHOLD, min: 0, help: 'out of balance: more than this fraction off the mean' },
    seed: { default: -1, integer: true, help: 'seed of every key and operation choice (-1: random, printed)' },
  },
  strings: {
    workload: { default: 'B', help: 'YCSB workload of the requests (A, B, C, F)' },
    distributions: { default: KEY_DISTRIBUTIONS.join(','), help: 'key distributions to run, in order' },
    'shoal-args': { default: '', help: 'extra `shoal start` flags for every node' },
    out: { help: 'also write the JSON results to this file' },
  },
} satisfies FlagSpec;

type Numbers = Record<keyof typeof flagSpec.numbers, number>;
type Strings = Record<keyof typeof flagSpec.strings, string | undefined>;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('npm run bench:imbalance --', flagSpec) + '\n');
    return;
  }
  const n = flags.numbers as Numbers;
  const s = flags.strings as Strings;
  const [workload] = parseWorkloads(s.workload ?? 'B');
  if (workload === undefined) throw new RangeError('--workload: one workload expected');
  const distributions = (s.distributions ?? '').split(',').map((d) => parseDistribution(d.trim()));
  const seed = n.seed >= 0 ? n.seed : randomInt(0, 2 ** 31 - 1);
  const started = Date.now();
  const machine = machineFacts();
  const command = commandLine();
  log(`command: ${command}`);
  log(`machine: ${machine.cpuCount} cpu, load ${machine.loadAvg1m}, cpu pressure ${machine.cpuPressureSome60s ?? 'n/a'}; seed=${seed}`);

  log(`starting ${n.nodes} nodes`);
  const shoalArgs = ['--partition-count', String(n['partition-count']), ...(s['shoal-args'] ?? '').split(/\s+/).filter((a) => a !== '')];
  const cluster = await launchShoalCluster(n.nodes, shoalArgs);
  const byDistribution: ImbalanceRun[] = [];
  let partitionsPerNode: Record<string, number> = {};
  try {
    const ringView = await (await fetch(`${cluster.httpUrls[0] as string}/admin/ring`)).json() as RingView;
    const ring = ringFromView(ringView);
    partitionsPerNode = Object.fromEntries(cluster.nodes.map((node) => [node.id, ring.owners.filter((o) => o === node.id).length]));
    const nodeIndex = new Map(cluster.nodes.map((node, i) => [node.id, i]));
    // One entry per record: the node each key is sent to.
    const targetNode = new Map<string, number>();
    for (let i = 0; i < n.records; i++) targetNode.set(recordKey(i), nodeIndex.get(firstPrimary(ring, recordKey(i), ringView.replicas)) ?? 0);
    const target = shoalHttpClusterTarget(cluster, 'last-seen', 'shoal-http', (key) => targetNode.get(key) ?? 0);
    log(`loading ${n.records} records`);
    const load = await loadRecords(target, n.records, 32, n['value-bytes'], seed);
    log(`loaded in ${load.elapsedS} s`);
    const perWindow = Math.round(n.rate * n['window-s']);
    for (const distribution of distributions) {
      const counter = new WindowCounter(cluster.nodes.length, n.windows, perWindow);
      log(`${distribution}: ${n.windows} windows of ${n['window-s']} s at ${n.rate}/s (${perWindow} requests per window)`);
      const run = await runWorkload(target, {
        workload, distribution, records: n.records, valueBytes: n['value-bytes'], seed,
        loop: { mode: 'open', ratePerS: n.rate, concurrency: n.concurrency },
        warmupS: n['warmup-s'], durationS: n.windows * n['window-s'],
        onProgress: (line) => log(`${distribution}: ${line}`),
        onOperation: (key, index) => {
          if (index !== undefined) counter.record(index, targetNode.get(key) ?? 0);
        },
      });
      cluster.assertRunning(`running the ${distribution} load`);
      const windows = counter.imbalances(n.threshold);
      const totals = counter.totals();
      const all = totals.reduce((sum, c) => sum + c, 0);
      const result: ImbalanceRun = {
        distribution,
        windows,
        meanOutOfBalanceFraction: meanOutOfBalance(windows),
        totalPerNode: Object.fromEntries(cluster.nodes.map((node, i) => [node.id, totals[i] ?? 0])),
        maxNodeShare: all === 0 ? 0 : Math.round((Math.max(...totals) / all) * 1e4) / 1e4,
        run,
      };
      log(`${distribution}: out of balance per window ${windows.map((w) => w.outOfBalanceFraction).join(' ')}; mean ${result.meanOutOfBalanceFraction}; busiest node ${result.maxNodeShare} of the requests`);
      byDistribution.push(result);
    }
  } finally {
    await cluster.stop();
  }
  const end = machineFacts();
  const warnings = byDistribution.flatMap((d) => [
    ...(d.run.errorCount > 0 ? [`${d.distribution}: ${d.run.errorCount} failed requests`] : []),
    ...(d.run.saturated === true ? [`${d.distribution}: the cluster did not keep up with ${n.rate}/s (the counts per window are still exact: they follow the schedule)`] : []),
  ]);
  const output: ImbalanceOutput = {
    benchmark: 'imbalance',
    question: 'Paper 6.2: with each request sent to a node holding its key, what fraction of the nodes is more than 15% off the mean request load, per time window, under uniform and zipfian keys?',
    command,
    machine,
    machineAtEnd: { loadAvg1m: end.loadAvg1m, cpuPressureSome60s: end.cpuPressureSome60s },
    startedAt: new Date(started).toISOString(),
    elapsedS: Math.round((Date.now() - started) / 100) / 10,
    seed,
    options: { nodes: n.nodes, windowS: n['window-s'], windows: n.windows, thresholdFraction: n.threshold, ratePerS: n.rate, records: n.records, workload: workload.name },
    partitionsPerNode,
    byDistribution,
    warnings,
  };
  for (const w of warnings) log(`WARNING: ${w}`);
  publishResults('imbalance', output, imbalanceSections(output), s.out, 'Shoal: request-load imbalance (paper 6.2)');
}

runMain(main);
