/**
 * Anti-entropy benchmark (issue 5): two replicas of --keys keys (default 1,000,000 of 100
 * bytes) that differ in d keys (--d, default 10,100,10000). Per run: the time until both
 * replicas hold the same version of every one of the d keys (checked key by key on each
 * node, never assumed), the bytes the exchanges moved (repair.antiEntropy.bytes of both
 * nodes, in total, per differing key and as a fraction of the data set), keys repaired,
 * and the latency of an open-loop foreground load on other keys while the repair runs,
 * with the admission controller on and off side by side, under the default anti-entropy
 * pacing and a tuned one. A second, smaller data set (--small-keys) repeats the same d to
 * show that the bytes follow d, not the data set.
 *
 *   1. Base: lib/preload.ts writes every key straight into both members' LMDB stores (a
 *      2-node cluster, N = 2: each node holds every key), as one PUT per key stores it.
 *      The nodes are then started once: a preloaded store has no saved hash trees, so each
 *      node rebuilds its 64 partition trees from storage (timed here, separately), and a
 *      clean stop saves them, as it would in production. The base is never started again.
 *   2. Divergence, once per d: a copy of the base; n1 is started ALONE (n2 down) with
 *      `--hints-max 0` (no hint is kept for n2) and anti-entropy off, and d keys are updated
 *      through it (GET ?r=1 for the context, PUT ?w=1 of a fresh value), so n1 holds a new
 *      version that dominates n2's. The node's own write path keeps its trees current, and
 *      its clean stop saves them. n2's copy is untouched.
 *   3. Runs, per d, per pacing, admission on and off (alternating order): a copy of that
 *      divergence; both nodes started together (`--admission-control true|false`, plus
 *      `--anti-entropy-interval-ms` for the tuned pacing); once both serve, an open loop on
 *      the other keys starts (phase `repair`); every --poll-ms both nodes' /admin/status is
 *      read, and the not-yet-converged keys are compared on both nodes through
 *      `GET /admin/local/<key>` (the node's own stored versions; no read repair). Converged:
 *      every one of the d keys has the same vector and siblings on both nodes, and not the
 *      preloaded version. Then --after-s more seconds of the same load (phase `after`, the
 *      baseline without repair).
 *
 * Ports are chosen once and reused: a node keeps its cluster state (member addresses) in
 * its data dir, so every copy of a base must run on the base's addresses.
 *
 * stdout: one JSON object. stderr: progress and a table. Also saved under bench/results/.
 *
 *   npm run bench:repair -- [--keys 1000000] [--d 10,100,10000] [--small-keys 100000] …   (--help)
 */
import { randomInt } from 'node:crypto';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { keyBytes, partitionOfKey, PARTITION_COUNT_DEFAULT } from '../src/core/hash.ts';
import { TREES_RECORD } from '../src/node/antiEntropy/partitionTrees.ts';
import { LMDB_DIRECTORY } from '../src/io/runtime.ts';
import { Prng } from '../src/sim/prng.ts';
import { openLmdbEngine } from '../src/storage/lmdbEngine.ts';
import { parseFlags, usage, UsageError, type FlagSpec } from './lib/args.ts';
import { dirSize } from './lib/disk.ts';
import { freePorts } from './lib/free-port.ts';
import { latencyHistogram, summarize, type Histogram, type LatencySummaryMs } from './lib/hdr.ts';
import { KvClient, type KvResult } from './lib/http-client.ts';
import { PhasedOpenLoop, runFixedCount, type OpenLoopRequestResult, type OpenLoopResult, type OpOutcome } from './lib/load.ts';
import { commandLine, cpuShare, machineFacts, sampleCpu, type CpuShare } from './lib/machine.ts';
import { launchNode, makeTempDir, shellQuote, stopAllNodes, type LogSummary, type ShoalNodeProcess } from './lib/node-process.ts';
import { preloadStores, PRELOAD_ACTOR, type PreloadResult } from './lib/preload.ts';
import { formatTable, log, mib, saveResults } from './lib/report.ts';
import { keyName, valuePool } from './lib/values.ts';

const flagSpec = {
  numbers: {
    keys: { default: 1_000_000, min: 1, integer: true, help: 'keys in the data set (each node holds all of them)' },
    'small-keys': { default: 100_000, min: 0, integer: true, help: 'a second, smaller data set run with the same d (0: none)' },
    'value-bytes': { default: 100, min: 1, integer: true, help: 'value size, bytes' },
    'tuned-interval-ms': { default: 20, min: 1, integer: true, help: '--anti-entropy-interval-ms of the tuned pacing' },
    rate: { default: 100, min: 1, help: 'foreground offered load, requests per second (open loop)' },
    'read-fraction': { default: 0.5, min: 0, help: 'share of foreground requests that are reads (0..1)' },
    concurrency: { default: 64, min: 1, integer: true, help: 'max in-flight foreground requests' },
    'after-s': { default: 10, min: 1, help: 'measured window after convergence (baseline), seconds' },
    'timeout-s': { default: 300, min: 1, help: 'stop waiting for a run to converge after this long (reported as not converged, with the keys still pending), seconds' },
    'poll-ms': { default: 500, min: 50, integer: true, help: 'how often both nodes\' status is read and pending keys compared' },
    'partition-count': { default: PARTITION_COUNT_DEFAULT, min: 1, integer: true, help: 'Q (--partition-count of both nodes)' },
    'sample-keys': { default: 200, min: 0, integer: true, help: 'other keys compared on both nodes at the end of each run' },
    seed: { default: -1, integer: true, help: 'seed of values, the d keys and foreground choices (-1: random, printed)' },
  },
  strings: {
    d: { default: '10,100,10000', help: 'numbers of differing keys, comma-separated' },
    configs: { default: 'default/on,default/off,tuned/off/idle', help: 'pacing/admission pairs run per d: pacing default (the node defaults) or tuned (--anti-entropy-interval-ms <tuned-interval-ms>), admission on or off' },
    'small-configs': { default: 'tuned/off/idle', help: 'pacing/admission pairs of the smaller data set\'s runs' },
    'node-args': { help: 'extra `shoal start` flags for every run\'s nodes' },
    out: { help: 'also write the JSON results to this file' },
  },
} satisfies FlagSpec;

type Numbers = Record<keyof typeof flagSpec.numbers, number>;
type Pacing = 'default' | 'tuned';
type Admission = 'on' | 'off';

const IDS = ['n1', 'n2'] as const;
const N = 2;
const CONTENT_TYPE = 'application/octet-stream';

interface Ports {
  host: string;
  listen: [number, number];
  http: [number, number];
}

/** `repair` of a node's /admin/status. */
interface RepairStatus {
  antiEntropy: {
    enabled: boolean;
    exchanges: number;
    inSync: number;
    failed: number;
    segmentsCompared: number;
    keysRepaired: number;
    bytes: number;
    tombstonesReaped: number;
    markersRemoved: number;
    trees: { trusted: number; rebuilds: number; rebuildFailures: number; lastRebuildError?: string };
  };
  admission: { enabled: boolean; share: number; foregroundP99Ms: number; foregroundRequests: number; throttles: number };
}

interface StatusBody {
  repair?: RepairStatus;
  hints?: { total?: number };
}

interface KindRecorder {
  requests: number;
  labels: Record<string, number>;
  latency: Histogram;
}

interface DataSet {
  keys: number;
  root: string;
  base: string;
  preload: PreloadResult;
  /** One replica of the data: keys plus encoded objects, as stored (preload's count for n1). */
  dataSetBytes: number;
  lmdbBytesPerNode: number;
  rebuild: RebuildResult;
}

interface RebuildResult {
  /** Seconds from spawning the nodes until each had a trusted tree for every partition. */
  fromSpawnS: Record<string, number>;
  /** The same, from the moment both nodes served /admin/status. */
  afterServingS: Record<string, number>;
  startupS: number;
  rebuilds: Record<string, number>;
  rebuildFailures: Record<string, number>;
  nodeCpuS: Record<string, number>;
  savedTrees: Record<string, number>;
  stopped: Record<string, string>;
}

interface DivergenceResult {
  d: number;
  elapsedS: number;
  writesPerS: number;
  errors: Record<string, number>;
  savedTrees: number;
}

interface StatusSample {
  tS: number;
  nodes: Record<string, {
    exchanges: number; inSync: number; failed: number; segmentsCompared: number; keysRepaired: number; bytes: number;
    treesTrusted: number; rebuilds: number; share: number; foregroundP99Ms: number; throttles: number;
  } | null>;
  pendingKeys: number;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('npm run bench:repair --', flagSpec) + '\n');
    return;
  }
  const n = flags.numbers as Numbers;
  if (n['read-fraction'] > 1) throw new UsageError('--read-fraction: expected a number between 0 and 1');
  const ds = listOf(flags.strings.d ?? '', '--d').map((x) => {
    const d = Number(x);
    if (!Number.isInteger(d) || d < 1) throw new UsageError(`--d: expected positive integers, got ${x}`);
    return d;
  });
  const configs = configsOf(flags.strings.configs ?? '', '--configs');
  const smallConfigs = configsOf(flags.strings['small-configs'] ?? '', '--small-configs');
  for (const d of ds) {
    if (d > n.keys / 2) throw new UsageError(`--d ${d}: at most half of --keys (${n.keys}), the rest carry the foreground load`);
    if (n['small-keys'] > 0 && d > n['small-keys'] / 2) throw new UsageError(`--d ${d}: at most half of --small-keys (${n['small-keys']}); pass --small-keys 0 to skip the smaller data set`);
  }
  const nodeArgs = (flags.strings['node-args'] ?? '').split(/\s+/).filter((a) => a !== '');
  const seed = n.seed >= 0 ? n.seed : randomInt(0, 2 ** 31 - 1);
  const started = Date.now();
  const machine = machineFacts();
  const command = commandLine();
  const npmCommand = process.env.npm_lifecycle_event === 'bench:repair'
    ? `npm run bench:repair${process.argv.length > 2 ? ' -- ' + shellQuote(process.argv.slice(2)) : ''}`
    : undefined;
  log(`command: ${npmCommand ?? command}`);
  log(`machine: ${machine.cpuCount} cpu (${machine.cpuModel}), node ${machine.nodeVersion}, load ${machine.loadAvg1m}, cpu pressure ${machine.cpuPressureSome60s ?? 'n/a'}; seed=${seed}`);

  const host = '127.0.0.1';
  const p = await freePorts(4, host);
  const ports: Ports = { host, listen: [p[0] as number, p[1] as number], http: [p[2] as number, p[3] as number] };
  const values = valuePool(n['value-bytes'], seed);
  const root = makeTempDir('shoal-bench-repair-');
  const ctx: RunContext = { n, ports, nodeArgs, seed, root, values };

  const datasets: DataSet[] = [];
  const divergences: (DivergenceResult & { keys: number })[] = [];
  const runs: RunResult[] = [];
  const plan: { keys: number; configs: RunConfig[] }[] = [{ keys: n.keys, configs }];
  if (n['small-keys'] > 0) plan.push({ keys: n['small-keys'], configs: smallConfigs });
  const totalRuns = plan.reduce((sum, x) => sum + ds.length * x.configs.length, 0);
  try {
    for (const { keys, configs: cs } of plan) {
      const dataset = await prepareDataSet(ctx, keys);
      datasets.push(dataset);
      for (const d of ds) {
        const div = join(root, `div-${keys}-${d}`);
        const divergence = await diverge(ctx, dataset, d, div);
        divergences.push({ keys, ...divergence });
        // The configurations alternate in order from one d to the next, so machine noise does not always favour one.
        const order = ds.indexOf(d) % 2 === 0 ? cs : [...cs].reverse();
        for (const config of order) {
          log(`run ${runs.length + 1}/${totalRuns}: keys=${keys} d=${d} pacing=${config.pacing} admission=${config.admission}${config.idle ? ' idle (no foreground)' : ''}`);
          const run = await runRepair(ctx, dataset, d, div, config);
          runs.push(run);
          log(`run done: ${JSON.stringify(summaryRow(run))}`);
        }
        rmSync(div, { recursive: true, force: true });
      }
      rmSync(dataset.base, { recursive: true, force: true });
    }
  } finally {
    await stopAllNodes();
  }

  const end = machineFacts();
  const summaryRows = runs.map(summaryRow);
  const output = {
    benchmark: 'repair',
    question: 'Two replicas of --keys keys that differ in d keys: time until anti-entropy makes them converge, bytes exchanged (total, per differing key, ' +
      'as a fraction of the data set), keys repaired, and the foreground p50/p99/p99.9 during repair with admission control on and off; ' +
      'the bytes must grow with d, not with the data set',
    command: npmCommand ?? command,
    nodeCommand: command,
    startedAt: new Date(started).toISOString(),
    elapsedS: Math.round((Date.now() - started) / 100) / 10,
    machine,
    machineAtEnd: { loadAvg1m: end.loadAvg1m, cpuPressureSome60s: end.cpuPressureSome60s },
    summary: {
      runs: summaryRows,
      bytesPerDifferingKey: bytesPerKeyTable(runs),
      rebuild: Object.fromEntries(datasets.map((x) => [String(x.keys), { fromSpawnS: x.rebuild.fromSpawnS, afterServingS: x.rebuild.afterServingS }])),
    },
    options: {
      nodes: 2, n: N, r: 'default (2)', w: 'default (2)', partitionCount: n['partition-count'],
      valueBytes: n['value-bytes'],
      d: ds,
      configs: flags.strings.configs,
      smallKeys: n['small-keys'],
      smallConfigs: flags.strings['small-configs'],
      pacing: {
        default: 'the node defaults (--anti-entropy-interval-ms 1000)',
        tuned: `--anti-entropy-interval-ms ${n['tuned-interval-ms']}`,
      },
      admission: { on: '--admission-control true (default: p99 target 50 ms, window 60 s)', off: '--admission-control false' },
      nodeArgs,
      foreground: {
        loop: 'open: request i scheduled at start + i/rate; latency from the scheduled time (no coordinated omission)',
        ratePerS: n.rate, concurrency: n.concurrency, readFraction: n['read-fraction'],
        keyChoice: 'uniform over the data set\'s keys except the d differing ones',
        routing: 'round robin over n1, n2',
        writes: 'a fresh value carrying the X-Shoal-Context of the last answer seen for that key (none the first time)',
        ok: 'reads 200 or 300, writes 204; anything else is an error',
        phases: `repair (from when both nodes serve until the d keys are verified converged), after (${n['after-s']} s more, the baseline)`,
      },
      convergence: 'every d key has, on both nodes (GET /admin/local/<key>: the node\'s stored object, no read repair), the same vector and siblings, none of them the preloaded version',
      seed,
    },
    datasets: datasets.map((x) => ({
      keys: x.keys,
      preload: { elapsedS: x.preload.elapsedS, keysPerS: x.preload.keysPerS, objectsPerNode: x.preload.objects, bytesPerNode: x.preload.bytes, encodedObjectBytes: x.preload.encodedObjectBytes },
      dataSetBytes: x.dataSetBytes,
      lmdbMiBPerNode: mib(x.lmdbBytesPerNode),
      treeRebuild: x.rebuild,
    })),
    divergences,
    runs,
    warnings: [] as string[],
  };
  output.warnings = warnings(runs);
  process.stderr.write('\n' + humanTable(runs, datasets) + '\n');
  for (const w of output.warnings) log(`WARNING: ${w}`);
  log(`total ${output.elapsedS} s`);
  const paths = saveResults('repair', output, flags.strings.out);
  log(`results: ${paths.join(', ')}`);
  process.stdout.write(JSON.stringify(output, null, 2) + '\n');
}

interface RunContext {
  n: Numbers;
  ports: Ports;
  nodeArgs: string[];
  seed: number;
  root: string;
  values: Buffer[];
}

// --- the data set and its tree rebuild ---------------------------------------------------------

async function prepareDataSet(ctx: RunContext, keys: number): Promise<DataSet> {
  const { n } = ctx;
  const base = join(ctx.root, `base-${keys}`);
  log(`data set ${keys} keys: writing both stores directly`);
  const preload = await preloadStores({
    members: IDS.map((id) => ({ id, dataDir: join(base, id) })),
    keys, key: (i) => keyName('k', i), value: (i) => ctx.values[i % ctx.values.length] as Buffer, contentType: CONTENT_TYPE,
    n: N, partitionCount: n['partition-count'], onProgress: (line) => log(`preload: ${line}`),
  });
  log(`preload: ${keys} keys on both nodes in ${preload.elapsedS} s`);

  // First start: no saved trees, so each node rebuilds every partition's tree from storage.
  log('first start on the preloaded stores: timing the hash-tree rebuild');
  const t0 = performance.now();
  const nodes = await startNodes(ctx, base, [...IDS], ['--admission-control', 'true']);
  const servingAt = performance.now();
  const fromSpawnS: Record<string, number> = {};
  const afterServingS: Record<string, number> = {};
  let last: (StatusBody | undefined)[] = [];
  const deadline = performance.now() + n['timeout-s'] * 1000;
  while (Object.keys(fromSpawnS).length < nodes.length) {
    for (const node of nodes) node.assertRunning('rebuilding its trees');
    last = await Promise.all(nodes.map((node) => status(node)));
    const now = performance.now();
    last.forEach((s, i) => {
      const id = (nodes[i] as ShoalNodeProcess).id;
      if (fromSpawnS[id] === undefined && (s?.repair?.antiEntropy.trees.trusted ?? 0) >= n['partition-count']) {
        fromSpawnS[id] = round2((now - t0) / 1000);
        afterServingS[id] = round2((now - servingAt) / 1000);
      }
    });
    if (now > deadline) throw new Error(`trees not rebuilt after ${n['timeout-s']} s: ${JSON.stringify(last.map((s) => s?.repair?.antiEntropy.trees))}`);
    await sleep(100);
  }
  const nodeCpuS = Object.fromEntries(nodes.map((node) => [node.id, round2(node.cpuSeconds())]));
  log(`trees rebuilt: ${JSON.stringify(fromSpawnS)} s after spawn (${JSON.stringify(afterServingS)} after serving)`);
  const sample = await compareSample(nodes, keys, new Set(), ctx.seed ^ 0x7f4a7c15, 100, (i) => ctx.values[i % ctx.values.length] as Buffer);
  if (sample.mismatches.length > 0) throw new Error(`preloaded keys read back wrong: ${JSON.stringify(sample.mismatches.slice(0, 5))}`);
  const stopped = await stopNodes(nodes);
  const savedTrees = Object.fromEntries(await Promise.all(IDS.map(async (id) => [id, await savedTreeCount(join(base, id))] as const)));
  if (Object.values(savedTrees).some((c) => c < n['partition-count'])) throw new Error(`the clean stop did not save every tree: ${JSON.stringify(savedTrees)} (${JSON.stringify(stopped)})`);
  const repair = (i: number): RepairStatus['antiEntropy'] | undefined => last[i]?.repair?.antiEntropy;
  return {
    keys, root: ctx.root, base, preload,
    dataSetBytes: preload.bytes.n1 ?? 0,
    lmdbBytesPerNode: dirSize(join(base, 'n1')).apparentBytes,
    rebuild: {
      fromSpawnS, afterServingS,
      startupS: round2((servingAt - t0) / 1000),
      rebuilds: Object.fromEntries(IDS.map((id, i) => [id, repair(i)?.trees.rebuilds ?? 0])),
      rebuildFailures: Object.fromEntries(IDS.map((id, i) => [id, repair(i)?.trees.rebuildFailures ?? 0])),
      nodeCpuS,
      savedTrees,
      stopped,
    },
  };
}

/** Copies the base, then updates d keys through n1 alone (n2 down, no hints), so n1 holds newer versions. */
async function diverge(ctx: RunContext, dataset: DataSet, d: number, dir: string): Promise<DivergenceResult> {
  cpSync(dataset.base, dir, { recursive: true });
  const keys = differingKeys(dataset.keys, d, ctx.seed);
  log(`divergence d=${d}: n1 alone (n2 down), --hints-max 0, updating ${d} keys through it`);
  const [node] = await startNodes(ctx, dir, ['n1'], ['--hints-max', '0', '--anti-entropy-interval-ms', '0']);
  const n1 = node as ShoalNodeProcess;
  const client = new KvClient(n1.httpUrl, { maxSockets: 32, timeoutMs: 10_000 });
  const fresh = valuePool(ctx.n['value-bytes'], ctx.seed + 7);
  const sorted = [...keys].sort((a, b) => a - b);
  const result = await runFixedCount({
    count: sorted.length,
    concurrency: 32,
    op: async (seq) => {
      const key = keyName('k', sorted[seq] as number);
      const read = await client.get(key, '?r=1');
      if (read.status !== 200) return { ok: false, label: `get ${label(read)}` };
      const res = await client.put(key, fresh[seq % fresh.length] as Buffer, read.context, '?w=1');
      return { ok: res.status === 204, label: `put ${label(res)}` };
    },
  });
  client.close();
  const hints = (await status(n1))?.hints?.total ?? 0;
  await stopNodes([n1]);
  if (result.errorCount > 0) throw new Error(`divergence: ${result.errorCount} of ${d} updates failed ${JSON.stringify(result.errors)}`);
  if (hints > 0) throw new Error(`divergence: n1 kept ${hints} hints for n2 (expected none with --hints-max 0)`);
  const savedTrees = await savedTreeCount(join(dir, 'n1'));
  if (savedTrees < ctx.n['partition-count']) throw new Error(`divergence: n1's clean stop saved ${savedTrees} trees`);
  log(`divergence d=${d}: ${d} keys updated in ${result.elapsedS} s`);
  return { d, elapsedS: result.elapsedS, writesPerS: result.ratePerS, errors: result.errors, savedTrees };
}

/** The d differing keys: distinct indices drawn from the seed (the same for every run of one d). */
function differingKeys(keys: number, d: number, seed: number): Set<number> {
  const rng = Prng.fromSeed(seed).fork(`differing keys ${d}`);
  const out = new Set<number>();
  while (out.size < d) out.add(rng.int(keys));
  return out;
}

// --- one run -------------------------------------------------------------------------------------

interface PhaseResult {
  name: string;
  load: OpenLoopResult;
  read: { requests: number; labels: Record<string, number>; latencyMs: LatencySummaryMs };
  write: { requests: number; labels: Record<string, number>; latencyMs: LatencySummaryMs };
  cpu: CpuShare;
}

interface RunResult {
  keys: number;
  d: number;
  pacing: Pacing;
  admission: Admission;
  idle: boolean;
  /** CPU over the watch (both nodes, other work, pressure), also for idle runs. */
  cpuWhileRepairing: CpuShare;
  nodeArgs: string[];
  startupS: number;
  /** From both nodes serving until every d key was seen converged (null: timed out). */
  convergeS: number | null;
  convergeFromSpawnS: number | null;
  /** Seconds from both nodes serving until the watch ended (converged, or gave up). */
  watchedS: number;
  /** Seconds from the status sample before the one at which convergence was seen (the resolution of convergeS). */
  verifyResolutionS: number;
  /** repair.antiEntropy of both nodes, summed, when convergence was seen. */
  atConvergence: AeTotals;
  /** The same at the end of the run (after the baseline window: in-sync exchanges only). */
  atEnd: AeTotals;
  bytesPerDifferingKey: number | null;
  /** Bytes over keysRepaired (both nodes count a key each repairs: a key pushed by one and fetched by the other counts twice). */
  bytesPerKeyRepaired: number | null;
  /** Of the d keys, those not seen converged when the run ended (0 when converged). */
  pendingAtEnd: number;
  bytesFractionOfDataSet: number | null;
  dataSetBytes: number;
  foreground: Record<string, PhaseResult>;
  /** Other (non-d) keys compared on both nodes after the load stopped. */
  otherKeysCompared: number;
  otherKeysDiffering: { key: string; why: string }[];
  perNodeAtEnd: Record<string, RepairStatus | null>;
  treeRebuildsDuringRun: number;
  timeline: StatusSample[];
  nodes: { id: string; command: string; log: LogSummary; stopped: string }[];
}

interface AeTotals {
  exchanges: number;
  inSync: number;
  failed: number;
  segmentsCompared: number;
  keysRepaired: number;
  bytes: number;
}

async function runRepair(ctx: RunContext, dataset: DataSet, d: number, divDir: string, config: RunConfig): Promise<RunResult> {
  const { n } = ctx;
  const { pacing, admission, idle } = config;
  const dir = join(ctx.root, 'run');
  rmSync(dir, { recursive: true, force: true });
  cpSync(divDir, dir, { recursive: true });
  const args = [
    '--admission-control', admission === 'on' ? 'true' : 'false',
    ...(pacing === 'tuned' ? ['--anti-entropy-interval-ms', String(n['tuned-interval-ms'])] : []),
    ...ctx.nodeArgs,
  ];
  const differing = differingKeys(dataset.keys, d, ctx.seed);
  // Pending keys in partition order: both nodes walk the partitions in that order.
  const Q = n['partition-count'];
  let pending: PendingKey[] = [...differing].map((i) => ({ i, key: keyName('k', i), partition: partitionOfKey(keyBytes(keyName('k', i)), Q) }))
    .sort((a, b) => a.partition - b.partition || a.i - b.i);

  const t0 = performance.now();
  const nodes = await startNodes(ctx, dir, [...IDS], args);
  const servingAt = performance.now();
  const sinceServing = (): number => round3((performance.now() - servingAt) / 1000);
  log(`nodes serving after ${round2((servingAt - t0) / 1000)} s; foreground ${n.rate} req/s on the other keys; ${pending.length} keys pending`);

  // Foreground.
  const clients = nodes.map((node) => new KvClient(node.httpUrl, { maxSockets: n.concurrency, timeoutMs: 10_000 }));
  const rng = Prng.fromSeed(ctx.seed).fork(`foreground ${d}`);
  const writeValues = valuePool(n['value-bytes'], ctx.seed + 1);
  const contexts = new Map<number, string>();
  const kindOf = new Map<number, 'read' | 'write'>();
  const kinds = new Map<string, { read: KindRecorder; write: KindRecorder }>();
  const op = async (seq: number): Promise<OpOutcome> => {
    const isRead = rng.next() < n['read-fraction'];
    let i = rng.int(dataset.keys);
    while (differing.has(i)) i = rng.int(dataset.keys);
    const key = keyName('k', i);
    const kv = clients[seq % clients.length] as KvClient;
    kindOf.set(seq, isRead ? 'read' : 'write');
    const res = isRead ? await kv.get(key) : await kv.put(key, writeValues[seq % writeValues.length] as Buffer, contexts.get(i));
    const ok = isRead ? res.status === 200 || res.status === 300 : res.status === 204;
    if (ok && res.context !== undefined) contexts.set(i, res.context);
    return { ok, label: label(res) };
  };
  const onResult = (r: OpenLoopRequestResult): void => {
    const kind = kindOf.get(r.seq) ?? 'read';
    kindOf.delete(r.seq);
    let byKind = kinds.get(r.phase);
    if (byKind === undefined) {
      byKind = { read: kindRecorder(), write: kindRecorder() };
      kinds.set(r.phase, byKind);
    }
    const k = byKind[kind];
    k.requests++;
    k.labels[r.label] = (k.labels[r.label] ?? 0) + 1;
    if (r.ok) k.latency.recordValue(Math.max(1, Math.round(r.latencyMs * 1000)));
  };
  const phaseCpu: { name: string; from: ReturnType<typeof sampleCpu>; to?: ReturnType<typeof sampleCpu> }[] = [];
  const enterPhase = (name: string, loop?: PhasedOpenLoop): PhasedOpenLoop | undefined => {
    const sample = sampleCpu(nodes);
    const prev = phaseCpu[phaseCpu.length - 1];
    if (prev !== undefined) prev.to = sample;
    phaseCpu.push({ name, from: sample });
    if (idle) return undefined;
    if (loop === undefined) return new PhasedOpenLoop({ ratePerS: n.rate, concurrency: n.concurrency, op, onResult }, name);
    loop.phase(name);
    return loop;
  };
  const loop = enterPhase('repair');

  // Watch: statuses, and pending keys compared on both nodes.
  const timeline: StatusSample[] = [];
  let convergedAt: number | null = null;
  let atConvergence: AeTotals | undefined;
  let lastRepaired = -1;
  let lastPassAt = -Infinity;
  let lastPassGap = 0;
  let phases: { name: string; result: OpenLoopResult }[] = [];
  const deadline = performance.now() + n['timeout-s'] * 1000;
  let nextLog = 5;
  let watchedS = 0;
  try {
    while (convergedAt === null) {
      for (const node of nodes) node.assertRunning('repairing');
      const statuses = await Promise.all(nodes.map((node) => status(node)));
      const sample = statusSample(sinceServing(), nodes, statuses, pending.length);
      timeline.push(sample);
      const repaired = totals(statuses).keysRepaired;
      // Compare pending keys when something was repaired since the last pass, or every 5 s.
      if (repaired !== lastRepaired || performance.now() - lastPassAt > 5000) {
        lastRepaired = repaired;
        const passStart = performance.now();
        lastPassAt = passStart;
        pending = await comparePending(nodes, pending);
        if (pending.length === 0) {
          convergedAt = performance.now();
          lastPassGap = ((convergedAt - servingAt) / 1000) - (timeline[timeline.length - 2]?.tS ?? 0);
          atConvergence = totals(await Promise.all(nodes.map((node) => status(node))));
        }
      }
      if (sinceServing() >= nextLog) {
        nextLog += 5;
        const t = totals(statuses);
        log(`t=${sinceServing().toFixed(0)}s pending ${pending.length}/${d}; exchanges ${t.exchanges} (in sync ${t.inSync}, failed ${t.failed}), keys repaired ${t.keysRepaired}, ${t.bytes} B; ` +
          `share ${nodes.map((_, i) => statuses[i]?.repair?.admission.share ?? '?').join('/')}, node p99 ${nodes.map((_, i) => statuses[i]?.repair?.admission.foregroundP99Ms?.toFixed(1) ?? '?').join('/')} ms`);
      }
      if (convergedAt !== null) break;
      if (performance.now() > deadline) break;
      await sleep(n['poll-ms']);
    }
    // The watch stops comparing at the first few keys that still differ (in partition order,
    // while each node's sweep starts at a partition of its own): count them all once now.
    if (convergedAt === null) pending = await comparePending(nodes, pending, Number.POSITIVE_INFINITY);
    const convergeS = convergedAt === null ? null : round3((convergedAt - servingAt) / 1000);
    log(convergeS === null ? `NOT converged after ${n['timeout-s']} s: ${pending.length} keys pending` : `converged ${convergeS} s after both nodes served (${round3(((convergedAt as number) - t0) / 1000)} s after spawn)`);
    watchedS = sinceServing();
    enterPhase('after', loop);
    const afterEnd = performance.now() + (idle ? 0 : n['after-s'] * 1000);
    while (performance.now() < afterEnd) {
      await sleep(Math.min(1000, afterEnd - performance.now()));
      timeline.push(statusSample(sinceServing(), nodes, await Promise.all(nodes.map((node) => status(node))), pending.length));
    }
    phases = loop === undefined ? [] : await loop.stop();
    const lastCpu = phaseCpu[phaseCpu.length - 1];
    if (lastCpu !== undefined) lastCpu.to = sampleCpu(nodes);
  } finally {
    for (const c of clients) c.close();
  }
  const endStatuses = await Promise.all(nodes.map((node) => status(node)));
  const atEnd = totals(endStatuses);
  const others = await compareSample(nodes, dataset.keys, differing, ctx.seed ^ d ^ 0x51ed270b, n['sample-keys']);
  const stopped = await stopNodes(nodes);
  rmSync(dir, { recursive: true, force: true });
  const conv = atConvergence ?? atEnd;
  const foreground = Object.fromEntries(phases.map((ph, i) => {
    const cpu = phaseCpu[i];
    const byKind = kinds.get(ph.name);
    return [ph.name, {
      name: ph.name,
      load: ph.result,
      read: kindStats(byKind?.read),
      write: kindStats(byKind?.write),
      cpu: cpu?.to === undefined ? emptyCpu() : cpuShare(cpu.from, cpu.to),
    }];
  }));
  return {
    keys: dataset.keys, d, pacing, admission, idle, nodeArgs: args,
    cpuWhileRepairing: phaseCpu[0]?.to === undefined ? emptyCpu() : cpuShare(phaseCpu[0].from, phaseCpu[0].to),
    startupS: round2((servingAt - t0) / 1000),
    convergeS: convergedAt === null ? null : round3((convergedAt - servingAt) / 1000),
    convergeFromSpawnS: convergedAt === null ? null : round3((convergedAt - t0) / 1000),
    verifyResolutionS: round3(lastPassGap),
    watchedS,
    atConvergence: conv,
    atEnd,
    bytesPerDifferingKey: convergedAt === null ? null : Math.round(conv.bytes / d),
    bytesPerKeyRepaired: conv.keysRepaired > 0 ? Math.round(conv.bytes / conv.keysRepaired) : null,
    pendingAtEnd: pending.length,
    bytesFractionOfDataSet: dataset.dataSetBytes > 0 ? conv.bytes / dataset.dataSetBytes : null,
    dataSetBytes: dataset.dataSetBytes,
    foreground,
    otherKeysCompared: others.compared,
    otherKeysDiffering: others.mismatches,
    perNodeAtEnd: Object.fromEntries(nodes.map((node, i) => [node.id, endStatuses[i]?.repair ?? null])),
    treeRebuildsDuringRun: endStatuses.reduce((sum, s) => sum + (s?.repair?.antiEntropy.trees.rebuilds ?? 0), 0),
    timeline,
    nodes: nodes.map((node) => ({ id: node.id, command: shellQuote(node.command), log: node.logSummary(), stopped: stopped[node.id] ?? '?' })),
  };
}

interface PendingKey {
  i: number;
  key: string;
  partition: number;
}

/**
 * Compares pending keys on both nodes in order; stops after `stopAfter` that still differ
 * (the rest count as pending: a cheap check while the run goes). Returns those still pending.
 */
async function comparePending(nodes: readonly ShoalNodeProcess[], pending: readonly PendingKey[], stopAfter = 16): Promise<PendingKey[]> {
  const still: PendingKey[] = [];
  const STOP_AFTER = stopAfter;
  let next = 0;
  let differingSeen = 0;
  const results = new Array<boolean | undefined>(pending.length);
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < pending.length && differingSeen < STOP_AFTER) {
      const j = next++;
      const entry = pending[j] as PendingKey;
      const same = (await compareKey(nodes, entry.key)).same;
      results[j] = same;
      if (!same) differingSeen++;
    }
  }));
  pending.forEach((entry, j) => {
    if (results[j] !== true) still.push(entry);
  });
  return still;
}

/** Both nodes' stored object of `key`, normalised; same when equal and not the preloaded version. */
async function compareKey(nodes: readonly ShoalNodeProcess[], key: string, expectValue?: Buffer): Promise<{ same: boolean; why: string }> {
  const objects = await Promise.all(nodes.map((node) => localObject(node, key)));
  const [a, b] = objects;
  if (a === undefined || b === undefined) return { same: false, why: `missing on ${objects.map((o, i) => (o === undefined ? nodes[i]?.id : '')).join(' ')}` };
  if (a.text !== b.text) return { same: false, why: 'versions differ' };
  if (expectValue !== undefined) {
    const ok = a.siblings.length === 1 && Buffer.from(a.siblings[0]?.value ?? '', 'base64').equals(expectValue);
    return { same: ok, why: ok ? '' : 'not the preloaded value' };
  }
  if (a.siblings.some((s) => s.dot.actor === PRELOAD_ACTOR)) return { same: false, why: 'still the preloaded version' };
  return { same: true, why: '' };
}

interface LocalObject {
  text: string;
  siblings: { value: string; dot: { actor: string; counter: number } }[];
}

async function localObject(node: ShoalNodeProcess, key: string): Promise<LocalObject | undefined> {
  const res = await fetch(`${node.httpUrl}/admin/local/${encodeURIComponent(key)}`, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`${node.id} /admin/local/${key}: ${res.status} ${body.slice(0, 200)}`);
  const json = JSON.parse(body) as { vector: { actor: string; counter: number; timeMs: number }[]; siblings: { value: string; contentType: string; deleted: boolean; dot: { actor: string; counter: number }; timeMs: number }[] };
  const vector = [...json.vector].sort((x, y) => (x.actor < y.actor ? -1 : x.actor > y.actor ? 1 : 0));
  const siblings = [...json.siblings].sort((x, y) => (x.dot.actor < y.dot.actor ? -1 : x.dot.actor > y.dot.actor ? 1 : x.dot.counter - y.dot.counter));
  return { text: JSON.stringify({ vector, siblings }), siblings };
}

/** A random sample of keys outside `exclude`, compared on both nodes (with their preloaded value when `valueOf` is given). */
async function compareSample(
  nodes: readonly ShoalNodeProcess[], keys: number, exclude: ReadonlySet<number>, seed: number, count: number, valueOf?: (i: number) => Buffer,
): Promise<{ compared: number; mismatches: { key: string; why: string }[] }> {
  const rng = Prng.fromSeed(seed);
  const mismatches: { key: string; why: string }[] = [];
  let compared = 0;
  for (let j = 0; j < Math.min(count, keys - exclude.size); j++) {
    let i = rng.int(keys);
    while (exclude.has(i)) i = rng.int(keys);
    const key = keyName('k', i);
    const result = await compareKey(nodes, key, valueOf?.(i));
    // Without an expected value, a foreground-written key is fine; only the two copies must agree.
    const ok = valueOf === undefined ? result.same || result.why === 'still the preloaded version' : result.same;
    compared++;
    if (!ok && mismatches.length < 20) mismatches.push({ key, why: result.why });
  }
  return { compared, mismatches };
}

// --- nodes ---------------------------------------------------------------------------------------

/** Starts the given members on the fixed ports with the data under `dir/<id>`; resolves once each serves. */
async function startNodes(ctx: RunContext, dir: string, ids: string[], args: readonly string[]): Promise<ShoalNodeProcess[]> {
  const { ports } = ctx;
  const members = IDS.map((id, i) => `${id}@${ports.host}:${ports.listen[i]}`).join(',');
  const launched = await Promise.allSettled(ids.map((id) => {
    const i = IDS.indexOf(id as (typeof IDS)[number]);
    mkdirSync(join(dir, id), { recursive: true });
    return launchNode({
      id, host: ports.host, httpPort: ports.http[i], listenPort: ports.listen[i], dataDir: join(dir, id), logLevel: 'warn', readyTimeoutMs: 120_000,
      stopTimeoutMs: 60_000,
      args: ['--cluster', members, '--n', String(N), '--partition-count', String(ctx.n['partition-count']), ...args],
    });
  }));
  const nodes = launched.flatMap((r) => (r.status === 'fulfilled' ? [r.value.node] : []));
  const failed = launched.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) {
    await stopNodes(nodes);
    throw new Error(failed.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('\n'));
  }
  return nodes;
}

/** Stops the nodes (SIGTERM: a clean stop flushes and saves the trees); returns how each ended. */
async function stopNodes(nodes: readonly ShoalNodeProcess[]): Promise<Record<string, string>> {
  await Promise.all(nodes.map((node) => node.stop({ keepData: true })));
  return Object.fromEntries(nodes.map((node) => [node.id, node.describeExit()]));
}

/** Partitions whose trees a clean stop saved in this data dir (0 when the record is not clean). */
async function savedTreeCount(dataDir: string): Promise<number> {
  const engine = openLmdbEngine({ path: join(dataDir, LMDB_DIRECTORY) });
  try {
    const record = engine.meta.get(TREES_RECORD) as { clean?: unknown; partitions?: Record<string, unknown> } | undefined;
    return record?.clean === true ? Object.keys(record.partitions ?? {}).length : 0;
  } finally {
    await engine.close();
  }
}

async function status(node: ShoalNodeProcess): Promise<StatusBody | undefined> {
  try {
    const res = await fetch(`${node.httpUrl}/admin/status`, { signal: AbortSignal.timeout(10_000) });
    if (res.status !== 200) return undefined;
    return (await res.json()) as StatusBody;
  } catch {
    return undefined;
  }
}

function statusSample(tS: number, nodes: readonly ShoalNodeProcess[], statuses: readonly (StatusBody | undefined)[], pendingKeys: number): StatusSample {
  return {
    tS,
    pendingKeys,
    nodes: Object.fromEntries(nodes.map((node, i) => {
      const r = statuses[i]?.repair;
      return [node.id, r === undefined ? null : {
        exchanges: r.antiEntropy.exchanges, inSync: r.antiEntropy.inSync, failed: r.antiEntropy.failed,
        segmentsCompared: r.antiEntropy.segmentsCompared, keysRepaired: r.antiEntropy.keysRepaired, bytes: r.antiEntropy.bytes,
        treesTrusted: r.antiEntropy.trees.trusted, rebuilds: r.antiEntropy.trees.rebuilds,
        share: r.admission.share, foregroundP99Ms: round3(r.admission.foregroundP99Ms), throttles: r.admission.throttles,
      }];
    })),
  };
}

function totals(statuses: readonly (StatusBody | undefined)[]): AeTotals {
  const t: AeTotals = { exchanges: 0, inSync: 0, failed: 0, segmentsCompared: 0, keysRepaired: 0, bytes: 0 };
  for (const s of statuses) {
    const ae = s?.repair?.antiEntropy;
    if (ae === undefined) continue;
    t.exchanges += ae.exchanges;
    t.inSync += ae.inSync;
    t.failed += ae.failed;
    t.segmentsCompared += ae.segmentsCompared;
    t.keysRepaired += ae.keysRepaired;
    t.bytes += ae.bytes;
  }
  return t;
}

// --- reporting ------------------------------------------------------------------------------------

function summaryRow(r: RunResult): Record<string, unknown> {
  const rep = r.foreground.repair?.load;
  const after = r.foreground.after?.load;
  return {
    keys: r.keys, d: r.d, pacing: r.pacing, admission: r.admission, foreground: r.idle ? 'none' : `${r.foreground.repair?.load.offeredRatePerS ?? '?'} req/s`,
    convergeS: r.convergeS,
    bytes: r.atConvergence.bytes,
    bytesPerDifferingKey: r.bytesPerDifferingKey,
    bytesPerKeyRepaired: r.bytesPerKeyRepaired,
    pendingAtEnd: r.pendingAtEnd,
    bytesPercentOfDataSet: r.bytesFractionOfDataSet === null ? null : round4(r.bytesFractionOfDataSet * 100),
    keysRepaired: r.atConvergence.keysRepaired,
    exchanges: r.atConvergence.exchanges,
    segmentsCompared: r.atConvergence.segmentsCompared,
    repairWindow: rep === undefined ? null : { requests: rep.latencyMs.count, p50: rep.latencyMs.p50, p99: rep.latencyMs.p99, p99_9: rep.latencyMs.p99_9, max: rep.latencyMs.max, errors: rep.errorCount },
    afterWindow: after === undefined ? null : { requests: after.latencyMs.count, p50: after.latencyMs.p50, p99: after.latencyMs.p99, p99_9: after.latencyMs.p99_9, max: after.latencyMs.max, errors: after.errorCount },
    cpuPressureRepair: r.cpuWhileRepairing.cpuPressureSome,
    otherCoresRepair: r.cpuWhileRepairing.otherCores,
    nodeCoresRepair: r.cpuWhileRepairing.nodesCores,
  };
}

/** Bytes per differing key by data-set size and d (mean over the runs of that cell). */
function bytesPerKeyTable(runs: readonly RunResult[]): Record<string, Record<string, number | null>> {
  const out: Record<string, Record<string, number[]>> = {};
  for (const r of runs) {
    if (r.bytesPerDifferingKey === null) continue;
    ((out[String(r.keys)] ??= {})[String(r.d)] ??= []).push(r.bytesPerDifferingKey);
  }
  return Object.fromEntries(Object.entries(out).map(([k, byD]) => [k, Object.fromEntries(Object.entries(byD).map(([d, xs]) => [d, Math.round(xs.reduce((a, b) => a + b, 0) / xs.length)]))]));
}

function humanTable(runs: readonly RunResult[], datasets: readonly DataSet[]): string {
  const rows = runs.map((r) => {
    const rep = r.foreground.repair;
    const after = r.foreground.after;
    const l = rep?.load.latencyMs;
    return [
      String(r.keys), String(r.d), r.pacing, r.admission + (r.idle ? ' idle' : ''), r.convergeS === null ? `>${r.watchedS.toFixed(0)} (${r.pendingAtEnd} left)` : r.convergeS.toFixed(1),
      String(r.atConvergence.bytes), String(r.bytesPerDifferingKey ?? '-'), r.bytesFractionOfDataSet === null ? '-' : (r.bytesFractionOfDataSet * 100).toFixed(4),
      String(r.atConvergence.keysRepaired), String(r.atConvergence.exchanges),
      l === undefined ? '-' : `${l.p50.toFixed(1)}/${l.p99.toFixed(1)}/${l.p99_9.toFixed(1)} (${l.count})`,
      after === undefined ? '-' : `${after.load.latencyMs.p50.toFixed(1)}/${after.load.latencyMs.p99.toFixed(1)}/${after.load.latencyMs.p99_9.toFixed(1)}`,
      String(r.cpuWhileRepairing.cpuPressureSome ?? '-'), String(r.cpuWhileRepairing.otherCores ?? '-'),
    ];
  });
  const rebuild = datasets.map((x) => `${x.keys} keys: trees rebuilt ${JSON.stringify(x.rebuild.afterServingS)} s after serving (${JSON.stringify(x.rebuild.fromSpawnS)} after spawn)`).join('\n');
  return formatTable(['keys', 'd', 'pacing', 'adm', 'conv s', 'bytes', 'B/key', '% data', 'repaired', 'exch', 'repair p50/p99/p99.9 ms (n)', 'after p50/p99/p99.9', 'cpu psi', 'other cores'], rows) + '\n\n' + rebuild;
}

function warnings(runs: readonly RunResult[]): string[] {
  const out: string[] = [];
  for (const r of runs) {
    const name = `keys=${r.keys} d=${r.d} ${r.pacing}/${r.admission}`;
    if (r.convergeS === null) out.push(`${name}: not converged when the run gave up (--timeout-s): ${r.pendingAtEnd} of ${r.d} keys still differ`);
    if (r.treeRebuildsDuringRun > 0) out.push(`${name}: ${r.treeRebuildsDuringRun} tree rebuilds during the run (the saved trees were not trusted)`);
    if (r.otherKeysDiffering.length > 0) out.push(`${name}: ${r.otherKeysDiffering.length} of ${r.otherKeysCompared} other keys differ between the nodes: ${JSON.stringify(r.otherKeysDiffering.slice(0, 3))}`);
    if (r.convergeS !== null && r.atConvergence.keysRepaired < r.d) out.push(`${name}: keysRepaired ${r.atConvergence.keysRepaired} < d ${r.d}`);
    for (const [phase, p] of Object.entries(r.foreground)) {
      if (p.load.errorCount > 0) out.push(`${name} ${phase}: ${p.load.errorCount} foreground requests failed ${JSON.stringify(p.load.errors)}`);
      if (p.load.saturated && p.load.durationS >= 2) out.push(`${name} ${phase}: the nodes did not keep up with ${p.load.offeredRatePerS} req/s (throughput ${p.load.throughputPerS}/s)`);
      if (p.cpu.cpuPressureSome !== null && p.cpu.cpuPressureSome >= 0.3) out.push(`${name} ${phase}: busy machine (cpu pressure ${p.cpu.cpuPressureSome}, other work ${p.cpu.otherCores ?? 'n/a'} cores)`);
    }
    for (const node of r.nodes) {
      if (node.stopped !== 'exited with code 0') out.push(`${name}: ${node.id} ${node.stopped} at stop`);
      const warnLines = (node.log.byLevel.warn ?? 0) + (node.log.byLevel.error ?? 0) + (node.log.byLevel.fatal ?? 0);
      if (warnLines > 0) out.push(`${name}: ${node.id} logged ${warnLines} warn/error lines: ${node.log.messages.slice(0, 3).map((m) => `${m.level} x${m.count} "${m.msg}"`).join('; ')}`);
    }
  }
  return out;
}

function kindRecorder(): KindRecorder {
  return { requests: 0, labels: {}, latency: latencyHistogram() };
}

function kindStats(k: KindRecorder | undefined): PhaseResult['read'] {
  const rec = k ?? kindRecorder();
  return { requests: rec.requests, labels: rec.labels, latencyMs: summarize(rec.latency) };
}

function emptyCpu(): CpuShare {
  return { machineBusyCores: null, nodesCores: 0, clientCores: 0, otherCores: null, stealCores: null, cpuPressureSome: null };
}

// --- helpers ----------------------------------------------------------------------------------------

interface RunConfig {
  pacing: Pacing;
  admission: Admission;
  /** No foreground load: the repair's own time and bytes, without foreground keys caught in flight. */
  idle: boolean;
}

function configsOf(text: string, flag: string): RunConfig[] {
  return listOf(text, flag).map((item) => {
    const [pacing, admission, load, extra] = item.split('/');
    if (extra !== undefined || (load !== undefined && load !== 'idle')) throw new UsageError(`${flag}: expected pacing/admission[/idle], got ${item}`);
    return { pacing: oneOf<Pacing>(pacing ?? '', ['default', 'tuned'], `${flag} pacing`), admission: oneOf<Admission>(admission ?? '', ['on', 'off'], `${flag} admission`), idle: load === 'idle' };
  });
}

function listOf(text: string, flag: string): string[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UsageError(`${flag}: expected a comma-separated list`);
  return items;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag}: expected one of ${allowed.join(', ')}, got ${value}`);
  return value as T;
}

function label(res: KvResult): string {
  return res.status === 0 ? (res.error ?? 'error') : String(res.status);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function round4(x: number): number {
  return Math.round(x * 10000) / 10000;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main().catch(async (error: unknown) => {
  if (error instanceof UsageError) log(`${error.message} (see --help)`);
  else log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await stopAllNodes();
  process.exitCode = 1;
});
