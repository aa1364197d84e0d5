/**
 * Paper section 6.1: the in-memory object buffer and write latency.
 *
 * Dynamo reports that buffering writes in memory, flushed by a background writer, cuts
 * the 99.9th-percentile write latency about fivefold (buffer of ~1,000 objects) compared
 * to every write going durably to the storage engine. This benchmark starts one real node
 * per configuration and drives both with the same fixed, open-loop offered load:
 *
 *   durable   --buffer-objects-max 0    --durable-writes all   (every write persisted+fsynced)
 *   buffered  --buffer-objects-max 1000 --durable-writes none  (N = 1: the buffer itself)
 *
 * Then, on a fresh buffered node, it writes --memory-keys distinct keys and samples the
 * node's resident memory at 10/25/50/100% of them (is RSS flat in the key count?).
 *
 * stdout: one JSON object. stderr: progress and a short table. Also saved under
 * bench/results/ (git-ignored) and to --out FILE.
 *
 *   npm run bench:buffer -- [--rate 500] [--duration-s 60] [--warmup-s 10] …   (--help)
 */
import { randomInt } from 'node:crypto';
import type { Random } from '../src/ports/random.ts';
import { Prng } from '../src/sim/prng.ts';
import { parseFlags, usage, UsageError, type FlagSpec } from './lib/args.ts';
import { dirSize, type DirSize } from './lib/disk.ts';
import { KvClient } from './lib/http-client.ts';
import { OpenLoopRecorder, runFixedCount, runOpenLoop, type FixedCountResult, type OpenLoopResult, type OpOutcome } from './lib/load.ts';
import { commandLine, cpuPressure, machineFacts } from './lib/machine.ts';
import { launchNode, shellQuote, stopAllNodes, type MemorySample, type ShoalNodeProcess } from './lib/node-process.ts';
import { nodeWriteStats, type NodeWriteStats } from './lib/metrics.ts';
import { publishResults } from './lib/html-report.ts';
import { formatTable, log, mib, ratio } from './lib/report.ts';
import { bufferSections } from './lib/report-sections.ts';
import { keyName, valuePool } from './lib/values.ts';

const flagSpec = {
  numbers: {
    rate: { default: 500, min: 1, help: 'offered load, writes per second (open loop)' },
    'duration-s': { default: 60, min: 1, help: 'measured duration per configuration (all rounds), seconds' },
    rounds: { default: 3, min: 1, integer: true, help: 'alternating slices per configuration (duration split evenly)' },
    'warmup-s': { default: 10, min: 0, help: 'warm-up before measuring (same rate), seconds' },
    concurrency: { default: 64, min: 1, integer: true, help: 'max in-flight requests (= keep-alive connections)' },
    keys: { default: 100_000, min: 1, integer: true, help: 'key space of the latency runs' },
    'value-bytes': { default: 100, min: 0, integer: true, help: 'value size, bytes' },
    'memory-keys': { default: 1_000_000, min: 1, integer: true, help: 'distinct keys written in the memory phase' },
    'memory-concurrency': { default: 32, min: 1, integer: true, help: 'in-flight requests in the memory phase' },
    'buffer-objects': { default: 1000, min: 1, integer: true, help: 'buffer size of the buffered configuration' },
    seed: { default: -1, integer: true, help: 'key-choice seed (-1: random, printed)' },
  },
  booleans: {
    'skip-memory': { help: 'skip the memory phase' },
    'skip-latency': { help: 'skip the latency comparison (memory phase only)' },
    'no-context': { help: 'blind writes: do not send back the context of the previous write to a key' },
  },
  strings: {
    out: { help: 'also write the JSON results to this file' },
  },
} satisfies FlagSpec;

type Numbers = Record<keyof typeof flagSpec.numbers, number>;

interface Config {
  name: 'durable' | 'buffered';
  description: string;
  nodeArgs: string[];
}

interface ConfigResult {
  name: string;
  description: string;
  nodeCommand: string;
  nodeStatusAtStart: unknown;
  /** All slices merged: the numbers to quote. */
  load: OpenLoopResult;
  /** Each slice on its own, in the order run. */
  slices: SliceSummary[];
  /** CPU the node used during warm-up + measurement, as a fraction of one core. */
  nodeCpuCores: number;
  /**
   * Share of this config's run time in which some task on the machine waited for a CPU
   * (Linux PSI; includes the node and the load generator themselves). Compare between configs.
   */
  cpuPressureSome: number;
  nodeMemoryAfter: MemorySample;
  dataDirAfter: DirSize;
  /** From the node's /metrics since it started (warm-up included); null if unavailable. */
  nodeMetrics: NodeWriteStats | null;
}

/** One slice's own numbers (latencies in ms), to show the spread between slices. */
interface SliceSummary {
  throughputPerS: number;
  p50: number;
  p99: number;
  p99_9: number;
  max: number;
  /** When the slowest request was scheduled, seconds into the slice. */
  maxAtS: number;
  errors: number;
  maxBacklog: number;
  clientLoopDelayMaxMs: number;
  warmup: OpenLoopResult['warmup'] | null;
}


interface MemoryPoint {
  keysWritten: number;
  fractionOfKeys: number;
  elapsedS: number;
  rssMiB: number;
  rssAnonMiB: number;
  rssFileMiB: number;
}

interface MemoryResult {
  nodeCommand: string;
  keys: number;
  valueBytes: number;
  concurrency: number;
  baseline: MemoryPoint;
  samples: MemoryPoint[];
  /** 5 s after the last write (background flush done). */
  afterIdle: MemoryPoint;
  peakRssMiB: number;
  /** RSS growth per key from the 10% sample to the 100% sample. */
  rssBytesPerKey10to100: number;
  rssAnonBytesPerKey10to100: number;
  /** One sentence reading the numbers above. */
  reading: string;
  write: FixedCountResult;
  nodeMetrics: NodeWriteStats | null;
  /** Data dir after a graceful stop (buffer flushed). */
  dataDir: { apparentMiB: number; allocatedMiB: number; files: number; bytesPerKey: number };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flags = parseFlags(argv, flagSpec);
  if (flags.help) {
    process.stderr.write(usage('npm run bench:buffer --', flagSpec) + '\n');
    return;
  }
  const n = flags.numbers as Numbers;
  const seed = n.seed >= 0 ? n.seed : randomInt(0, 2 ** 31 - 1);
  const started = Date.now();
  const machine = machineFacts();
  const command = commandLine();
  log(`command: ${command}`);
  log(`machine: ${machine.cpuCount} cpu (${machine.cpuModel}), node ${machine.nodeVersion}, load ${machine.loadAvg1m}, cpu pressure ${machine.cpuPressureSome60s ?? "n/a"}; seed=${seed}`);

  const configs: Config[] = [
    {
      name: 'durable',
      description: 'buffer off, every write persisted and fsynced before the reply',
      nodeArgs: ['--buffer-objects-max', '0', '--durable-writes', 'all'],
    },
    {
      name: 'buffered',
      description: `in-memory buffer of ${n['buffer-objects']} objects, background flush, no durable replica`,
      nodeArgs: ['--buffer-objects-max', String(n['buffer-objects']), '--durable-writes', 'none'],
    },
  ];
  const values = valuePool(n['value-bytes'], seed);

  const latency = flags.booleans['skip-latency'] ? null : await runLatencyPhase(configs, n, seed, values, !flags.booleans['no-context']);
  const memory = flags.booleans['skip-memory']
    ? null
    : await runMemoryPhase(configs[1]?.nodeArgs ?? [], n['memory-keys'], n['memory-concurrency'], values);

  const end = machineFacts();
  const output = {
    benchmark: 'buffer',
    question: 'Paper 6.1: does the in-memory object buffer cut p99.9 write latency ~5x vs durable writes?',
    paperClaim: { p99_9Ratio: 5, bufferObjects: 1000 },
    command,
    machine,
    /** Load when the run ended (other work on a shared machine shows here). */
    machineAtEnd: { loadAvg1m: end.loadAvg1m, cpuPressureSome60s: end.cpuPressureSome60s },
    startedAt: new Date(started).toISOString(),
    elapsedS: Math.round((Date.now() - started) / 100) / 10,
    seed,
    options: {
      ratePerS: n.rate,
      durationS: n['duration-s'],
      rounds: n.rounds,
      warmupS: n['warmup-s'],
      rewarmS: Math.min(n['warmup-s'], 1),
      concurrency: n.concurrency,
      keys: n.keys,
      valueBytes: n['value-bytes'],
      bufferObjects: n['buffer-objects'],
      memoryKeys: memory === null ? 0 : n['memory-keys'],
      memoryConcurrency: n['memory-concurrency'],
      contexts: flags.booleans['no-context'] ? 'none (blind writes)' : 'each write sends the context returned by the previous write to its key',
      seed,
      latencyMeasuredFrom: 'scheduled start (open loop, coordinated-omission free)',
    },
    results: latency === null ? null : { durable: latency.durable, buffered: latency.buffered },
    ratiosDurableOverBuffered: latency?.ratios ?? null,
    warnings: latency === null ? [] : warnings([latency.durable, latency.buffered]),
    memory,
  };

  process.stderr.write('\n' + humanTable(latency, memory) + '\n');
  for (const w of output.warnings) log(`WARNING: ${w}`);
  publishResults('buffer', output, bufferSections(output), flags.strings.out, 'Shoal: buffered vs durable writes (paper 6.1)');
}

interface LatencyPhase {
  durable: ConfigResult;
  buffered: ConfigResult;
  ratios: { p50: number | null; p99: number | null; p99_9: number | null };
}

/**
 * Both nodes stay up and take the load in alternating slices (A B, B A, A B, …), so drift
 * in background load on a shared machine hits both configurations alike.
 */
async function runLatencyPhase(configs: Config[], n: Numbers, seed: number, values: Buffer[], trackContexts: boolean): Promise<LatencyPhase> {
  const rounds = n.rounds;
  const sliceS = n['duration-s'] / rounds;
  const runs: ConfigRun[] = [];
  for (const config of configs) runs.push(await startConfig(config, n, Prng.fromSeed(seed), values, trackContexts));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? runs : [...runs].reverse();
    for (const run of order) {
      const warmupS = round === 0 ? n['warmup-s'] : Math.min(n['warmup-s'], 1);
      log(`round ${round + 1}/${rounds}: ${run.config.name} at ${n.rate}/s, ${warmupS} s warm-up + ${sliceS} s measured, concurrency ${n.concurrency}, ${n.keys} keys`);
      await runSlice(run, n, sliceS, warmupS);
    }
  }
  const results: ConfigResult[] = [];
  for (const run of runs) results.push(await finishConfig(run));
  const [durable, buffered] = results;
  if (durable === undefined || buffered === undefined) throw new Error('two configurations expected');
  return {
    durable,
    buffered,
    ratios: {
      p50: ratio(durable.load.latencyMs.p50, buffered.load.latencyMs.p50),
      p99: ratio(durable.load.latencyMs.p99, buffered.load.latencyMs.p99),
      p99_9: ratio(durable.load.latencyMs.p99_9, buffered.load.latencyMs.p99_9),
    },
  };
}

/** One configuration's node, client and accumulated measurements. */
interface ConfigRun {
  config: Config;
  node: ShoalNodeProcess;
  status: unknown;
  client: KvClient;
  op: (seq: number) => Promise<OpOutcome>;
  recorder: OpenLoopRecorder;
  slices: SliceSummary[];
  nodeCpuSeconds: number;
  loadSeconds: number;
  cpuPressureUs: number;
}

async function startConfig(config: Config, n: Numbers, rng: Random, values: Buffer[], trackContexts: boolean): Promise<ConfigRun> {
  log(`${config.name}: starting node (${config.nodeArgs.join(' ')})`);
  const { node, status } = await launchNode({ id: `bench-${config.name}`, args: config.nodeArgs });
  log(`${config.name}: node pid ${node.pid} at ${node.httpUrl}, data ${node.dataDir}`);
  const client = new KvClient(node.httpUrl, { maxSockets: n.concurrency });
  const contexts = new Map<string, string>();
  const op = async (seq: number): Promise<OpOutcome> => {
    const key = keyName('k', rng.int(n.keys));
    const res = await client.put(key, values[seq % values.length] as Buffer, trackContexts ? contexts.get(key) : undefined);
    if (res.status >= 200 && res.status < 300) {
      if (trackContexts && res.context !== undefined) contexts.set(key, res.context);
      return { ok: true, label: String(res.status) };
    }
    return { ok: false, label: res.status === 0 ? (res.error ?? 'error') : String(res.status) };
  };
  return { config, node, status, client, op, recorder: new OpenLoopRecorder(n.rate, n.concurrency), slices: [], nodeCpuSeconds: 0, loadSeconds: 0, cpuPressureUs: 0 };
}

async function runSlice(run: ConfigRun, n: Numbers, durationS: number, warmupS: number): Promise<void> {
  const { config, node } = run;
  const cpuBefore = node.cpuSeconds();
  const pressureBefore = cpuPressure()?.totalUs ?? 0;
  const started = performance.now();
  const slice = await runOpenLoop(
    { ratePerS: n.rate, durationS, warmupS, concurrency: n.concurrency, op: run.op, onProgress: (line) => log(`${config.name}: ${line}`) },
    run.recorder,
  );
  node.assertRunning(`running the ${config.name} load`);
  run.nodeCpuSeconds += node.cpuSeconds() - cpuBefore;
  run.loadSeconds += (performance.now() - started) / 1000;
  run.cpuPressureUs += (cpuPressure()?.totalUs ?? 0) - pressureBefore;
  const l = slice.latencyMs;
  run.slices.push({
    throughputPerS: slice.throughputPerS, p50: l.p50, p99: l.p99, p99_9: l.p99_9, max: l.max, maxAtS: slice.worst.atS,
    errors: slice.errorCount, maxBacklog: slice.maxBacklog, clientLoopDelayMaxMs: slice.clientLoopDelayMs.max, warmup: slice.warmup ?? null,
  });
  log(`${config.name}: slice ${run.slices.length}: ${slice.throughputPerS}/s, p50 ${l.p50} p99 ${l.p99} p99.9 ${l.p99_9} max ${l.max} ms (at ${slice.worst.atS} s), ` +
    `errors ${slice.errorCount}, max backlog ${slice.maxBacklog}, client loop delay max ${slice.clientLoopDelayMs.max} ms`);
}

async function finishConfig(run: ConfigRun): Promise<ConfigResult> {
  run.client.close();
  const load = run.recorder.summary();
  const nodeMemoryAfter = run.node.memory();
  const dataDirAfter = dirSize(run.node.dataDir);
  const nodeMetrics = await nodeWriteStats(run.node.httpUrl);
  await run.node.stop();
  return {
    name: run.config.name,
    description: run.config.description,
    nodeCommand: shellQuote(run.node.command),
    nodeStatusAtStart: run.status,
    load,
    slices: run.slices,
    nodeCpuCores: Math.round((run.nodeCpuSeconds / run.loadSeconds) * 100) / 100,
    cpuPressureSome: Math.round((run.cpuPressureUs / 1e6 / run.loadSeconds) * 1000) / 1000,
    nodeMemoryAfter,
    dataDirAfter,
    nodeMetrics,
  };
}

async function runMemoryPhase(nodeArgs: string[], keys: number, concurrency: number, values: Buffer[]): Promise<MemoryResult> {
  log(`memory: starting node (${nodeArgs.join(' ')}), writing ${keys} distinct keys, concurrency ${concurrency}`);
  const { node } = await launchNode({ id: 'bench', args: nodeArgs });
  try {
    const started = performance.now();
    const point = (keysWritten: number): MemoryPoint => {
      const m = node.memory();
      return {
        keysWritten,
        fractionOfKeys: Math.round((keysWritten / keys) * 1000) / 1000,
        elapsedS: Math.round((performance.now() - started) / 100) / 10,
        rssMiB: mib(m.rssBytes),
        rssAnonMiB: mib(m.rssAnonBytes),
        rssFileMiB: mib(m.rssFileBytes),
      };
    };
    const baseline = point(0);
    const rawSamples: { keys: number; m: MemorySample }[] = [];
    const samples: MemoryPoint[] = [];
    const checkpoints = [...new Set([0.1, 0.25, 0.5, 1].map((f) => Math.max(1, Math.round(keys * f))))];
    const client = new KvClient(node.httpUrl, { maxSockets: concurrency });
    const write = await runFixedCount({
      count: keys,
      concurrency,
      checkpoints,
      onCheckpoint: (done) => {
        rawSamples.push({ keys: done, m: node.memory() });
        const p = point(done);
        samples.push(p);
        log(`memory: ${done} keys, RSS ${p.rssMiB} MiB (anon ${p.rssAnonMiB}, file ${p.rssFileMiB})`);
      },
      op: async (seq) => {
        const res = await client.put(keyName('m', seq), values[seq % values.length] as Buffer);
        if (res.status >= 200 && res.status < 300) return { ok: true, label: String(res.status) };
        return { ok: false, label: res.status === 0 ? (res.error ?? 'error') : String(res.status) };
      },
      onProgress: (line) => log(`memory: ${line}`),
      stopWhen: () => !node.running,
    });
    client.close();
    node.assertRunning('writing the memory-phase keys');
    await new Promise((r) => setTimeout(r, 5000));
    const afterIdle = point(keys);
    const peakRssMiB = mib(node.memory().peakRssBytes);
    const nodeMetrics = await nodeWriteStats(node.httpUrl);
    await node.stop({ keepData: true });
    const size = dirSize(node.dataDir);
    node.discardData();
    const first = rawSamples[0];
    const last = rawSamples[rawSamples.length - 1];
    const perKey = (pick: (m: MemorySample) => number): number =>
      first !== undefined && last !== undefined && last.keys > first.keys
        ? Math.round((pick(last.m) - pick(first.m)) / (last.keys - first.keys))
        : 0;
    return {
      nodeCommand: shellQuote(node.command),
      keys,
      valueBytes: values[0]?.length ?? 0,
      concurrency,
      baseline,
      samples,
      afterIdle,
      peakRssMiB,
      rssBytesPerKey10to100: perKey((m) => m.rssBytes),
      rssAnonBytesPerKey10to100: perKey((m) => m.rssAnonBytes),
      reading: readMemory(samples, size),
      write,
      nodeMetrics,
      dataDir: {
        apparentMiB: mib(size.apparentBytes),
        allocatedMiB: mib(size.allocatedBytes),
        files: size.files,
        bytesPerKey: Math.round(size.allocatedBytes / keys),
      },
    };
  } finally {
    await node.stop();
  }
}

/** States how heap (anon) and mapped-file RSS moved between the first and last samples. */
function readMemory(samples: readonly MemoryPoint[], size: DirSize): string {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first === undefined || last === undefined || last.keysWritten <= first.keysWritten) return 'too few samples';
  const factor = Math.round((last.keysWritten / first.keysWritten) * 10) / 10;
  const anon = Math.round((last.rssAnonMiB - first.rssAnonMiB) * 10) / 10;
  const file = Math.round((last.rssFileMiB - first.rssFileMiB) * 10) / 10;
  return `From ${first.keysWritten} to ${last.keysWritten} keys (x${factor}), anonymous RSS (heap, buffer) changed by ${anon} MiB ` +
    `(${first.rssAnonMiB} -> ${last.rssAnonMiB}) and file-backed RSS by ${file} MiB (${first.rssFileMiB} -> ${last.rssFileMiB}); ` +
    `the data dir holds ${mib(size.allocatedBytes)} MiB. File-backed RSS is LMDB's memory map (page cache the kernel can reclaim). ` +
    (Math.abs(anon) <= Math.max(16, 0.15 * first.rssAnonMiB)
      ? 'The anonymous part is flat: the buffer is bounded and the keys live in LMDB.'
      : 'The anonymous part is NOT flat' + (last.keysWritten < 200_000 ? ' (but with this few keys, heap growth after start-up can dominate; use more --memory-keys).' : ': the node keeps per-key state in its heap.'));
}



function warnings(results: readonly ConfigResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    if (r.load.saturated) {
      out.push(`${r.name}: saturated (achieved ${r.load.throughputPerS}/s of ${r.load.offeredRatePerS}/s offered, ${r.load.unfinished} unfinished); latencies include queueing — lower --rate`);
    }
    if (r.load.errorCount > 0) out.push(`${r.name}: ${r.load.errorCount} failed writes ${JSON.stringify(r.load.errors)}`);
    if (r.cpuPressureSome >= 0.3) {
      out.push(`${r.name}: busy machine, some task waited for a CPU ${Math.round(r.cpuPressureSome * 100)}% of the time (PSI); ` +
        'the tails include scheduling stalls that have nothing to do with the buffer; compare runs on a quiet machine');
    }
    const loopMax = r.load.clientLoopDelayMs.max;
    if (loopMax >= 0.5 * r.load.latencyMs.p99_9) {
      out.push(`${r.name}: the load generator's own event loop stalled up to ${loopMax} ms, against a p99.9 of ${r.load.latencyMs.p99_9} ms; ` +
        'part of the tail is the client\'s, not the node\'s');
    }
  }
  return out;
}

function humanTable(latency: LatencyPhase | null, memory: MemoryResult | null): string {
  const parts: string[] = [];
  if (latency !== null) {
    const rows = [latency.durable, latency.buffered].map((r) => {
      const l = r.load.latencyMs;
      return [r.name, String(r.load.offeredRatePerS), String(r.load.throughputPerS), l.p50.toFixed(2), l.p99.toFixed(2), l.p99_9.toFixed(2),
        l.max.toFixed(2), String(r.load.errorCount), r.nodeCpuCores.toFixed(2), r.load.clientCpuCores.toFixed(2), r.cpuPressureSome.toFixed(2)];
    });
    const fmt = (x: number | null): string => (x === null ? '-' : `${x.toFixed(2)}x`);
    rows.push(['durable/buffered', '', '', fmt(latency.ratios.p50), fmt(latency.ratios.p99), fmt(latency.ratios.p99_9), '', '', '', '', '']);
    parts.push('write latency, ms (from scheduled start)\n' +
      formatTable(['config', 'offered/s', 'achieved/s', 'p50', 'p99', 'p99.9', 'max', 'errors', 'node cpu', 'client cpu', 'cpu psi'], rows));
  }
  if (memory !== null) {
    const memRows = [memory.baseline, ...memory.samples, memory.afterIdle].map((p, i, all) => [
      i === 0 ? 'start' : i === all.length - 1 ? 'idle 5s' : `${Math.round(p.fractionOfKeys * 100)}%`,
      String(p.keysWritten), p.rssMiB.toFixed(1), p.rssAnonMiB.toFixed(1), p.rssFileMiB.toFixed(1),
    ]);
    parts.push(`buffered node memory, ${memory.keys} keys x ${memory.valueBytes} B at ${memory.write.ratePerS}/s` +
      ` (${memory.rssBytesPerKey10to100} B RSS/key from 10% to 100%; data dir ${memory.dataDir.allocatedMiB} MiB)\n` +
      formatTable(['point', 'keys', 'RSS MiB', 'anon MiB', 'file MiB'], memRows));
  }
  return parts.join('\n\n');
}

main().catch(async (error: unknown) => {
  if (error instanceof UsageError) log(`${error.message} (see --help)`);
  else log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await stopAllNodes();
  process.exitCode = 1;
});
