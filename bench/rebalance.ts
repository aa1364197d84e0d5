/**
 * Rebalancing benchmark: a 3-node cluster holding --keys keys (default 1,000,000 of 100
 * bytes, N = 3, R = 2, W = 2); a fourth node joins while a steady open-loop foreground
 * load runs through the three original nodes. Reports the transfer rate (MB/s and
 * objects/s), the time until the ring is balanced, and the foreground latency
 * (p50 / p99 / p99.9) before, during and after the transfer.
 *
 *   - Three `node bin/shoal.js start --cluster n1@…,n2@…,n3@… --n 3 --r 2 --w 2 …` on
 *     free loopback ports, data under one temp dir (lib/cluster.ts).
 *   - The keys are loaded either straight into each member's LMDB store before the nodes
 *     start (`--load direct`, the default: lib/preload.ts writes exactly what one PUT per
 *     key stores, on each key's N replicas), or with one HTTP PUT per key (`--load http`).
 *     The nodes' ring is checked against the one the data was placed by, and a sample of
 *     keys is read back over HTTP before anything else happens.
 *   - A fourth node (n4) is started alone (`--listen`, no `--cluster`).
 *   - Foreground: an open loop at --rate requests/s (latency from each request's scheduled
 *     time, no coordinated omission), --read-fraction GETs, the rest PUTs of fresh values
 *     carrying the context of the last answer seen for that key, keys uniform over the
 *     loaded ones, round robin over n1..n3. Phases: warm-up, before (--before-s), during
 *     (from the join request until every node's ring is settled), after (--after-s).
 *   - `POST /admin/join {"seed": <n1's internode address>, "dryRun": false}` to n4, then
 *     `GET /admin/ring` of every node every --poll-ms until each shows no change in
 *     progress and n4 a valid member owning partitions; `GET /admin/transfers` (every
 *     node's sender counters, summed) once a second for the transfer timeline.
 *
 * stdout: one JSON object. stderr: progress and a short table. Also saved under
 * bench/results/ (git-ignored) and to --out FILE.
 *
 *   npm run bench:rebalance -- [--keys 1000000] [--rate 300] [--load direct|http] …   (--help)
 */
import { randomInt } from 'node:crypto';
import { keyBytes, partitionOfKey } from '../src/core/hash.ts';
import { replicasOf } from '../src/core/membership/transfers.ts';
import { makeRing } from '../src/core/ring.ts';
import { Prng } from '../src/sim/prng.ts';
import { parseFlags, usage, UsageError, type FlagSpec } from './lib/args.ts';
import { launchCluster, peersOf, type ShoalCluster } from './lib/cluster.ts';
import { latencyHistogram, summarize, type Histogram, type LatencySummaryMs } from './lib/hdr.ts';
import { KvClient, type KvResult } from './lib/http-client.ts';
import { PhasedOpenLoop, runFixedCount, type OpenLoopRequestResult, type OpenLoopResult, type OpOutcome } from './lib/load.ts';
import { commandLine, cpuShare, machineFacts, nodeCores, sampleCpu, type CpuSample, type CpuShare } from './lib/machine.ts';
import { diffSamples, reportedMetrics, scrapeMetrics, type MetricSamples } from './lib/metrics.ts';
import { launchNode, shellQuote, stopAllNodes, type LogSummary, type ShoalNodeProcess } from './lib/node-process.ts';
import { preloadStores, PRELOAD_ACTOR, type PreloadResult } from './lib/preload.ts';
import { formatTable, log, mib, ratio, saveResults } from './lib/report.ts';
import { keyName, valuePool } from './lib/values.ts';

const flagSpec = {
  numbers: {
    keys: { default: 1_000_000, min: 1, integer: true, help: 'keys loaded before the join (uniform key choice over them)' },
    'value-bytes': { default: 100, min: 1, integer: true, help: 'value size, bytes' },
    rate: { default: 300, min: 1, help: 'foreground offered load, requests per second (open loop)' },
    'read-fraction': { default: 0.5, min: 0, help: 'share of foreground requests that are reads (0..1)' },
    concurrency: { default: 64, min: 1, integer: true, help: 'max in-flight foreground requests' },
    'warmup-s': { default: 5, min: 0, help: 'unmeasured warm-up of the foreground load, seconds' },
    'before-s': { default: 20, min: 1, help: 'measured window before the join, seconds' },
    'after-s': { default: 15, min: 0, help: 'measured window once the old replicas have dropped their copies, seconds' },
    'settle-timeout-s': { default: 1800, min: 1, help: 'give up when the ring has not settled (or the old copies not dropped) after this long, seconds' },
    'poll-ms': { default: 250, min: 10, integer: true, help: 'how often every node\'s /admin/ring is read while rebalancing' },
    'partition-count': { default: 64, min: 1, integer: true, help: 'Q (--partition-count of every node)' },
    'load-concurrency': { default: 32, min: 1, integer: true, help: 'in-flight PUTs with --load http' },
    'verify-keys': { default: 300, min: 0, integer: true, help: 'keys read back over HTTP before the join' },
    seed: { default: -1, integer: true, help: 'seed of values and foreground choices (-1: random, printed)' },
  },
  strings: {
    load: { default: 'direct', help: 'how keys are loaded: direct (into each store before start) or http (one PUT per key)' },
    'node-args': { help: 'extra `shoal start` flags for all four nodes, e.g. "--transfer-concurrency 4"' },
    out: { help: 'also write the JSON results to this file' },
  },
} satisfies FlagSpec;

type Numbers = Record<keyof typeof flagSpec.numbers, number>;

const N = 3;
const R = 2;
const W = 2;
const CONTENT_TYPE = 'application/octet-stream';
/** Counters reported as their change during the foreground load, and gauges at the end. */
const COUNTERS = [
  'shoal_http_requests_total',
  'shoal_read_repairs_total',
  'shoal_forwards_total',
  'shoal_quorum_failures_total',
  'shoal_internode_requests_total',
  'shoal_gossip_exchanges_total',
  'shoal_hints_stored_total',
  'shoal_hint_deliveries_total',
  'shoal_engine_errors_total',
  'shoal_buffer_write_wait_seconds_count',
  'shoal_flush_batch_objects_count',
  'shoal_flush_batch_objects_sum',
];
const GAUGES = ['shoal_ring_version', 'shoal_partitions_owned', 'shoal_transfer_objects_sent', 'shoal_transfer_bytes_sent', 'shoal_dropped_objects', 'shoal_hints', 'shoal_buffer_objects', 'shoal_peers'];

/** A member's ring as `/admin/ring` shows it. */
interface RingBody {
  ringVersion: number;
  members: { id: string; status: string; partitions: number }[];
  owners: string[];
  plan: { ringVersion: number; transfersDone: number; transfersTotal: number } | null;
}

/** `/admin/transfers`: every member's sender counters, summed, and each node's. */
interface TransfersBody {
  plan: { transfersDone: number; transfersTotal: number } | null;
  objectsSent: number;
  bytesSent: number;
  objectsPerS: number;
  bytesPerS: number;
  nodes: Record<string, { objectsSent?: number; bytesSent?: number; error?: string }>;
}

interface PhaseStats {
  name: string;
  /** Every request, latency from its scheduled time (the numbers to quote). */
  load: OpenLoopResult;
  /** Per operation: answered requests by status, latency of the successful ones. */
  read: KindStats;
  write: KindStats;
  cpu: CpuShare & { perNodeCores: Record<string, number> };
}

interface KindStats {
  requests: number;
  labels: Record<string, number>;
  latencyMs: LatencySummaryMs;
}

interface KindRecorder {
  requests: number;
  labels: Record<string, number>;
  latency: Histogram;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('npm run bench:rebalance --', flagSpec) + '\n');
    return;
  }
  const n = flags.numbers as Numbers;
  const loadMethod = flags.strings.load;
  if (loadMethod !== 'direct' && loadMethod !== 'http') throw new UsageError('--load: expected direct or http');
  if (n['read-fraction'] > 1) throw new UsageError('--read-fraction: expected a number between 0 and 1');
  const nodeArgs = (flags.strings['node-args'] ?? '').split(/\s+/).filter((a) => a !== '');
  const seed = n.seed >= 0 ? n.seed : randomInt(0, 2 ** 31 - 1);
  const started = Date.now();
  const machine = machineFacts();
  const command = commandLine();
  const npmCommand = process.env.npm_lifecycle_event === 'bench:rebalance'
    ? `npm run bench:rebalance${process.argv.length > 2 ? ' -- ' + shellQuote(process.argv.slice(2)) : ''}`
    : undefined;
  log(`command: ${npmCommand ?? command}`);
  log(`machine: ${machine.cpuCount} cpu (${machine.cpuModel}), node ${machine.nodeVersion}, load ${machine.loadAvg1m}, cpu pressure ${machine.cpuPressureSome60s ?? 'n/a'}; seed=${seed}`);

  const values = valuePool(n['value-bytes'], seed);
  const valueOf = (i: number): Buffer => values[i % values.length] as Buffer;
  const commonArgs = ['--partition-count', String(n['partition-count']), ...nodeArgs];

  let preload: PreloadResult | undefined;
  const t0 = performance.now();
  log(`starting 3 nodes (N=${N} R=${R} W=${W})${loadMethod === 'direct' ? `, after writing ${n.keys} keys into their stores` : ''}`);
  const cluster = await launchCluster({
    size: 3, n: N, r: R, w: W, args: commonArgs,
    prepare: loadMethod === 'direct'
      ? async (members) => {
        preload = await preloadStores({
          members, keys: n.keys, key: (i) => keyName('k', i), value: valueOf, contentType: CONTENT_TYPE,
          n: N, partitionCount: n['partition-count'], onProgress: (line) => log(`preload: ${line}`),
        });
        log(`preload: ${n.keys} keys (${Object.values(preload.objects).reduce((a, b) => a + b, 0)} replicas) written in ${preload.elapsedS} s`);
      }
      : undefined,
  });
  let node4: ShoalNodeProcess | undefined;
  try {
    const startupMs = Math.round(performance.now() - t0 - (preload?.elapsedS ?? 0) * 1000);
    for (const node of cluster.nodes) log(`${node.id}: pid ${node.pid}, http ${node.httpUrl}, internode ${node.listenAddress}, data ${node.dataDir}`);
    const peersUp = await cluster.waitPeersUp(N);
    log(`nodes serving after ${startupMs} ms; every peer up after ${peersUp.elapsedMs} ms more`);
    const clients = cluster.nodes.map((node) => new KvClient(node.httpUrl, { maxSockets: Math.max(n.concurrency, n['load-concurrency']), timeoutMs: 10_000 }));

    // --- load ---------------------------------------------------------------------------
    let httpLoad: Awaited<ReturnType<typeof runFixedCount>> | undefined;
    if (loadMethod === 'http') {
      log(`load: writing ${n.keys} keys over HTTP, ${n['load-concurrency']} in flight`);
      httpLoad = await runFixedCount({
        count: n.keys,
        concurrency: n['load-concurrency'],
        op: async (seq) => {
          const res = await (clients[seq % clients.length] as KvClient).put(keyName('k', seq), valueOf(seq));
          return { ok: res.status === 204, label: label(res) };
        },
        onProgress: (line) => log(`load: ${line}`),
      });
      log(`load: ${n.keys} keys in ${httpLoad.elapsedS} s (${httpLoad.ratePerS}/s), errors ${httpLoad.errorCount}`);
      if (httpLoad.errorCount > 0) throw new Error(`load: ${httpLoad.errorCount} PUTs failed ${JSON.stringify(httpLoad.errors)}`);
    }
    const ringBefore = await getJson<RingBody>(`${cluster.nodes[0]?.httpUrl}/admin/ring`);
    if (preload !== undefined && ringBefore.owners.join(',') !== preload.ringOwners.join(',')) {
      throw new Error(`the nodes' ring differs from the one the data was placed by:\n nodes:   ${ringBefore.owners.join(',')}\n preload: ${preload.ringOwners.join(',')}`);
    }
    const keysPerPartition = preload?.keysPerPartition ?? countKeysPerPartition(n.keys, n['partition-count']);
    const verify = await verifySample(clients, n, seed, valueOf);
    log(`verify: ${verify.ok}/${verify.sampled} sampled keys read back with their loaded value`);
    if (verify.ok !== verify.sampled) throw new Error(`verify: ${verify.sampled - verify.ok} of ${verify.sampled} sampled keys did not read back: ${JSON.stringify(verify.failures)}`);

    // --- the joining node -----------------------------------------------------------------
    const t4 = performance.now();
    const launched = await launchNode({ id: 'n4', args: ['--n', String(N), '--r', String(R), '--w', String(W), ...commonArgs] });
    node4 = launched.node;
    const node4StartupMs = Math.round(performance.now() - t4);
    log(`n4: pid ${node4.pid}, http ${node4.httpUrl}, internode ${node4.listenAddress}, serving alone after ${node4StartupMs} ms`);
    const allNodes = [...cluster.nodes, node4];

    // --- foreground load and the join -------------------------------------------------------
    const run = await runRebalance(cluster, node4, allNodes, clients, n, seed, keysPerPartition, ringBefore);
    for (const c of clients) c.close();
    cluster.assertRunning('rebalancing');
    node4.assertRunning('rebalancing');

    const statuses = await Promise.all(allNodes.map((node) => getJson<Record<string, unknown>>(`${node.httpUrl}/admin/status`).catch((e: unknown) => ({ error: String(e) }))));
    const nodes = await Promise.all(allNodes.map(async (node, i) => {
      const after = await scrapeMetrics(node.httpUrl);
      const before = run.metricsBefore[i];
      const { config: _config, ...statusAtEnd } = statuses[i] as Record<string, unknown>;
      return {
        id: node.id,
        httpUrl: node.httpUrl,
        listen: node.listenAddress,
        command: shellQuote(node.command),
        rssMiBAtEnd: mib(node.memory().rssBytes),
        metricsDuringLoad: after === undefined ? {} : reportedMetrics(diffSamples(after, before ?? new Map(), GAUGES), COUNTERS, GAUGES),
        statusAtEnd,
        log: node.logSummary(),
      };
    }));
    const dropped = Object.fromEntries(allNodes.map((node, i) => [node.id, droppedObjects(statuses[i])]));

    const phase = (name: string): PhaseStats | undefined => run.phases.find((p) => p.name === name);
    const before = phase('before');
    const during = phase('during');
    const rb = run.rebalance;
    const end = machineFacts();
    const output = {
      benchmark: 'rebalance',
      question: 'A 3-node cluster with --keys keys of --value-bytes bytes; a fourth node joins under a steady foreground load: ' +
        'transfer rate (MB/s, objects/s), time until the ring is balanced, foreground p99 / p99.9 before and during the transfer',
      command: npmCommand ?? command,
      nodeCommand: command,
      startedAt: new Date(started).toISOString(),
      elapsedS: Math.round((Date.now() - started) / 100) / 10,
      machine,
      machineAtEnd: { loadAvg1m: end.loadAvg1m, cpuPressureSome60s: end.cpuPressureSome60s },
      summary: {
        load: {
          method: loadMethod,
          keys: n.keys,
          valueBytes: n['value-bytes'],
          elapsedS: preload?.elapsedS ?? httpLoad?.elapsedS ?? null,
          keysPerS: preload?.keysPerS ?? httpLoad?.ratePerS ?? null,
        },
        transfer: {
          objects: rb.objectsSent,
          bytes: rb.bytesSent,
          timeToBalanceS: rb.timeToBalanceS,
          mbPerS: rb.mbPerS,
          mibPerS: rb.mibPerS,
          objectsPerS: rb.objectsPerS,
          expectedObjects: rb.expectedObjects,
          dropDoneAfterSettleS: run.dropDoneS,
        },
        foregroundMs: Object.fromEntries(run.phases.filter((p) => p.name !== 'warmup').map((p) => [p.name, {
          durationS: p.load.durationS,
          throughputPerS: p.load.throughputPerS,
          p50: p.load.latencyMs.p50,
          p99: p.load.latencyMs.p99,
          p99_9: p.load.latencyMs.p99_9,
          max: p.load.latencyMs.max,
          errors: p.load.errorCount,
        }])),
        duringVsBefore: before === undefined || during === undefined ? null : {
          p50: ratio(during.load.latencyMs.p50, before.load.latencyMs.p50),
          p99: ratio(during.load.latencyMs.p99, before.load.latencyMs.p99),
          p99_9: ratio(during.load.latencyMs.p99_9, before.load.latencyMs.p99_9),
        },
        cpuPressure: Object.fromEntries(run.phases.map((p) => [p.name, p.cpu.cpuPressureSome])),
      },
      options: {
        nodes: '3, then a 4th joins', n: N, r: R, w: W,
        partitionCount: n['partition-count'],
        nodeArgs,
        keys: n.keys,
        valueBytes: n['value-bytes'],
        contentType: CONTENT_TYPE,
        foreground: {
          loop: 'open: request i scheduled at start + i/rate; latency from the scheduled time (no coordinated omission)',
          ratePerS: n.rate,
          concurrency: n.concurrency,
          readFraction: n['read-fraction'],
          keyChoice: 'uniform over the loaded keys',
          routing: 'round robin over n1, n2, n3 (never n4)',
          writes: 'a fresh value carrying the X-Shoal-Context of the last answer seen for that key (none the first time)',
          ok: 'reads 200 or 300, writes 204; anything else (404 included: every key was loaded) is an error',
          phases: `warmup ${n['warmup-s']} s (a loop of its own, drained; not in the summary), before ${n['before-s']} s, during (from the join request until every node's ring settled), ` +
            `drop (from then until every old replica deleted the copies it handed over, dropDelayMs after settling), after ${n['after-s']} s`,
        },
        seed,
      },
      load: {
        method: loadMethod,
        description: loadMethod === 'direct'
          ? `written into each member's LMDB store before the nodes started, exactly as one PUT per key without a context stores it (bench/lib/preload.ts): the object putObject makes for a first write (actor ${PRELOAD_ACTOR}), encoded by the object codec, on the key's N replicas of the ring initialClusterState founds`
          : `one HTTP PUT per key without a context, ${n['load-concurrency']} in flight, round robin over n1..n3`,
        keys: n.keys,
        direct: preload === undefined ? undefined : {
          elapsedS: preload.elapsedS,
          keysPerS: preload.keysPerS,
          objectsPerNode: preload.objects,
          bytesPerNode: preload.bytes,
          encodedObjectBytes: preload.encodedObjectBytes,
        },
        http: httpLoad,
        ringChecked: preload !== undefined ? 'the nodes\' /admin/ring owners equal the ring the data was placed by' : undefined,
        verify,
      },
      cluster: {
        members: cluster.members,
        startupMs,
        peersUpAfterMs: peersUp.elapsedMs,
        node4: { listen: node4.listenAddress, http: node4.httpUrl, startupMs: node4StartupMs },
        ringBefore: { ringVersion: ringBefore.ringVersion, members: ringBefore.members },
      },
      rebalance: { ...rb, dropDoneAfterSettleS: run.dropDoneS, droppedObjectsAtEnd: dropped, afterSettleTimeline: run.afterTimeline },
      foreground: Object.fromEntries(run.phases.map((p) => [p.name, { load: p.load, read: p.read, write: p.write }])),
      cpu: Object.fromEntries(run.phases.map((p) => [p.name, p.cpu])),
      phaseStartsS: run.phaseStartsS,
      /** Second by second from the start of the before window, by scheduled time. */
      timeline: run.timeline,
      cpuTimeline: run.cpuTimeline,
      nodes,
      warnings: [] as string[],
    };
    output.warnings = warnings(run, nodes);

    process.stderr.write('\n' + humanTable(run) + '\n');
    for (const w of output.warnings) log(`WARNING: ${w}`);
    const paths = saveResults('rebalance', output, flags.strings.out);
    log(`results: ${paths.join(', ')}`);
    process.stdout.write(JSON.stringify(output, null, 2) + '\n');
  } finally {
    await Promise.all([cluster.stop(), node4?.stop()]);
  }
}

// --- the run ---------------------------------------------------------------------------------

interface RebalanceResult {
  joinRequestMs: number;
  joinResponse: unknown;
  ringVersion: number;
  transfersTotal: number;
  /** From the join request until every node's ring showed the change settled. */
  timeToBalanceS: number;
  /** Per node: seconds from the join request until its ring showed the change settled. */
  settledAtS: Record<string, number>;
  /** Objects and bytes the members' transfer senders counted for this change (keys + encoded objects). */
  objectsSent: number;
  bytesSent: number;
  perNode: TransfersBody['nodes'];
  /** objectsSent / bytesSent over timeToBalanceS. */
  objectsPerS: number;
  mbPerS: number;
  mibPerS: number;
  /** Highest sender rate seen in the timeline (the nodes' own windowed rates, summed). */
  peakObjectsPerS: number;
  peakMbPerS: number;
  /** Key replicas that move: per partition, its keys times the replicas the new ring adds. */
  expectedObjects: number;
  /** Per old member, the key replicas it no longer holds in the new ring (dropped after the drop delay). */
  expectedDropped: Record<string, number>;
  ringAfter: { ringVersion: number; members: RingBody['members'] };
  /** Once a second from the join request: transfers done (n4's view) and the senders' counters. */
  timeline: { tS: number; transfersDone: number | null; objectsSent: number; bytesSent: number; objectsPerS: number; bytesPerS: number }[];
}

interface RunResult {
  /** When each phase started, seconds from the start of the before window (the warm-up's is negative). */
  phaseStartsS: Record<string, number>;
  phases: PhaseStats[];
  rebalance: RebalanceResult;
  /** Foreground requests by the second they were scheduled in, from the start of the before window. */
  timeline: { s: number; phase: string; ok: number; errors: number; p50Ms: number; p99Ms: number; maxMs: number }[];
  /** Once a second (tS: end of the second, from the start of the before window; negative during the warm-up). */
  cpuTimeline: (CpuShare & { tS: number })[];
  /** Once a second after the ring settled: hints each node holds, and objects each has dropped. */
  afterTimeline: AfterSample[];
  /** Seconds from the ring settling until every old replica had deleted what it handed over; null if it did not within the timeout. */
  dropDoneS: number | null;
  metricsBefore: (MetricSamples | undefined)[];
}

interface AfterSample {
  phase: string;
  /** Seconds after the ring settled. */
  tS: number;
  hints: Record<string, number | null>;
  droppedObjects: Record<string, number | null>;
}

/**
 * Reads every node's /admin/status once a second (hints held, objects dropped) until
 * `done` holds for a sample or `maxS` seconds passed; returns the samples and whether
 * `done` was reached.
 */
async function watchNodes(
  nodes: readonly ShoalNodeProcess[], phase: string, settledAt: number, maxS: number, done: (sample: AfterSample) => boolean,
): Promise<{ samples: AfterSample[]; reached: boolean }> {
  const samples: AfterSample[] = [];
  const t0 = performance.now();
  const end = t0 + maxS * 1000;
  for (let next = t0; next < end; next += 1000) {
    await sleep(Math.max(0, next - performance.now()));
    const statuses = await Promise.all(nodes.map((node) => getJson<Record<string, unknown>>(`${node.httpUrl}/admin/status`).catch(() => undefined)));
    const sample = {
      phase,
      tS: Math.round(performance.now() - settledAt) / 1000,
      hints: Object.fromEntries(nodes.map((node, i) => [node.id, hintsHeld(statuses[i])])),
      droppedObjects: Object.fromEntries(nodes.map((node, i) => [node.id, droppedObjects(statuses[i])])),
    };
    samples.push(sample);
    if (done(sample)) return { samples, reached: true };
  }
  await sleep(Math.max(0, end - performance.now()));
  return { samples, reached: false };
}

async function runRebalance(
  cluster: ShoalCluster, node4: ShoalNodeProcess, allNodes: readonly ShoalNodeProcess[], clients: readonly KvClient[],
  n: Numbers, seed: number, keysPerPartition: readonly number[], ringBefore: RingBody,
): Promise<RunResult> {
  const rng = Prng.fromSeed(seed).fork('foreground');
  const writeValues = valuePool(n['value-bytes'], seed + 1);
  const contexts = new Map<number, string>();
  const kindOf = new Map<number, 'read' | 'write'>();
  const kinds = new Map<string, { read: KindRecorder; write: KindRecorder }>();
  const seconds: { phase: string; latencies: number[]; errors: number }[] = [];

  const op = async (seq: number): Promise<OpOutcome> => {
    const isRead = rng.next() < n['read-fraction'];
    const i = rng.int(n.keys);
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
    if (r.phase === 'warmup') return;
    const s = Math.floor(r.scheduledAtS);
    while (seconds.length <= s) seconds.push({ phase: r.phase, latencies: [], errors: 0 });
    const second = seconds[s] as { phase: string; latencies: number[]; errors: number };
    if (r.ok) second.latencies.push(r.latencyMs);
    else second.errors++;
  };

  const metricsBefore = await Promise.all(allNodes.map((node) => scrapeMetrics(node.httpUrl)));
  const cpuSamples: (CpuShare & { atMs: number })[] = [];
  let lastSample = sampleCpu(allNodes);
  const sampler = setInterval(() => {
    const sample = sampleCpu(allNodes);
    cpuSamples.push({ atMs: sample.atMs, ...cpuShare(lastSample, sample) });
    lastSample = sample;
  }, 1000);
  const phaseStarts: Record<string, number> = {};
  const phaseCpu: { name: string; from: CpuSample; to?: CpuSample }[] = [];
  const loopOptions = { ratePerS: n.rate, concurrency: n.concurrency, op, onResult, onProgress: (line: string) => log(`load: ${line}`) };
  let loop: PhasedOpenLoop | undefined;
  const enter = (name: string): void => {
    const sample = sampleCpu(allNodes);
    const last = phaseCpu[phaseCpu.length - 1];
    if (last !== undefined) last.to = sample;
    phaseCpu.push({ name, from: sample });
    phaseStarts[name] = sample.atMs;
    if (loop === undefined) loop = new PhasedOpenLoop(loopOptions, name);
    else loop.phase(name);
    log(`phase: ${name}`);
  };
  log(`foreground: ${n.rate} req/s open loop, ${Math.round(n['read-fraction'] * 100)}% reads over ${n.keys} keys, through n1..n3`);
  let rebalance: RebalanceResult;
  let afterTimeline: AfterSample[] = [];
  let dropDoneS: number | null = null;
  const phases: { name: string; result: OpenLoopResult }[] = [];
  try {
    if (n['warmup-s'] > 0) {
      // The warm-up is a loop of its own, drained before the measured one starts, so a
      // backlog of a cold start does not leak into the before window.
      enter('warmup');
      await sleep(n['warmup-s'] * 1000);
      phases.push(...(await (loop as PhasedOpenLoop).stop()));
      loop = undefined;
    }
    enter('before');
    await sleep(n['before-s'] * 1000);
    cluster.assertRunning('the before window');
    enter('during');
    rebalance = await joinAndSettle(cluster, node4, allNodes, n, keysPerPartition, ringBefore);
    const settledAt = performance.now();
    enter('drop');
    const expected = rebalance.expectedDropped;
    const drop = await watchNodes(allNodes, 'drop', settledAt, n['settle-timeout-s'], (sample) =>
      Object.entries(expected).every(([id, count]) => (sample.droppedObjects[id] ?? 0) >= count));
    dropDoneS = drop.reached ? (drop.samples[drop.samples.length - 1] as AfterSample).tS : null;
    log(drop.reached ? `drop: the old replicas deleted every copy they handed over ${dropDoneS} s after the ring settled` : 'drop: not complete, giving up');
    enter('after');
    const after = await watchNodes(allNodes, 'after', settledAt, n['after-s'], () => false);
    afterTimeline = [...drop.samples, ...after.samples];
  } finally {
    if (loop !== undefined) phases.push(...(await loop.stop()));
    clearInterval(sampler);
    const last = phaseCpu[phaseCpu.length - 1];
    if (last !== undefined) last.to = sampleCpu(allNodes);
  }
  const ids = allNodes.map((node) => node.id);
  const origin = phaseStarts.before ?? 0;
  const sinceBefore = (atMs: number): number => Math.round(atMs - origin) / 1000;
  return {
    phaseStartsS: Object.fromEntries(Object.entries(phaseStarts).map(([name, atMs]) => [name, sinceBefore(atMs)])),
    phases: phases.map(({ name, result }, i) => {
      const byKind = kinds.get(name);
      const cpu = phaseCpu[i] as { from: CpuSample; to: CpuSample };
      const cores = nodeCores(cpu.from, cpu.to);
      return {
        name,
        load: result,
        read: kindStats(byKind?.read),
        write: kindStats(byKind?.write),
        cpu: { ...cpuShare(cpu.from, cpu.to), perNodeCores: Object.fromEntries(ids.map((id, j) => [id, cores[j] ?? 0])) },
      };
    }),
    rebalance,
    timeline: seconds.map((s, i) => {
      const sorted = s.latencies.sort((a, b) => a - b);
      const at = (q: number): number => round3(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
      return { s: i, phase: s.phase, ok: sorted.length, errors: s.errors, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: round3(sorted[sorted.length - 1] ?? 0) };
    }),
    cpuTimeline: cpuSamples.map(({ atMs, ...share }) => ({ tS: sinceBefore(atMs), ...share })),
    afterTimeline,
    dropDoneS,
    metricsBefore,
  };
}

/** Sends the join to n4, then polls every node's ring until the change settled everywhere. */
async function joinAndSettle(
  cluster: ShoalCluster, node4: ShoalNodeProcess, allNodes: readonly ShoalNodeProcess[],
  n: Numbers, keysPerPartition: readonly number[], ringBefore: RingBody,
): Promise<RebalanceResult> {
  const seed = (cluster.nodes[0] as ShoalNodeProcess).listenAddress;
  const t0 = performance.now();
  const sinceS = (): number => Math.round(performance.now() - t0) / 1000;
  log(`join: POST ${node4.httpUrl}/admin/join {"seed":"${seed}","dryRun":false}`);
  const res = await fetch(`${node4.httpUrl}/admin/join`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ seed, dryRun: false }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = await res.text();
  const joinRequestMs = Math.round(performance.now() - t0);
  if (res.status !== 200) throw new Error(`join: ${res.status} ${body}`);
  const join = JSON.parse(body) as { applied: boolean; plan: { ringVersion: number; transfersTotal: number; transfers?: unknown[] } & Record<string, unknown> };
  if (!join.applied) throw new Error(`join: not applied: ${body.slice(0, 500)}`);
  const ringVersion = join.plan.ringVersion;
  const transfersTotal = join.plan.transfersTotal;
  const { transfers: _transfers, ...planShown } = join.plan;
  log(`join: applied in ${joinRequestMs} ms: ring version ${ringVersion}, ${transfersTotal} partition transfers, estimate ${JSON.stringify(join.plan.estimate)}`);

  const settledAtS: Record<string, number> = {};
  const timeline: RebalanceResult['timeline'] = [];
  let lastTransfers: TransfersBody | undefined;
  let transfersDone: number | null = null;
  let nextTimelineAt = 0;
  let nextLogAt = 5;
  const deadline = performance.now() + n['settle-timeout-s'] * 1000;
  for (;;) {
    cluster.assertRunning('rebalancing');
    node4.assertRunning('rebalancing');
    const rings = await Promise.all(allNodes.map((node) => getJson<RingBody>(`${node.httpUrl}/admin/ring`).catch(() => undefined)));
    rings.forEach((ring, i) => {
      const id = (allNodes[i] as ShoalNodeProcess).id;
      if (ring !== undefined && settledAtS[id] === undefined && isSettled(ring, ringVersion, node4.id)) settledAtS[id] = sinceS();
    });
    const view4 = rings[allNodes.length - 1];
    if (view4 !== undefined && view4.plan !== null) transfersDone = view4.plan.transfersDone;
    else if (view4 !== undefined && view4.ringVersion >= ringVersion) transfersDone = transfersTotal;
    const allSettled = allNodes.every((node) => settledAtS[node.id] !== undefined);
    if (sinceS() >= nextTimelineAt || allSettled) {
      nextTimelineAt = Math.floor(sinceS()) + 1;
      const t = await getJson<TransfersBody>(`${node4.httpUrl}/admin/transfers`).catch(() => undefined);
      if (t !== undefined) {
        lastTransfers = t;
        timeline.push({ tS: sinceS(), transfersDone, objectsSent: t.objectsSent, bytesSent: t.bytesSent, objectsPerS: t.objectsPerS, bytesPerS: t.bytesPerS });
      }
      if (sinceS() >= nextLogAt) {
        nextLogAt += 5;
        log(`rebalance: t=${sinceS().toFixed(0)}s transfers ${transfersDone ?? '?'}/${transfersTotal}, sent ${t?.objectsSent ?? '?'} objects (${t === undefined ? '?' : (t.bytesSent / 1e6).toFixed(1)} MB), ${t?.objectsPerS ?? '?'} objects/s now; settled: ${Object.keys(settledAtS).join(',') || 'none'}`);
      }
    }
    if (allSettled) break;
    if (performance.now() > deadline) throw new Error(`the ring did not settle within ${n['settle-timeout-s']} s (settled: ${JSON.stringify(settledAtS)}; transfers ${transfersDone}/${transfersTotal})`);
    await sleep(n['poll-ms']);
  }
  const timeToBalanceS = Math.max(...Object.values(settledAtS));
  log(`rebalance: every node settled ${timeToBalanceS} s after the join request (${JSON.stringify(settledAtS)})`);
  // Final counters: the senders keep them until the next change.
  const final = (await getJson<TransfersBody>(`${node4.httpUrl}/admin/transfers`).catch(() => undefined)) ?? lastTransfers;
  const ringAfter = await getJson<RingBody>(`${(cluster.nodes[0] as ShoalNodeProcess).httpUrl}/admin/ring`);
  const moved = expectedMovement(ringBefore, ringAfter, keysPerPartition);
  const objectsSent = final?.objectsSent ?? 0;
  const bytesSent = final?.bytesSent ?? 0;
  const peak = timeline.reduce((m, t) => ({ objects: Math.max(m.objects, t.objectsPerS), bytes: Math.max(m.bytes, t.bytesPerS) }), { objects: 0, bytes: 0 });
  return {
    joinRequestMs,
    joinResponse: { applied: join.applied, plan: planShown },
    ringVersion,
    transfersTotal,
    timeToBalanceS,
    settledAtS,
    objectsSent,
    bytesSent,
    perNode: final?.nodes ?? {},
    objectsPerS: Math.round(objectsSent / timeToBalanceS),
    mbPerS: Math.round((bytesSent / 1e6 / timeToBalanceS) * 100) / 100,
    mibPerS: Math.round((bytesSent / 1048576 / timeToBalanceS) * 100) / 100,
    peakObjectsPerS: peak.objects,
    peakMbPerS: Math.round((peak.bytes / 1e6) * 100) / 100,
    expectedObjects: moved.gained,
    expectedDropped: moved.lost,
    ringAfter: { ringVersion: ringAfter.ringVersion, members: ringAfter.members },
    timeline,
  };
}

/** The change of `ringVersion` has settled in this node's view, with `joiner` a valid member owning partitions. */
function isSettled(ring: RingBody, ringVersion: number, joiner: string): boolean {
  const member = ring.members.find((m) => m.id === joiner);
  return ring.plan === null && ring.ringVersion >= ringVersion && member?.status === 'valid' && member.partitions > 0;
}

/** Key replicas each member gains and loses from ring `a` to ring `b`, given the keys per partition. */
function expectedMovement(a: RingBody, b: RingBody, keysPerPartition: readonly number[]): { gained: number; lost: Record<string, number> } {
  const ringOf = (r: RingBody): ReturnType<typeof makeRing> => makeRing([...new Set(r.owners)], r.owners);
  const before = ringOf(a);
  const after = ringOf(b);
  let gained = 0;
  const lost: Record<string, number> = {};
  keysPerPartition.forEach((keys, p) => {
    const old = replicasOf(before, p, N);
    const now = replicasOf(after, p, N);
    gained += keys * now.filter((id) => !old.includes(id)).length;
    for (const id of old.filter((o) => !now.includes(o))) lost[id] = (lost[id] ?? 0) + keys;
  });
  return { gained, lost };
}

function countKeysPerPartition(keys: number, partitionCount: number): number[] {
  const counts = new Array<number>(partitionCount).fill(0);
  for (let i = 0; i < keys; i++) {
    const p = partitionOfKey(keyBytes(keyName('k', i)), partitionCount);
    counts[p] = (counts[p] ?? 0) + 1;
  }
  return counts;
}

/** Reads a random sample of the loaded keys through n1..n3: each must answer 200 with its loaded value. */
async function verifySample(clients: readonly KvClient[], n: Numbers, seed: number, valueOf: (i: number) => Buffer): Promise<{ sampled: number; ok: number; failures: { key: string; status: number | string }[] }> {
  const rng = Prng.fromSeed(seed).fork('verify sample');
  const failures: { key: string; status: number | string }[] = [];
  const sampled = Math.min(n['verify-keys'], n.keys);
  let ok = 0;
  await Promise.all(Array.from({ length: 16 }, async (_, worker) => {
    for (let j = worker; j < sampled; j += 16) {
      const i = j < 2 ? [0, n.keys - 1][j] as number : rng.int(n.keys);
      const key = keyName('k', i);
      const res = await (clients[j % clients.length] as KvClient).get(key);
      if (res.status === 200 && res.body !== undefined && Buffer.compare(res.body, valueOf(i)) === 0) ok++;
      else if (failures.length < 10) failures.push({ key, status: res.status === 200 ? 'wrong value' : label(res) });
    }
  }));
  return { sampled, ok, failures };
}

// --- reporting --------------------------------------------------------------------------------

function kindRecorder(): KindRecorder {
  return { requests: 0, labels: {}, latency: latencyHistogram() };
}

function kindStats(k: KindRecorder | undefined): KindStats {
  const rec = k ?? kindRecorder();
  return { requests: rec.requests, labels: rec.labels, latencyMs: summarize(rec.latency) };
}

function hintsHeld(status: unknown): number | null {
  const value = (status as { hints?: { total?: unknown } } | undefined)?.hints?.total;
  return typeof value === 'number' ? value : null;
}

function droppedObjects(status: unknown): number | null {
  const value = (status as { cluster?: { droppedObjects?: unknown } } | undefined)?.cluster?.droppedObjects;
  return typeof value === 'number' ? value : null;
}

interface NodeReport {
  id: string;
  statusAtEnd: Record<string, unknown>;
  log: LogSummary;
}

function warnings(run: RunResult, nodes: readonly NodeReport[]): string[] {
  const out: string[] = [];
  const rb = run.rebalance;
  for (const p of run.phases) {
    if (p.name === 'warmup') continue;
    if (p.load.errorCount > 0) out.push(`${p.name}: ${p.load.errorCount} of ${p.load.scheduled} foreground requests failed ${JSON.stringify(p.load.errors)}`);
    if (p.load.saturated) out.push(`${p.name}: the cluster did not keep up with ${p.load.offeredRatePerS} req/s (throughput ${p.load.throughputPerS}/s, ${p.load.unfinished} unfinished): lower --rate`);
    if (p.cpu.cpuPressureSome !== null && p.cpu.cpuPressureSome >= 0.3) out.push(`${p.name}: busy machine: some task waited for a CPU ${Math.round(p.cpu.cpuPressureSome * 100)}% of the time (other work ${p.cpu.otherCores ?? 'n/a'} cores)`);
    if (p.load.clientLoopDelayMs.max >= 0.5 * p.load.latencyMs.p99_9 && p.load.latencyMs.p99_9 > 0) {
      out.push(`${p.name}: the load generator's own event loop stalled up to ${p.load.clientLoopDelayMs.max} ms (p99.9 ${p.load.latencyMs.p99_9} ms): part of the tail is the client's`);
    }
  }
  if (rb.objectsSent < rb.expectedObjects) out.push(`transfer: the senders counted ${rb.objectsSent} objects, fewer than the ${rb.expectedObjects} key replicas the new ring moves`);
  if (rb.objectsSent > rb.expectedObjects * 1.01 + 100) out.push(`transfer: the senders counted ${rb.objectsSent} objects for ${rb.expectedObjects} key replicas that move (resent batches, or keys written during the transfer)`);
  const lastS = run.afterTimeline[run.afterTimeline.length - 1]?.tS ?? 0;
  for (const [id, expected] of Object.entries(rb.expectedDropped)) {
    const node = nodes.find((x) => x.id === id);
    const dropped = droppedObjects(node?.statusAtEnd);
    if (dropped !== null && dropped < expected) out.push(`${id}: dropped ${dropped} of the ${expected} key replicas it handed over by the end`);
  }
  for (const node of nodes) {
    const hints = (node.statusAtEnd as { hints?: { total?: number; byTarget?: Record<string, number> } }).hints;
    if ((hints?.total ?? 0) > 0) out.push(`${node.id}: holds ${hints?.total} hints at the end (${JSON.stringify(hints?.byTarget)}), ${lastS} s after the ring settled`);
    const everFailed = peersOf(node.statusAtEnd).filter((p) => p.lastError !== undefined && p.lastError !== null);
    if (everFailed.length > 0) out.push(`${node.id}: peers marked down at some point: ${everFailed.map((p) => `${p.id} (${p.lastError})`).join(', ')}`);
    const warnLines = (node.log.byLevel.warn ?? 0) + (node.log.byLevel.error ?? 0) + (node.log.byLevel.fatal ?? 0);
    if (warnLines > 0) out.push(`${node.id}: logged ${warnLines} warn/error lines: ${node.log.messages.map((m) => `${m.level} x${m.count} "${m.msg}"`).join('; ')}`);
  }
  return out;
}

function humanTable(run: RunResult): string {
  const rows = run.phases.filter((p) => p.name !== 'warmup').map((p) => {
    const l = p.load.latencyMs;
    return [p.name, p.load.durationS.toFixed(1), p.load.throughputPerS.toFixed(0), l.p50.toFixed(2), l.p99.toFixed(2), l.p99_9.toFixed(2), l.max.toFixed(2),
      String(p.load.errorCount), String(p.cpu.nodesCores), String(p.cpu.otherCores ?? 'n/a'), String(p.cpu.cpuPressureSome ?? 'n/a')];
  });
  const rb = run.rebalance;
  return `foreground latency, ms from scheduled time (open loop)\n` +
    formatTable(['phase', 's', 'req/s', 'p50', 'p99', 'p99.9', 'max', 'errors', 'node cpu', 'other cpu', 'cpu psi'], rows) +
    `\n\nrebalance: ${rb.transfersTotal} partition transfers, ${rb.objectsSent} objects (${rb.expectedObjects} key replicas move), ` +
    `${(rb.bytesSent / 1e6).toFixed(1)} MB in ${rb.timeToBalanceS} s: ${rb.mbPerS} MB/s, ${rb.objectsPerS} objects/s ` +
    `(peak ${rb.peakMbPerS} MB/s, ${rb.peakObjectsPerS} objects/s)`;
}

// --- helpers ------------------------------------------------------------------------------------

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${body.slice(0, 300)}`);
  return JSON.parse(body) as T;
}

function label(res: KvResult): string {
  return res.status === 0 ? (res.error ?? 'error') : String(res.status);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
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
