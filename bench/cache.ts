/**
 * The read cache, on and off, side by side in one run (issue 17).
 *
 * One node through RESP, three of them at once: the cache with W-TinyLFU, the cache with
 * plain LRU, and no cache; each loaded with the same `--records` of `--value-bytes`, the
 * cache holding `--cache-share` of the objects. Then, in alternating slices: YCSB C (reads
 * only) and B (95% reads) with YCSB's scrambled zipfian keys (theta 0.99), and "scan": the
 * C clients plus one more reading every key in order, over and over (a scan competing with
 * the hot set). Per configuration and workload, medians over the slices: the cache's hit
 * ratio (from INFO), CPU per operation of the node (every thread, and the main thread, from
 * /proc; for C that is CPU per GET), throughput, and p50/p99/p99.9. Memory after the runs:
 * RSS, the heap in use (INFO used_memory) and what the cache charged.
 *
 * Then a 3-node cluster with the cache and one without (`--cluster-records`, HTTP, YCSB C
 * and B), the hit ratio summed over the nodes' /admin/status.
 *
 * For reference, the best hit ratio any cache of that size can reach on the zipfian keys:
 * the share of the requests that go to the most requested `share` of the keys, estimated
 * from `--reference-draws` draws of the same key chooser.
 *
 *   npm run bench:cache -- [--records 1000000] [--rounds 2] [--skip-cluster] …   (--help)
 */
import { randomInt } from 'node:crypto';
import { Redis } from 'ioredis';
import { Prng } from '../src/sim/prng.ts';
import { parseFlags, usage, type FlagSpec } from './lib/args.ts';
import { launchShoalCluster, launchShoalRespTarget, shoalHttpClusterTarget } from './lib/launch-targets.ts';
import { commandLine, machineFacts } from './lib/machine.ts';
import { formatTable, log, median, runMain, saveResults } from './lib/report.ts';
import type { BenchTarget } from './lib/targets.ts';
import { ConnectionPool, loadRecords, recordKey, runWorkload, summaryLine, YCSB_WORKLOADS, type YcsbRunResult } from './lib/ycsb.ts';
import { keyChooser } from './lib/zipfian.ts';

const flagSpec = {
  numbers: {
    records: { default: 1_000_000, min: 1, integer: true, help: 'keys of the single-node runs, each written once before the slices' },
    'cluster-records': { default: 100_000, min: 1, integer: true, help: 'keys of the 3-node runs' },
    'value-bytes': { default: 100, min: 1, integer: true, help: 'value size, bytes' },
    'cache-share': { default: 0.05, min: 0.0001, help: 'objects the cache holds, as a share of the records' },
    clients: { default: 50, min: 1, integer: true, help: 'closed-loop clients of the single-node runs (32 for the cluster)' },
    rounds: { default: 2, min: 1, integer: true, help: 'slices per configuration and workload (alternating order)' },
    'duration-s': { default: 10, min: 1, help: 'measured seconds per slice' },
    'warmup-s': { default: 5, min: 0, help: 'unmeasured seconds before each slice' },
    'reference-draws': { default: 2_000_000, min: 1000, integer: true, help: 'key draws to estimate the best possible hit ratio' },
    seed: { default: -1, integer: true, help: 'seed of the key and operation choices (-1: random, printed)' },
  },
  strings: {
    out: { help: 'also write the JSON results to this file' },
  },
  booleans: {
    'skip-cluster': { help: 'only the single-node runs' },
  },
} satisfies FlagSpec;

type Numbers = Record<keyof typeof flagSpec.numbers, number>;
type Config = 'tinylfu' | 'lru' | 'off';
const CONFIGS: readonly Config[] = ['tinylfu', 'lru', 'off'];
type WorkloadName = 'C' | 'B' | 'scan';

interface CacheCounters {
  hits: number;
  misses: number;
}

interface Slice {
  config: Config;
  workload: WorkloadName;
  hitRatio: number | null;
  run: YcsbRunResult;
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), flagSpec);
  if (flags.help) {
    process.stderr.write(usage('bench/cache.ts', flagSpec) + '\n');
    return;
  }
  const n = flags.numbers as Numbers;
  const seed = n.seed >= 0 ? n.seed : randomInt(0, 2 ** 31 - 1);
  log(`seed=${seed} (replay: ${commandLine()} --seed ${seed})`);
  const startedAt = new Date().toISOString();
  const reference = bestHitRatio(n.records, n['cache-share'], n['reference-draws'], seed);
  log(`the best any cache of ${(n['cache-share'] * 100).toFixed(1)}% of ${n.records} keys can do on these zipfian keys: ${reference.toFixed(3)}`);
  const single = await singleNode(n, seed);
  const cluster = flags.booleans['skip-cluster'] === true ? undefined : await threeNodes(n, seed);
  const results = {
    benchmark: 'cache',
    question: 'What does the read cache buy, and does its admission policy beat plain LRU?',
    command: commandLine(),
    machine: machineFacts(),
    startedAt,
    seed,
    options: n,
    bestPossibleHitRatio: reference,
    singleNode: single,
    cluster,
  };
  for (const file of saveResults('cache', results, flags.strings.out)) log(`results: ${file}`);
  process.stdout.write(JSON.stringify(results, null, 2) + '\n');
}

function cacheArgs(config: Config, objects: number): string[] {
  if (config === 'off') return ['--cache-objects-max', '0'];
  // Objects bind, not bytes: room for objects far larger than these.
  return ['--cache-objects-max', String(objects), '--cache-bytes-max', String(objects * 4096), '--cache-policy', config];
}

async function singleNode(n: Numbers, seed: number): Promise<unknown> {
  const objects = Math.max(1, Math.round(n.records * n['cache-share']));
  const targets = new Map<Config, BenchTarget>();
  const ports = new Map<Config, number>();
  try {
    for (const config of CONFIGS) {
      const target = await launchShoalRespTarget(cacheArgs(config, objects), `resp-${config}`);
      targets.set(config, target);
      ports.set(config, (target.resp as { port: number }).port);
      const load = await loadRecords(target, n.records, 64, n['value-bytes'], seed);
      log(`${config}: ${n.records} keys written in ${load.elapsedS} s, errors ${JSON.stringify(load.errors)}`);
    }
    const slices: Slice[] = [];
    for (const workload of ['C', 'B', 'scan'] as const) {
      for (let round = 0; round < n.rounds; round++) {
        const order = round % 2 === 0 ? CONFIGS : [...CONFIGS].reverse();
        for (const config of order) {
          const port = ports.get(config) as number;
          const before = await respCacheCounters(port);
          const run = await runSlice(targets.get(config) as BenchTarget, workload, n, n.records, n.clients, seed + round);
          const hitRatio = hitRatioOf(before, await respCacheCounters(port));
          slices.push({ config, workload, hitRatio, run });
          log(`${config} ${workload} round ${round + 1}: hit ratio ${hitRatio?.toFixed(3) ?? '-'}; ${summaryLine(run)}`);
        }
      }
    }
    const memory = await Promise.all(CONFIGS.map(async (config) => {
      const target = targets.get(config) as BenchTarget;
      const info = await respInfo(ports.get(config) as number);
      const process = target.processes[0]?.memory();
      return { config, rssBytes: process?.rssBytes, rssAnonBytes: process?.rssAnonBytes, heapUsedBytes: Number(info.used_memory), cacheObjects: Number(info.shoal_cache_objects), cacheChargedBytes: Number(info.shoal_cache_bytes) };
    }));
    const table = summarize(slices);
    log(`one node through RESP, ${n.records} keys, cache of ${objects} objects\n${formatTable(['config', 'workload', 'hit ratio', 'CPU us/op', 'main us/op', 'ops/s', 'read p50/p99/p99.9 ms'], table.rows)}`);
    log(`memory after the runs\n${formatTable(['config', 'RSS MiB', 'anonymous RSS MiB', 'heap used MiB', 'cached objects', 'charged MiB'], memory.map((m) => [m.config, mibText(m.rssBytes), mibText(m.rssAnonBytes), mibText(m.heapUsedBytes), String(m.cacheObjects), mibText(m.cacheChargedBytes)]))}`);
    return { cacheObjects: objects, medians: table.medians, memory, slices: slices.map(sliceRecord) };
  } finally {
    await Promise.all([...targets.values()].map((target) => target.stop()));
  }
}

async function threeNodes(n: Numbers, seed: number): Promise<unknown> {
  const records = n['cluster-records'];
  const objects = Math.max(1, Math.round(records * n['cache-share']));
  const configs: readonly Config[] = ['tinylfu', 'off'];
  const targets = new Map<Config, BenchTarget>();
  const urls = new Map<Config, readonly string[]>();
  try {
    for (const config of configs) {
      const cluster = await launchShoalCluster(3, cacheArgs(config, objects));
      const target = shoalHttpClusterTarget(cluster, 'last-seen', `cluster-${config}`);
      targets.set(config, target);
      urls.set(config, cluster.httpUrls);
      const load = await loadRecords(target, records, 32, n['value-bytes'], seed);
      log(`cluster ${config}: ${records} keys written in ${load.elapsedS} s, errors ${JSON.stringify(load.errors)}`);
    }
    const slices: Slice[] = [];
    for (const workload of ['C', 'B'] as const) {
      for (let round = 0; round < n.rounds; round++) {
        for (const config of round % 2 === 0 ? configs : [...configs].reverse()) {
          const before = await httpCacheCounters(urls.get(config) as readonly string[]);
          const run = await runSlice(targets.get(config) as BenchTarget, workload, n, records, 32, seed + round);
          const hitRatio = hitRatioOf(before, await httpCacheCounters(urls.get(config) as readonly string[]));
          slices.push({ config, workload, hitRatio, run });
          log(`cluster ${config} ${workload} round ${round + 1}: hit ratio ${hitRatio?.toFixed(3) ?? '-'}; ${summaryLine(run)}`);
        }
      }
    }
    const table = summarize(slices);
    log(`3 nodes over HTTP, ${records} keys, cache of ${objects} objects per node\n${formatTable(['config', 'workload', 'hit ratio', 'CPU us/op', 'main us/op', 'ops/s', 'read p50/p99/p99.9 ms'], table.rows)}`);
    return { records, cacheObjects: objects, medians: table.medians, slices: slices.map(sliceRecord) };
  } finally {
    await Promise.all([...targets.values()].map((target) => target.stop()));
  }
}

/** One slice: a YCSB workload, or (scan) C plus one client reading every key in order. */
async function runSlice(target: BenchTarget, workload: WorkloadName, n: Numbers, records: number, clients: number, seed: number): Promise<YcsbRunResult> {
  const options = {
    workload: YCSB_WORKLOADS[workload === 'scan' ? 'C' : workload] as (typeof YCSB_WORKLOADS)[string],
    distribution: 'zipfian' as const,
    records,
    valueBytes: n['value-bytes'],
    seed,
    loop: { mode: 'closed' as const, clients },
    warmupS: n['warmup-s'],
    durationS: n['duration-s'],
  };
  if (workload !== 'scan') return runWorkload(target, options);
  const scanner = await ConnectionPool.open(target, 1);
  let stop = false;
  const scanning = (async () => {
    for (let i = 0; !stop; i = (i + 1) % records) await scanner.use((c) => c.read(recordKey(i)));
  })();
  try {
    return await runWorkload(target, options);
  } finally {
    stop = true;
    await scanning.catch(() => undefined);
    await scanner.close();
  }
}

/** The share of requests to the most requested `share` of the keys: no cache of that size does better. */
function bestHitRatio(records: number, share: number, draws: number, seed: number): number {
  const chooser = keyChooser('zipfian', records, Prng.fromSeed(seed).fork('reference'));
  const counts = new Map<number, number>();
  for (let i = 0; i < draws; i++) {
    const key = chooser.next();
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const sorted = [...counts.values()].sort((a, b) => b - a);
  const held = Math.round(records * share);
  return sorted.slice(0, held).reduce((sum, count) => sum + count, 0) / draws;
}

async function respInfo(port: number): Promise<Record<string, string>> {
  const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    const text = await redis.info('all');
    return Object.fromEntries(text.split('\r\n').filter((line) => line.includes(':')).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]));
  } finally {
    redis.disconnect();
  }
}

async function respCacheCounters(port: number): Promise<CacheCounters> {
  const info = await respInfo(port);
  return { hits: Number(info.shoal_cache_hits), misses: Number(info.shoal_cache_misses) };
}

async function httpCacheCounters(urls: readonly string[]): Promise<CacheCounters> {
  const statuses = await Promise.all(urls.map(async (url) => (await (await fetch(`${url}/admin/status`)).json()) as { cache: CacheCounters }));
  return statuses.reduce((sum, status) => ({ hits: sum.hits + status.cache.hits, misses: sum.misses + status.cache.misses }), { hits: 0, misses: 0 });
}

function hitRatioOf(before: CacheCounters, after: CacheCounters): number | null {
  const hits = after.hits - before.hits;
  const lookups = hits + after.misses - before.misses;
  return lookups === 0 ? null : hits / lookups;
}

interface Medians {
  config: Config;
  workload: WorkloadName;
  hitRatio: number | null;
  cpuUsPerOperation: number | null;
  mainThreadCpuUsPerOperation: number | null;
  operationsPerS: number;
  readMs: { p50: number; p99: number; p99_9: number } | null;
}

function summarize(slices: readonly Slice[]): { medians: Medians[]; rows: string[][] } {
  const groups = new Map<string, Slice[]>();
  for (const slice of slices) groups.set(`${slice.config} ${slice.workload}`, [...(groups.get(`${slice.config} ${slice.workload}`) ?? []), slice]);
  const medians: Medians[] = [...groups.values()].map((group) => {
    const first = group[0] as Slice;
    const of = (read: (s: Slice) => number | null | undefined): number | null => {
      const values = group.map(read).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      return values.length === 0 ? null : median(values);
    };
    const reads = group.map((s) => s.run.operations.read?.latencyMs).filter((l) => l !== undefined);
    return {
      config: first.config,
      workload: first.workload,
      hitRatio: of((s) => s.hitRatio),
      cpuUsPerOperation: of((s) => s.run.cpuPerOperation?.processUs),
      mainThreadCpuUsPerOperation: of((s) => s.run.cpuPerOperation?.mainThreadUs),
      operationsPerS: of((s) => s.run.throughputPerS) ?? 0,
      readMs: reads.length === 0 ? null : { p50: median(reads.map((l) => l.p50)), p99: median(reads.map((l) => l.p99)), p99_9: median(reads.map((l) => l.p99_9)) },
    };
  });
  const rows = medians.map((m) => [
    m.config,
    m.workload,
    m.hitRatio?.toFixed(3) ?? '-',
    m.cpuUsPerOperation?.toFixed(1) ?? '-',
    m.mainThreadCpuUsPerOperation?.toFixed(1) ?? '-',
    m.operationsPerS.toFixed(0),
    m.readMs === null ? '-' : `${m.readMs.p50.toFixed(2)} / ${m.readMs.p99.toFixed(2)} / ${m.readMs.p99_9.toFixed(2)}`,
  ]);
  return { medians, rows };
}

function sliceRecord(slice: Slice): unknown {
  return { config: slice.config, workload: slice.workload, hitRatio: slice.hitRatio, throughputPerS: slice.run.throughputPerS, cpuPerOperation: slice.run.cpuPerOperation, read: slice.run.operations.read?.latencyMs, update: slice.run.operations.update?.latencyMs };
}

function mibText(bytes: number | undefined): string {
  return bytes === undefined || !Number.isFinite(bytes) ? '-' : (bytes / 1024 / 1024).toFixed(1);
}

runMain(main);
