/**
 * One Shoal node through its Redis-protocol front end against redis-server, side by side
 * in one run: the same ioredis-based YCSB driver (50 closed-loop clients, one connection
 * each, no pipelining), then `redis-benchmark -t ping_mbulk,set,get -c 50 -n N -q --csv`
 * against each. The issue's goal, measured and not asserted: Shoal ≥ 0.6× Redis's
 * throughput for SET and GET. PING (no key-value work at all) is measured beside them as
 * the ceiling: how close the protocol front end alone comes to Redis.
 *
 * Redis runs with persistence off (--save '' --appendonly no), so Shoal runs with its
 * buffer and no fsync per write (--durable-writes none; --shoal-args to change).
 *
 *   npm run bench:vs-redis -- [--workloads A,B,C] [--clients 50] [--redis-benchmark-requests 20000] …   (--help)
 */
import { runComparison, type ComparisonNumbers } from './lib/comparison.ts';
import type { ComparisonOutput, RedisBenchmarkSummary } from './lib/outputs.ts';
import { runRedisBenchmark, type RedisBenchmarkResult } from './lib/redis.ts';
import { log, ratio, runMain } from './lib/report.ts';
import { startOrSkip, type BenchTarget, type SkipRecord } from './lib/targets.ts';

const GOAL_RATIO = 0.6;

/** redis-benchmark's tests: PING_MBULK is the front end alone (not part of the goal), SET and GET the key-value work. */
const REDIS_BENCHMARK_TESTS = ['ping_mbulk', 'set', 'get'] as const;
const CEILING_TEST = 'PING_MBULK';

/** redis-benchmark against every target that speaks RESP, in the same order; ratios of the first over the others. */
async function redisBenchmarkAll(targets: readonly BenchTarget[], n: ComparisonNumbers): Promise<Record<string, unknown>> {
  if (n['redis-benchmark-requests'] === 0) return {};
  const summary = await startOrSkip(async (): Promise<RedisBenchmarkSummary> => {
    const byTarget: Record<string, RedisBenchmarkResult> = {};
    let command = '';
    for (const target of targets) {
      if (target.resp === undefined) continue;
      log(`${target.name}: redis-benchmark -t ${REDIS_BENCHMARK_TESTS.join(',')} -c ${n.clients} -n ${n['redis-benchmark-requests']}`);
      const result = await runRedisBenchmark({
        ...target.resp, tests: REDIS_BENCHMARK_TESTS, clients: n.clients, requests: n['redis-benchmark-requests'], keyspace: n.records, valueBytes: n['value-bytes'],
      });
      command = result.command.join(' ').replace(`-h ${target.resp.host} -p ${target.resp.port}`, '-h HOST -p PORT');
      log(`${target.name}: ${result.rows.map((r) => `${r.test} ${r.requestsPerS}/s`).join(', ')} (exit ${result.exitCode})`);
      byTarget[target.name] = result;
    }
    return { command, byTarget, ratios: benchmarkRatios(byTarget) };
  });
  return { redisBenchmark: summary };
}

function benchmarkRatios(byTarget: Record<string, RedisBenchmarkResult>): RedisBenchmarkSummary['ratios'] {
  const [subject, ...references] = Object.keys(byTarget);
  const ratios: RedisBenchmarkSummary['ratios'] = {};
  if (subject === undefined) return ratios;
  for (const reference of references) {
    const byTest: Record<string, number | null> = {};
    for (const row of byTarget[subject]?.rows ?? []) {
      const theirs = byTarget[reference]?.rows.find((r) => r.test === row.test);
      byTest[row.test] = theirs === undefined ? null : ratio(row.requestsPerS, theirs.requestsPerS);
    }
    ratios[`${subject}/${reference}`] = byTest;
  }
  return ratios;
}

/** Shoal over Redis throughput, per YCSB workload and per redis-benchmark SET and GET; met when every one is ≥ 0.6. */
function goal(output: ComparisonOutput): ComparisonOutput['goal'] {
  const measured: Record<string, number | null> = {};
  for (const r of output.sideBySide?.ratios ?? []) measured[`ycsb ${r.workload}`] = r.throughput;
  const bench = output.extra?.redisBenchmark as RedisBenchmarkSummary | SkipRecord | undefined;
  if (bench !== undefined && !('skipped' in bench)) {
    for (const byTest of Object.values(bench.ratios)) {
      for (const [test, value] of Object.entries(byTest)) if (test !== CEILING_TEST) measured[`redis-benchmark ${test}`] = value;
    }
  }
  const values = Object.values(measured);
  return {
    statement: `one Shoal node through RESP at ${output.options.loop.mode === 'closed' ? output.options.loop.clients : '?'} clients without pipelining serves at least ${GOAL_RATIO}× Redis's throughput (shoal-resp/redis)`,
    measured,
    met: values.length === 0 || values.some((v) => v === null) ? null : values.every((v) => (v ?? 0) >= GOAL_RATIO),
  };
}

runMain(() => runComparison({
  benchmark: 'vs-redis',
  title: 'Shoal (RESP) vs Redis: one node each',
  question: 'One Shoal node through its RESP front end against redis-server on the same machine, driven by the same ioredis client (50 closed-loop clients, no pipelining) and by redis-benchmark: throughput ratio Shoal/Redis (goal ≥ 0.6).',
  defaults: { targets: 'shoal-resp,redis', workloads: 'A,B,C', distribution: 'zipfian', clients: 50, records: 10_000, durationS: 10, warmupS: 2, shoalNodes: 1, shoalArgs: '--durable-writes none' },
  extra: redisBenchmarkAll,
  goal,
}, process.argv.slice(2)));
