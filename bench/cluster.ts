/**
 * Issue 3's cluster benchmark: a 3-node Shoal cluster on loopback (N = 3, R = 2, W = 2)
 * driven over HTTP by 32 closed-loop clients, 50% reads and 50% writes of 100-byte values
 * uniformly over 10,000 keys, for a fixed duration.
 *
 *   - Three `node bin/shoal.js start --cluster n1@…,n2@…,n3@… --n 3 --r 2 --w 2 …`
 *     processes on free loopback ports, data under one temp dir (lib/cluster.ts).
 *   - Waits for every node's /admin/status = 200, then writes one probe key through each
 *     node at W = N and waits until every node lists every peer `up`.
 *   - Preloads every key once (no context), so reads find values; reports how long it took.
 *   - `--clients` workers, each sending its next request when the previous one is
 *     answered; requests go round robin over the three nodes' HTTP addresses. A read is
 *     `GET /kv/<key>`; a write is `PUT /kv/<key>` carrying the X-Shoal-Context from that
 *     client's last read of the key when it has one (none otherwise).
 *   - `--warmup-s` unmeasured, then `--duration-s` measured.
 *
 * stdout: one JSON object. stderr: progress and a short table. Also saved under
 * bench/results/ (git-ignored) and to --out FILE.
 *
 *   npm run bench:cluster -- [--duration-s 30] [--warmup-s 5] [--clients 32] …   (--help)
 */
import { randomInt } from 'node:crypto';
import type { Random } from '../src/ports/random.ts';
import { Prng } from '../src/sim/prng.ts';
import { parseFlags, usage, UsageError, type FlagSpec } from './lib/args.ts';
import { launchCluster, peersOf, type ShoalCluster } from './lib/cluster.ts';
import { latencyHistogram, summarize, type Histogram, type LatencySummaryMs } from './lib/hdr.ts';
import { KvClient } from './lib/http-client.ts';
import { runClosedLoop, runFixedCount, type ClosedLoopOutcome, type ClosedLoopResult, type FixedCountResult } from './lib/load.ts';
import { commandLine, cpuPressure, cpuShare, machineFacts, sampleCpu, type CpuShare } from './lib/machine.ts';
import { bucketQuantiles, diffSamples, reportedMetrics, scrapeMetrics, type MetricSamples, type Quantiles } from './lib/metrics.ts';
import { shellQuote, stopAllNodes, type LogSummary, type ShoalNodeProcess } from './lib/node-process.ts';
import { formatTable, log, mib, saveResults } from './lib/report.ts';
import { keyName, valuePool } from './lib/values.ts';

const flagSpec = {
  numbers: {
    'duration-s': { default: 30, min: 1, help: 'measured duration, seconds' },
    'warmup-s': { default: 5, min: 0, help: 'unmeasured warm-up before it (same load), seconds' },
    clients: { default: 32, min: 1, integer: true, help: 'concurrent closed-loop clients' },
    keys: { default: 10_000, min: 1, integer: true, help: 'key space (uniform), all preloaded' },
    'value-bytes': { default: 100, min: 0, integer: true, help: 'value size, bytes' },
    'read-fraction': { default: 0.5, min: 0, help: 'share of requests that are reads (0..1)' },
    nodes: { default: 3, min: 1, integer: true, help: 'cluster members' },
    n: { default: 3, min: 1, integer: true, help: 'replicas per key (--n)' },
    r: { default: 2, min: 1, integer: true, help: 'read quorum (--r)' },
    w: { default: 2, min: 1, integer: true, help: 'write quorum (--w)' },
    seed: { default: -1, integer: true, help: 'seed of the clients\' key and operation choices (-1: random, printed)' },
  },
  strings: {
    out: { help: 'also write the JSON results to this file' },
  },
} satisfies FlagSpec;

type Numbers = Record<keyof typeof flagSpec.numbers, number>;

/** Quoted from issue 3 ("Benchmark"); NOT measured by this benchmark. */
const REFERENCE = {
  label: 'QUOTED FROM ISSUE 3, NOT MEASURED HERE',
  source: 'issue 3 ("Benchmark" section): "a 3-member etcd cluster on the same kind of machine, driven the same way over its HTTP gateway with 32 clients, does about 2,000 writes/s at p50 13 ms and p99 63 ms"',
  system: 'etcd, 3 members',
  clients: 32,
  writesPerS: 2000,
  writeLatencyMs: { p50: 13, p99: 63 },
  approximate: true,
} as const;

/** Counters (and gauges) of each node's /metrics reported as their change during the load. */
const COUNTERS = [
  'shoal_http_requests_total',
  'shoal_read_repairs_total',
  'shoal_forwards_total',
  'shoal_quorum_failures_total',
  'shoal_internode_requests_total',
  'shoal_hints_stored_total',
  'shoal_hint_deliveries_total',
  'shoal_engine_errors_total',
  'shoal_buffer_write_wait_seconds_count',
  'shoal_flush_batch_objects_count',
  'shoal_flush_batch_objects_sum',
];
const GAUGES = ['shoal_hints', 'shoal_peers', 'shoal_buffer_objects', 'shoal_buffer_writes_waiting'];

const OK_READ = new Set([200, 300, 404]);

interface ClientState {
  rng: Random;
  /** The context of this client's last read of each key. */
  contexts: Map<string, string>;
}

interface NodeLoadStats {
  id: string;
  httpUrl: string;
  command: string;
  /** CPU the node used during warm-up + measurement, fraction of one core. */
  cpuCores: number;
  rssMiBAfter: number;
  /** As the clients saw this node: every measured request sent to it, any outcome. */
  clientView: { requests: number; errors: number; latencyMs: LatencySummaryMs };
  /** The node's own PUT / GET /kv handling time during the load (bucket upper bounds, ms). */
  serverLatencyMsUpTo: { put: Quantiles | null; get: Quantiles | null };
  /** Non-zero counter changes during the load (warm-up + measurement), and gauges at the end. */
  metricsDuringLoad: Record<string, number>;
  /** `/admin/status` after the load (its `config` block left out; see statusAtStart). */
  statusAtEnd: unknown;
  /** Warn/error lines the node logged over its whole life (launch to end of run). */
  log: LogSummary;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('npm run bench:cluster --', flagSpec) + '\n');
    return;
  }
  const n = flags.numbers as Numbers;
  if (n['read-fraction'] > 1) throw new UsageError('--read-fraction: expected a number between 0 and 1');
  if (n.n > n.nodes || n.r > n.n || n.w > n.n) throw new UsageError('need --n <= --nodes, --r <= --n and --w <= --n');
  const seed = n.seed >= 0 ? n.seed : randomInt(0, 2 ** 31 - 1);
  const started = Date.now();
  const machine = machineFacts();
  const command = commandLine();
  const npmCommand = process.env.npm_lifecycle_event === 'bench:cluster'
    ? `npm run bench:cluster${process.argv.length > 2 ? ' -- ' + shellQuote(process.argv.slice(2)) : ''}`
    : undefined;
  log(`command: ${npmCommand ?? command}`);
  log(`machine: ${machine.cpuCount} cpu (${machine.cpuModel}), node ${machine.nodeVersion}, load ${machine.loadAvg1m}, cpu pressure ${machine.cpuPressureSome60s ?? 'n/a'}; seed=${seed}`);

  const t = performance.now();
  log(`starting ${n.nodes} nodes (N=${n.n} R=${n.r} W=${n.w})`);
  const cluster = await launchCluster({ size: n.nodes, n: n.n, r: n.r, w: n.w });
  try {
    const startupMs = Math.round(performance.now() - t);
    for (const node of cluster.nodes) log(`${node.id}: pid ${node.pid}, http ${node.httpUrl}, internode ${node.listenAddress}, data ${node.dataDir}`);
    const peersUp = await cluster.waitPeersUp(n.n);
    log(`all nodes serving after ${startupMs} ms; every peer up after ${peersUp.elapsedMs} ms more (${peersUp.probeWrites} probe writes at w=${n.n})`);

    const clients = cluster.nodes.map((node) => new KvClient(node.httpUrl, { maxSockets: n.clients }));
    const values = valuePool(n['value-bytes'], seed);
    const preload = await runPreload(clients, n, values);
    log(`preload: ${n.keys} keys in ${preload.elapsedS} s (${preload.ratePerS}/s), errors ${preload.errorCount}`);
    cluster.assertRunning('preloading');

    const run = await runMix(cluster, clients, n, seed, values);
    for (const c of clients) c.close();
    cluster.assertRunning('running the load');
    const nodes = await nodeStats(cluster, run);

    const end = machineFacts();
    const load = run.load;
    const reads = load.kinds.read;
    const writes = load.kinds.write;
    const output = {
      benchmark: 'cluster',
      question: 'Issue 3: throughput and p50/p99/p99.9 of a 3-node Shoal cluster on loopback, 32 clients, 50/50 reads and writes',
      command: npmCommand ?? command,
      nodeCommand: command,
      nodeCommands: cluster.nodes.map((node) => shellQuote(node.command)),
      machine,
      machineAtEnd: { loadAvg1m: end.loadAvg1m, cpuPressureSome60s: end.cpuPressureSome60s },
      /** Share of the load's wall time (warm-up + measured) in which some task waited for a CPU (Linux PSI). */
      cpuPressureDuringLoad: run.cpuPressureSome,
      /** Where the CPU went during the load (cores): nodes, this load generator, other work on the machine, steal. */
      cpuDuringLoad: run.cpuDuringLoad,
      startedAt: new Date(started).toISOString(),
      elapsedS: Math.round((Date.now() - started) / 100) / 10,
      options: {
        nodes: n.nodes, n: n.n, r: n.r, w: n.w,
        clients: n.clients,
        loop: 'closed: each client sends its next request when the previous one is answered',
        durationS: n['duration-s'], warmupS: n['warmup-s'],
        keys: n.keys, keyChoice: 'uniform', valueBytes: n['value-bytes'], readFraction: n['read-fraction'],
        routing: 'round robin over the nodes\' HTTP addresses, request by request',
        contexts: 'a write carries the X-Shoal-Context of that client\'s last read of the key, none if it never read it',
        latency: 'send -> response, ms; per operation, successful requests only (failures in status codes and errorLatencyMs)',
        seed,
      },
      cluster: {
        members: cluster.members,
        startupMs,
        peersUpAfterMs: peersUp.elapsedMs,
        peersAtStart: peersUp.peers,
      },
      preload: {
        keys: n.keys,
        concurrency: n.clients,
        elapsedS: preload.elapsedS,
        ratePerS: preload.ratePerS,
        errors: preload.errors,
        latencyMs: preload.latencyMs,
      },
      throughputPerS: {
        total: load.throughputPerS,
        read: reads?.throughputPerS ?? 0,
        write: writes?.throughputPerS ?? 0,
      },
      latencyMs: {
        read: reads?.latencyMs ?? null,
        write: writes?.latencyMs ?? null,
      },
      statusCodes: {
        read: reads?.labels ?? {},
        write: writes?.labels ?? {},
      },
      siblings: run.siblings,
      errorLatencyMs: { read: reads?.errorLatencyMs ?? null, write: writes?.errorLatencyMs ?? null },
      load,
      /** Second by second from the start of the warm-up (the measured window starts at warmupS; load.perSecond is indexed from there). */
      cpuTimeline: run.cpuTimeline,
      nodes,
      reference: REFERENCE,
      warnings: [] as string[],
    };
    output.warnings = warnings(output.load, run, nodes, preload);

    process.stderr.write('\n' + humanTable(output.load, run, preload) + '\n');
    for (const w of output.warnings) log(`WARNING: ${w}`);
    const paths = saveResults('cluster', output, flags.strings.out);
    log(`results: ${paths.join(', ')}`);
    process.stdout.write(JSON.stringify(output, null, 2) + '\n');
  } finally {
    await cluster.stop();
  }
}

/** Writes every key once, no context, `clients` in flight, round robin over the nodes. */
async function runPreload(clients: readonly KvClient[], n: Numbers, values: readonly Buffer[]): Promise<FixedCountResult> {
  log(`preload: writing ${n.keys} keys, ${n.clients} in flight`);
  return runFixedCount({
    count: n.keys,
    concurrency: n.clients,
    op: async (seq) => {
      const client = clients[seq % clients.length] as KvClient;
      const res = await client.put(keyName('k', seq), values[seq % values.length] as Buffer);
      return res.status === 204 ? { ok: true, label: '204' } : { ok: false, label: label(res.status, res.error) };
    },
    onProgress: (line) => log(`preload: ${line}`),
  });
}

interface MixRun {
  load: ClosedLoopResult;
  siblings: {
    /** Measured reads answered 300 (siblings), over all measured reads answered 200/300/404. */
    readsWithSiblingsShare: number;
    readsWithSiblings: number;
    /** Sibling count of those 300 answers: how many reads saw k siblings. */
    countDistribution: Record<string, number>;
    maxSiblings: number;
    /** Measured writes that carried a context (the client had read the key before). */
    writesWithContextShare: number;
    note: string;
  };
  perNode: { requests: number; errors: number; latency: Histogram }[];
  nodeCpuSeconds: number[];
  loadSeconds: number;
  cpuPressureSome: number;
  /** CPU use over the whole load (warm-up + measured), in cores. */
  cpuDuringLoad: CpuShare;
  /** The same, second by second (tS: end of the second, from the start of the warm-up). */
  cpuTimeline: (CpuShare & { tS: number })[];
  metricsBefore: (MetricSamples | undefined)[];
}

async function runMix(cluster: ShoalCluster, clients: readonly KvClient[], n: Numbers, seed: number, values: readonly Buffer[]): Promise<MixRun> {
  const states: ClientState[] = Array.from({ length: n.clients }, (_, i) => ({ rng: Prng.fromSeed(seed).fork(`client ${i}`), contexts: new Map() }));
  const perNode = cluster.nodes.map(() => ({ requests: 0, errors: 0, latency: latencyHistogram() }));
  const siblingCounts: Record<string, number> = {};
  let readsAnswered = 0;
  let readsWithSiblings = 0;
  let maxSiblings = 0;
  let writes = 0;
  let writesWithContext = 0;
  let next = 0;

  const op = async (client: number, seq: number, measured: boolean): Promise<ClosedLoopOutcome> => {
    const state = states[client] as ClientState;
    const isRead = state.rng.next() < n['read-fraction'];
    const key = keyName('k', state.rng.int(n.keys));
    const nodeIndex = next++ % clients.length;
    const kv = clients[nodeIndex] as KvClient;
    const sent = performance.now();
    let outcome: ClosedLoopOutcome;
    if (isRead) {
      const res = await kv.get(key);
      const ok = OK_READ.has(res.status);
      if (ok && res.context !== undefined) state.contexts.set(key, res.context);
      if (measured && ok) {
        readsAnswered++;
        if (res.status === 300) {
          readsWithSiblings++;
          const count = siblingCount(res.body);
          siblingCounts[String(count)] = (siblingCounts[String(count)] ?? 0) + 1;
          maxSiblings = Math.max(maxSiblings, count);
        }
      }
      outcome = { kind: 'read', ok, label: label(res.status, res.error) };
    } else {
      const context = state.contexts.get(key);
      const res = await kv.put(key, values[seq % values.length] as Buffer, context);
      if (measured) {
        writes++;
        if (context !== undefined) writesWithContext++;
      }
      outcome = { kind: 'write', ok: res.status === 204, label: label(res.status, res.error) };
    }
    if (measured) {
      const node = perNode[nodeIndex];
      if (node !== undefined) {
        node.requests++;
        if (!outcome.ok) node.errors++;
        node.latency.recordValue(Math.max(1, Math.round((performance.now() - sent) * 1000)));
      }
    }
    return outcome;
  };

  const metricsBefore = await Promise.all(cluster.nodes.map((node) => scrapeMetrics(node.httpUrl)));
  const cpuBefore = cluster.nodes.map((node) => node.cpuSeconds());
  const pressureBefore = cpuPressure()?.totalUs ?? 0;
  const started = performance.now();
  const firstSample = sampleCpu(cluster.nodes);
  let lastSample = firstSample;
  const cpuTimeline: (CpuShare & { tS: number })[] = [];
  const sampler = setInterval(() => {
    const sample = sampleCpu(cluster.nodes);
    cpuTimeline.push({ tS: Math.round((sample.atMs - started) / 100) / 10, ...cpuShare(lastSample, sample) });
    lastSample = sample;
  }, 1000);
  log(`load: ${n.clients} clients, ${Math.round(n['read-fraction'] * 100)}% reads, ${n.keys} keys, ${n['value-bytes']} B values, ` +
    `${n['warmup-s']} s warm-up + ${n['duration-s']} s measured`);
  let load: ClosedLoopResult;
  try {
    load = await runClosedLoop({
      clients: n.clients,
      warmupS: n['warmup-s'],
      durationS: n['duration-s'],
      op,
      onMeasureStart: () => log('warm-up done, measuring'),
      onProgress: (line) => log(`load: ${line}`),
    });
  } finally {
    clearInterval(sampler);
  }
  const cpuDuringLoad = cpuShare(firstSample, sampleCpu(cluster.nodes));
  const loadSeconds = (performance.now() - started) / 1000;
  const cpuPressureUs = (cpuPressure()?.totalUs ?? 0) - pressureBefore;
  cluster.assertRunning('running the load');
  const nodeCpuSeconds = cluster.nodes.map((node, i) => node.cpuSeconds() - (cpuBefore[i] ?? 0));
  return {
    load,
    siblings: {
      readsWithSiblingsShare: readsAnswered > 0 ? Math.round((readsWithSiblings / readsAnswered) * 10000) / 10000 : 0,
      readsWithSiblings,
      countDistribution: siblingCounts,
      maxSiblings,
      writesWithContextShare: writes > 0 ? Math.round((writesWithContext / writes) * 10000) / 10000 : 0,
      note: 'A write without a context supersedes nothing: its value joins the key\'s siblings. A client only has a context for ' +
        'keys it has itself read, so with uniform keys most writes are blind and reads see siblings until a client writes ' +
        'back the context of a read of that key.',
    },
    perNode,
    nodeCpuSeconds,
    loadSeconds,
    cpuPressureSome: Math.round((cpuPressureUs / 1e6 / loadSeconds) * 1000) / 1000,
    cpuDuringLoad,
    cpuTimeline,
    metricsBefore,
  };
}

async function nodeStats(cluster: ShoalCluster, run: MixRun): Promise<NodeLoadStats[]> {
  const statuses = await cluster.statuses();
  return Promise.all(cluster.nodes.map(async (node: ShoalNodeProcess, i): Promise<NodeLoadStats> => {
    const after = await scrapeMetrics(node.httpUrl);
    const before = run.metricsBefore[i];
    const delta = after === undefined ? undefined : diffSamples(after, before ?? new Map(), GAUGES);
    const metricsDuringLoad = delta === undefined ? {} : reportedMetrics(delta, COUNTERS, GAUGES);
    const status = statuses[i];
    const { config: _config, ...statusAtEnd } = (typeof status === 'object' && status !== null ? status : { status }) as Record<string, unknown>;
    const client = run.perNode[i];
    return {
      id: node.id,
      httpUrl: node.httpUrl,
      command: shellQuote(node.command),
      cpuCores: Math.round(((run.nodeCpuSeconds[i] ?? 0) / run.loadSeconds) * 100) / 100,
      rssMiBAfter: mib(node.memory().rssBytes),
      clientView: {
        requests: client?.requests ?? 0,
        errors: client?.errors ?? 0,
        latencyMs: client === undefined ? summarize(latencyHistogram()) : summarize(client.latency),
      },
      serverLatencyMsUpTo: {
        put: delta === undefined ? null : bucketQuantiles(delta, 'shoal_http_request_duration_seconds', 'route="/kv/:key"', 'method="PUT"'),
        get: delta === undefined ? null : bucketQuantiles(delta, 'shoal_http_request_duration_seconds', 'route="/kv/:key"', 'method="GET"'),
      },
      metricsDuringLoad,
      statusAtEnd,
      log: node.logSummary(),
    };
  }));
}

function warnings(load: ClosedLoopResult, run: MixRun, nodes: readonly NodeLoadStats[], preload: FixedCountResult): string[] {
  const out: string[] = [];
  if (preload.errorCount > 0) out.push(`preload: ${preload.errorCount} writes failed ${JSON.stringify(preload.errors)}; some reads may find no value`);
  for (const [kind, k] of Object.entries(load.kinds)) {
    if (k.errorCount > 0) out.push(`${kind}: ${k.errorCount} of ${k.issued} failed ${JSON.stringify(k.labels)} (failed latency p50 ${k.errorLatencyMs.p50} ms, max ${k.errorLatencyMs.max} ms)`);
  }
  const notFound = load.kinds.read?.labels['404'] ?? 0;
  if (notFound > 0) out.push(`read: ${notFound} answered 404 although every key was preloaded`);
  const oks = load.perSecond.map((s) => s.ok).sort((a, b) => a - b);
  const median = oks[Math.floor(oks.length / 2)] ?? 0;
  const slow = load.perSecond.filter((s) => s.ok < 0.25 * median);
  if (slow.length > 0) {
    out.push(`stall: in ${slow.length} second(s) of the window fewer than 25% of the median ${median} requests/s completed: ` +
      slow.map((s) => `s${s.s}: ${s.ok} ok, ${s.errors} failed, slowest ${s.maxMs} ms`).join('; '));
  }
  if (run.cpuPressureSome >= 0.3) {
    out.push(`busy machine: some task waited for a CPU ${Math.round(run.cpuPressureSome * 100)}% of the load's time (PSI, includes the 3 nodes and the load generator on ${machineFacts().cpuCount} CPUs)`);
  }
  const other = run.cpuDuringLoad.otherCores;
  if (other !== null && other >= 0.2) {
    out.push(`other work on the machine used ${other} cores on average during the load (cpuTimeline has it second by second); ` +
      'the cluster and the load generator got only the rest');
  }
  const p999 = Math.max(load.kinds.read?.latencyMs.p99_9 ?? 0, load.kinds.write?.latencyMs.p99_9 ?? 0);
  if (load.clientLoopDelayMs.max >= 0.5 * p999) {
    out.push(`the load generator's own event loop stalled up to ${load.clientLoopDelayMs.max} ms (p99.9 ${p999} ms): part of the tail is the client's`);
  }
  for (const node of nodes) {
    const down = peersOf(node.statusAtEnd).filter((p) => p.status !== 'up');
    if (down.length > 0) out.push(`${node.id}: peers not up at the end: ${JSON.stringify(down)}`);
    const everFailed = peersOf(node.statusAtEnd).filter((p) => p.lastError !== undefined && p.lastError !== null);
    if (everFailed.length > 0) out.push(`${node.id}: peers marked down at some point: ${everFailed.map((p) => `${p.id} (${p.lastError}, since ${p.sinceMs})`).join(', ')}`);
    const hints = (node.statusAtEnd as { hints?: { total?: number } }).hints?.total ?? 0;
    if (hints > 0) out.push(`${node.id}: holds ${hints} hints at the end (a peer was treated as down)`);
    const warnLines = (node.log.byLevel.warn ?? 0) + (node.log.byLevel.error ?? 0) + (node.log.byLevel.fatal ?? 0);
    if (warnLines > 0) out.push(`${node.id}: logged ${warnLines} warn/error lines: ${node.log.messages.map((m) => `${m.level} x${m.count} "${m.msg}"`).join('; ')}`);
  }
  return out;
}

function humanTable(load: ClosedLoopResult, run: MixRun, preload: FixedCountResult): string {
  const rows = (['read', 'write'] as const).flatMap((kind) => {
    const k = load.kinds[kind];
    if (k === undefined) return [];
    const l = k.latencyMs;
    const codes = Object.entries(k.labels).map(([c, v]) => `${c}:${v}`).join(' ');
    return [[kind, k.throughputPerS.toFixed(0), l.p50.toFixed(2), l.p99.toFixed(2), l.p99_9.toFixed(2), l.max.toFixed(2), codes]];
  });
  rows.push(['total', load.throughputPerS.toFixed(0), '', '', '', '', '']);
  const nodeRows = run.perNode.map((p, i) => {
    const l = summarize(p.latency);
    return [`n${i + 1}`, String(p.requests), l.p50.toFixed(2), l.p99.toFixed(2), l.max.toFixed(2), String(p.errors), ((run.nodeCpuSeconds[i] ?? 0) / run.loadSeconds).toFixed(2)];
  });
  return `cluster, ${load.clients} clients closed loop, ${load.durationS} s measured; latency ms (send -> response)\n` +
    formatTable(['op', 'req/s', 'p50', 'p99', 'p99.9', 'max', 'status codes'], rows) +
    `\nreads with siblings (300): ${(run.siblings.readsWithSiblingsShare * 100).toFixed(2)}%; ` +
    `preload ${preload.count} keys in ${preload.elapsedS} s (${preload.ratePerS}/s)\n` +
    `cpu during load (cores): nodes ${run.cpuDuringLoad.nodesCores}, client ${run.cpuDuringLoad.clientCores}, ` +
    `other ${run.cpuDuringLoad.otherCores ?? 'n/a'}, steal ${run.cpuDuringLoad.stealCores ?? 'n/a'}; cpu psi ${run.cpuPressureSome}\n\n` +
    formatTable(['node', 'requests', 'p50', 'p99', 'max', 'errors', 'node cpu'], nodeRows) +
    `\n\nreference (quoted from issue 3, not measured here): etcd 3 members, 32 clients: ~${REFERENCE.writesPerS} writes/s, ` +
    `p50 ${REFERENCE.writeLatencyMs.p50} ms, p99 ${REFERENCE.writeLatencyMs.p99} ms`;
}

function siblingCount(body: Buffer | undefined): number {
  if (body === undefined) return 0;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { siblings?: unknown };
    return Array.isArray(parsed.siblings) ? parsed.siblings.length : 0;
  } catch {
    return 0;
  }
}

function label(status: number, error: string | undefined): string {
  return status === 0 ? (error ?? 'error') : String(status);
}



main().catch(async (error: unknown) => {
  if (error instanceof UsageError) log(`${error.message} (see --help)`);
  else log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await stopAllNodes();
  process.exitCode = 1;
});
