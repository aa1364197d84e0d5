/**
 * What the dashboard costs a node: its CPU under a fixed request load with no viewer, and
 * with --viewers simultaneous viewers polling its dashboard JSON once a second (plain HTTP
 * clients, as many open pages would; the snapshot is computed at most twice a second and
 * shared, so the cost should hardly grow with the viewers).
 *
 * One node (or --nodes of them, the first one watched) takes an open-loop load of
 * --rate-per-s requests (half GETs, half PUTs) throughout. Slices of --slice-s seconds
 * alternate between no viewers and --viewers viewers (the order flips every round, so a
 * drift of the machine weighs on both alike); in each, the watched node's CPU is read from
 * /proc/<pid>/stat (utime + stime). Results: CPU ms per second for each, their difference
 * and ratio (medians over the rounds), and the difference round by round (each round's two
 * slices side by side, so a drift of the machine cancels out).
 *
 * stdout: one JSON object. stderr: progress and a table. Also saved under bench/results/.
 *
 *   npm run bench:dashboard -- [--viewers 50] [--rate-per-s 200] [--slice-s 10] [--rounds 5] …   (--help)
 */
import { parseFlags, usage, UsageError, type FlagSpec } from './lib/args.ts';
import { launchCluster } from './lib/cluster.ts';
import { DASHBOARD_JSON_PATH, mixedKvOperation, startViewers, type ViewerStats } from './lib/dashboard.ts';
import { getOnce, KvClient } from './lib/http-client.ts';
import { PhasedOpenLoop } from './lib/load.ts';
import { commandLine, cpuPressure, machineFacts } from './lib/machine.ts';
import type { ShoalNodeProcess } from './lib/node-process.ts';
import { formatTable, log, median, ratio, runMain, saveResults } from './lib/report.ts';
import { keyName, valuePool } from './lib/values.ts';

const flagSpec = {
  numbers: {
    nodes: { default: 1, min: 1, integer: true, help: 'nodes in the cluster (the first one is watched and viewed)' },
    viewers: { default: 50, min: 1, integer: true, help: 'simultaneous viewers polling the dashboard JSON' },
    'poll-ms': { default: 1000, min: 10, integer: true, help: 'how often each viewer asks, ms (the page asks every second)' },
    'rate-per-s': { default: 200, min: 1, help: 'request load throughout, requests per second (open loop)' },
    concurrency: { default: 32, min: 1, integer: true, help: 'most requests of the load in flight' },
    'slice-s': { default: 10, min: 1, help: 'measured seconds per slice' },
    'settle-s': { default: 2, min: 0, help: 'unmeasured seconds after viewers start or stop' },
    rounds: { default: 5, min: 1, integer: true, help: 'slices per configuration' },
    'warmup-s': { default: 5, min: 0, help: 'unmeasured lead-in with load and viewers, seconds' },
    keys: { default: 1000, min: 1, integer: true, help: 'keys written before and during the run' },
    'value-bytes': { default: 100, min: 0, integer: true, help: 'value size, bytes' },
  },
  strings: {
    out: { help: 'also write the JSON results to this file' },
  },
} satisfies FlagSpec;

type Numbers = Record<keyof typeof flagSpec.numbers, number>;

interface Slice {
  readonly viewers: number;
  readonly round: number;
  readonly seconds: number;
  /** The watched node's CPU, ms per second of the slice. */
  readonly cpuMsPerS: number;
  /** Every node's CPU, summed. */
  readonly clusterCpuMsPerS: number;
  /** Share of the slice in which some task waited for a CPU (Linux PSI). */
  readonly cpuPressure: number | null;
  readonly viewerStats: ViewerStats | null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function cpuMs(nodes: readonly ShoalNodeProcess[]): number[] {
  return nodes.map((node) => node.cpuSeconds() * 1000);
}

async function preload(url: string, keys: number, valueBytes: number): Promise<void> {
  const client = new KvClient(url, { maxSockets: 16 });
  const values = valuePool(valueBytes, 2);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys) {
      const i = next++;
      const result = await client.put(keyName('dash-', i), values[i % values.length] as Buffer);
      if (result.status !== 204) throw new Error(`preload PUT answered ${result.status} ${result.error ?? ''}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  client.close();
}

/** One measured slice with `viewers` viewers of the watched node (0: none). */
async function measureSlice(nodes: readonly ShoalNodeProcess[], n: Numbers, viewers: number, round: number): Promise<Slice> {
  const watched = nodes[0] as ShoalNodeProcess;
  const viewing = viewers === 0 ? undefined : startViewers(watched.httpUrl, viewers, n['poll-ms']);
  await sleep(n['settle-s'] * 1000);
  const pressureBefore = cpuPressure();
  const before = cpuMs(nodes);
  const startedMs = performance.now();
  await sleep(n['slice-s'] * 1000);
  const after = cpuMs(nodes);
  const seconds = (performance.now() - startedMs) / 1000;
  const pressureAfter = cpuPressure();
  const viewerStats = viewing === undefined ? null : await viewing.stop();
  const used = after.map((ms, i) => ms - (before[i] as number));
  return {
    viewers,
    round,
    seconds: Math.round(seconds * 100) / 100,
    cpuMsPerS: round1((used[0] as number) / seconds),
    clusterCpuMsPerS: round1(used.reduce((a, b) => a + b, 0) / seconds),
    cpuPressure: pressureBefore === undefined || pressureAfter === undefined ? null : round3((pressureAfter.totalUs - pressureBefore.totalUs) / 1e6 / seconds),
    viewerStats,
  };
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stdout.write(`${usage('npm run bench:dashboard --', flagSpec)}\n`);
    return;
  }
  const n = flags.numbers as Numbers;
  if (n.viewers > 1000) throw new UsageError('--viewers: at most 1000');
  const replicas = Math.min(3, n.nodes);
  const quorum = Math.floor(replicas / 2) + 1;
  log(`starting ${n.nodes} node(s)`);
  const cluster = await launchCluster({ size: n.nodes, n: replicas, r: quorum, w: quorum });
  try {
    if (n.nodes > 1) await cluster.waitPeersUp(replicas);
    const nodes = cluster.nodes;
    const watched = nodes[0] as ShoalNodeProcess;
    await preload(watched.httpUrl, n.keys, n['value-bytes']);
    const snapshot = await getOnce(`${watched.httpUrl}${DASHBOARD_JSON_PATH}`, 5000);
    if (snapshot.status !== 200) throw new Error(`${DASHBOARD_JSON_PATH} answered ${snapshot.status}`);
    const load = mixedKvOperation(cluster.httpUrls, n.keys, n['value-bytes'], n.concurrency);
    const loop = new PhasedOpenLoop({ ratePerS: n['rate-per-s'], concurrency: n.concurrency, op: load.op }, 'warm-up');
    const warmViewers = startViewers(watched.httpUrl, n.viewers, n['poll-ms']);
    await sleep(n['warmup-s'] * 1000);
    await warmViewers.stop();
    const slices: Slice[] = [];
    for (let round = 1; round <= n.rounds; round++) {
      const order = round % 2 === 1 ? [0, n.viewers] : [n.viewers, 0];
      for (const viewers of order) {
        loop.phase(`${viewers} viewers, round ${round}`);
        const slice = await measureSlice(nodes, n, viewers, round);
        slices.push(slice);
        log(`round ${round}, ${viewers} viewers: ${slice.cpuMsPerS} ms CPU/s on ${watched.id} (cluster ${slice.clusterCpuMsPerS}, pressure ${slice.cpuPressure ?? '?'})`);
      }
    }
    const phases = await loop.stop();
    load.close();
    const output = summarize(n, slices, phases, snapshot.body.length);
    const table = formatTable(
      ['viewers', 'node CPU ms/s (median)', 'cluster CPU ms/s', 'slices'],
      [0, n.viewers].map((viewers) => {
        const mine = slices.filter((s) => s.viewers === viewers);
        return [String(viewers), String(median(mine.map((s) => s.cpuMsPerS))), String(median(mine.map((s) => s.clusterCpuMsPerS))), mine.map((s) => s.cpuMsPerS).join(', ')];
      }),
    );
    log(`\n${table}\nextra CPU with ${n.viewers} viewers: ${output.result.extraCpuMsPerS} ms/s (${output.result.ratio}x); round by round ${output.result.pairedExtraCpuMsPerS.join(', ')} (median ${output.result.pairedExtraCpuMsPerSMedian})`);
    for (const path of saveResults('dashboard', output, flags.strings.out)) log(`saved ${path}`);
    process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
  } finally {
    await cluster.stop();
  }
}

function summarize(n: Numbers, slices: readonly Slice[], phases: Awaited<ReturnType<PhasedOpenLoop['stop']>>, snapshotBytes: number) {
  const idle = median(slices.filter((s) => s.viewers === 0).map((s) => s.cpuMsPerS));
  const viewed = median(slices.filter((s) => s.viewers > 0).map((s) => s.cpuMsPerS));
  const extra = round1(viewed - idle);
  // Each round's viewers slice against the same round's idle one: the machine's drift cancels out.
  const paired = Array.from({ length: n.rounds }, (_, i) => {
    const inRound = slices.filter((s) => s.round === i + 1);
    return round1((inRound.find((s) => s.viewers > 0)?.cpuMsPerS ?? 0) - (inRound.find((s) => s.viewers === 0)?.cpuMsPerS ?? 0));
  });
  return {
    benchmark: 'dashboard',
    command: commandLine(),
    machine: machineFacts(),
    settings: n,
    snapshotBytes,
    result: {
      viewers: n.viewers,
      nodeCpuMsPerSWithoutViewers: idle,
      nodeCpuMsPerSWithViewers: viewed,
      extraCpuMsPerS: extra,
      ratio: ratio(viewed, idle),
      extraCpuMsPerSPerViewer: Math.round((extra / n.viewers) * 1000) / 1000,
      /** The extra CPU round by round, and its median. */
      pairedExtraCpuMsPerS: paired,
      pairedExtraCpuMsPerSMedian: median(paired),
    },
    slices,
    load: phases.map(({ name, result }) => ({ phase: name, throughputPerS: Math.round(result.throughputPerS), errors: result.errorCount, p99Ms: result.latencyMs.p99, saturated: result.saturated })),
  };
}

runMain(main);
