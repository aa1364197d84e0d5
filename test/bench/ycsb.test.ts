import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/sim/prng.ts';
import { VersionCounter, versionSummary } from '../../bench/lib/version-counts.ts';
import { chooseOperation, parseWorkloads, sideBySideRatios, YCSB_WORKLOADS, type YcsbOperation, type YcsbRunResult } from '../../bench/lib/ycsb.ts';
import { testSeed } from '../support/seed.ts';

test('each core workload\'s operation mix matches its proportions', (t) => {
  const seed = testSeed(t, import.meta.url);
  const draws = 100_000;
  for (const workload of Object.values(YCSB_WORKLOADS)) {
    const rng = Prng.fromSeed(seed);
    const counts: Record<YcsbOperation, number> = { read: 0, update: 0, rmw: 0 };
    for (let i = 0; i < draws; i++) counts[chooseOperation(workload, rng.next())]++;
    for (const op of ['read', 'update', 'rmw'] as const) {
      const p = workload.proportions[op];
      const sd = Math.sqrt((p * (1 - p)) / draws);
      assert.ok(Math.abs(counts[op] / draws - p) <= 5 * sd + 1e-12, `${workload.name} ${op}: ${counts[op] / draws} vs ${p}`);
    }
  }
});

test('chooseOperation at the edges: 0 is the first operation with a share, just under 1 the last', () => {
  const { A, B, C, F } = YCSB_WORKLOADS as Record<'A' | 'B' | 'C' | 'F', (typeof YCSB_WORKLOADS)[string]>;
  assert.equal(chooseOperation(A, 0), 'read');
  assert.equal(chooseOperation(A, 0.5), 'update');
  assert.equal(chooseOperation(B, 0.9499), 'read');
  assert.equal(chooseOperation(B, 0.95), 'update');
  assert.equal(chooseOperation(C, 0.999999), 'read');
  assert.equal(chooseOperation(F, 0.5), 'rmw');
  assert.equal(chooseOperation(F, 1 - Number.EPSILON), 'rmw');
});

test('parseWorkloads takes a comma list, any case, and refuses unknown names', () => {
  assert.deepEqual(parseWorkloads('a,F').map((w) => w.name), ['A', 'F']);
  assert.throws(() => parseWorkloads('A,E'), RangeError);
});

test('versionSummary: shares of the reads that found the key, absent ones apart', () => {
  const s = versionSummary(new Map([[0, 5], [1, 90], [2, 6], [3, 2], [4, 1], [7, 1]]));
  assert.equal(s.reads, 105);
  assert.equal(s.absent, 5);
  assert.deepEqual(s.shares, { one: 0.9, two: 0.06, three: 0.02, fourOrMore: 0.02 });
  assert.deepEqual(s.byVersions, { 1: 90, 2: 6, 3: 2, 4: 1, 7: 1 });
  assert.equal(s.max, 7);
  const counter = new VersionCounter();
  for (const v of [1, 1, 2, 5000]) counter.record(v);
  const other = new VersionCounter();
  other.record(0);
  counter.merge(other);
  const merged = counter.summary();
  assert.equal(merged.reads, 5);
  assert.equal(merged.byVersions['1000+'], 1);
  assert.equal(merged.max, 5000);
  assert.deepEqual(versionSummary(new Map()).shares, { one: 0, two: 0, three: 0, fourOrMore: 0 });
});

function fakeRun(target: string, workload: string, throughputPerS: number, p99: number): YcsbRunResult {
  const latencyMs = { count: 1, mean: p99 / 2, p50: p99 / 4, p90: p99 / 2, p99, p99_9: p99 * 2, max: p99 * 3 };
  return {
    target, workload, distribution: 'zipfian', loop: { mode: 'closed', clients: 1 }, records: 1, valueBytes: 1, seed: 1, warmupS: 0, durationS: 1,
    latencyMeasuredFrom: 'send (closed loop)', throughputPerS,
    operations: { read: { ok: 1, errors: 0, labels: {}, throughputPerS, latencyMs, latencyCurveMs: [] } },
    versions: versionSummary(new Map()), errorCount: 0, clientLoopDelayMs: { p50: 0, p99: 0, max: 0 },
    cpu: { machineBusyCores: null, nodesCores: 0, clientCores: 0, otherCores: null, stealCores: null, cpuPressureSome: null },
  };
}

test('sideBySideRatios: the first target over each other one, per workload', () => {
  const ratios = sideBySideRatios([fakeRun('shoal', 'A', 600, 4), fakeRun('redis', 'A', 1000, 2), fakeRun('shoal', 'B', 700, 3), fakeRun('redis', 'B', 1000, 3)], 'shoal');
  assert.deepEqual(ratios.map((r) => [r.workload, r.pair, r.throughput, r.p99.read]), [['A', 'shoal/redis', 0.6, 2], ['B', 'shoal/redis', 0.7, 1]]);
});
