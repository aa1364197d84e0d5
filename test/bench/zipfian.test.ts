import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/sim/prng.ts';
import { fnvHash64, keyChooser, parseDistribution, ScrambledZipfianGenerator, uniformChooser, zeta, ZipfianGenerator } from '../../bench/lib/zipfian.ts';
import { testSeed } from '../support/seed.ts';

const SAMPLES = 200_000;

function histogram(next: () => number, items: number, samples = SAMPLES): number[] {
  const counts = new Array<number>(items).fill(0);
  for (let i = 0; i < samples; i++) {
    const item = next();
    assert.ok(Number.isInteger(item) && item >= 0 && item < items, `item ${item} out of [0, ${items})`);
    counts[item] = (counts[item] ?? 0) + 1;
  }
  return counts;
}

/** Within `sigmas` standard deviations of a binomial(samples, p) share. */
function assertShare(observed: number, p: number, label: string, sigmas = 5, samples = SAMPLES): void {
  const sd = Math.sqrt((p * (1 - p)) / samples);
  assert.ok(Math.abs(observed - p) <= sigmas * sd, `${label}: share ${observed} vs expected ${p} (±${(sigmas * sd).toFixed(5)})`);
}

test('zeta is the generalised harmonic number', () => {
  assert.equal(zeta(1, 0.99), 1);
  assert.ok(Math.abs(zeta(2, 0.99) - (1 + 2 ** -0.99)) < 1e-12);
  assert.ok(Math.abs(zeta(3, 0.5) - (1 + 2 ** -0.5 + 3 ** -0.5)) < 1e-12);
});

test('ZipfianGenerator draws items 0 and 1 with their exact zipfian probabilities, and the head outweighs the tail', (t) => {
  const seed = testSeed(t, import.meta.url);
  const items = 1000;
  const counts = histogram(((g) => () => g.next())(new ZipfianGenerator(items, 0.99, Prng.fromSeed(seed))), items);
  const z = zeta(items, 0.99);
  assertShare((counts[0] ?? 0) / SAMPLES, 1 / z, 'item 0');
  assertShare((counts[1] ?? 0) / SAMPLES, 2 ** -0.99 / z, 'item 1');
  const head = counts.slice(0, 10).reduce((a, b) => a + b, 0);
  const tail = counts.slice(items - 10).reduce((a, b) => a + b, 0);
  assert.ok(head > 20 * tail, `head ${head} vs tail ${tail}`);
});

test('ScrambledZipfianGenerator: the hottest key gets ~1/zeta(10^10, 0.99) = 3.8% of the draws, wherever it lands', (t) => {
  const seed = testSeed(t, import.meta.url);
  const items = 1000;
  const counts = histogram(((g) => () => g.next())(new ScrambledZipfianGenerator(items, Prng.fromSeed(seed))), items);
  const sorted = [...counts].sort((a, b) => b - a);
  // Item 0 of the underlying 10^10 draw (p = 1/26.469) plus whatever else hashes to the same key.
  const hottest = (sorted[0] ?? 0) / SAMPLES;
  assert.ok(hottest >= 0.034 && hottest <= 0.045, `hottest key share ${hottest}`);
  // Scrambled: the hottest key is where FNV puts item 0, not key 0.
  assert.equal(counts.indexOf(sorted[0] ?? -1), Number(fnvHash64(0) % BigInt(items)));
  // Skewed but every key is drawn: the 10 hottest take ~12-14%, none is starved.
  const top10 = sorted.slice(0, 10).reduce((a, b) => a + b, 0) / SAMPLES;
  assert.ok(top10 > 0.1 && top10 < 0.18, `top 10 keys share ${top10}`);
  assert.ok((sorted[items - 1] ?? 0) > 0, 'some key never drawn');
});

test('uniformChooser spreads draws evenly', (t) => {
  const seed = testSeed(t, import.meta.url);
  const items = 50;
  const counts = histogram(((c) => () => c.next())(uniformChooser(items, Prng.fromSeed(seed))), items);
  for (const [item, count] of counts.entries()) assertShare(count / SAMPLES, 1 / items, `item ${item}`);
});

test('key choosers are reproducible from their seed', () => {
  for (const distribution of ['uniform', 'zipfian'] as const) {
    const a = keyChooser(distribution, 10_000, Prng.fromSeed(42));
    const b = keyChooser(distribution, 10_000, Prng.fromSeed(42));
    const c = keyChooser(distribution, 10_000, Prng.fromSeed(43));
    const drawsA = Array.from({ length: 100 }, () => a.next());
    assert.deepEqual(Array.from({ length: 100 }, () => b.next()), drawsA);
    assert.notDeepEqual(Array.from({ length: 100 }, () => c.next()), drawsA);
  }
});

test('fnvHash64 is YCSB\'s FNV-1a over 8 little-endian bytes, made non-negative', () => {
  // FNV-1a 64 of eight zero bytes, computed byte by byte here.
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < 8; i++) h = BigInt.asUintN(64, h * 1099511628211n);
  const signed = BigInt.asIntN(64, h);
  assert.equal(fnvHash64(0), signed < 0n ? -signed : signed);
  for (const v of [1, 255, 256, 12345, 9_999_999_999]) assert.ok(fnvHash64(v) >= 0n && fnvHash64(v) < 2n ** 63n + 1n);
  assert.notEqual(fnvHash64(1), fnvHash64(256));
});

test('bad arguments are refused', () => {
  assert.throws(() => uniformChooser(0, Prng.fromSeed(1)), RangeError);
  assert.throws(() => new ZipfianGenerator(10, 1, Prng.fromSeed(1)), RangeError);
  assert.throws(() => parseDistribution('latest'), RangeError);
  assert.equal(parseDistribution('zipfian'), 'zipfian');
});
