/**
 * Key choice for YCSB-style workloads: uniform, or YCSB's scrambled zipfian.
 *
 * ZipfianGenerator is YCSB's (Gray et al., "Quickly generating billion-record synthetic
 * databases", SIGMOD 1994): item i (0-based) is drawn with probability proportional to
 * 1 / (i + 1)^theta, items 0 and 1 exactly, the rest by Gray's closed-form approximation.
 *
 * ScrambledZipfianGenerator is YCSB's default request distribution: a zipfian draw over
 * 10^10 items, FNV-1a-64 hashed onto the item count, so the popular items are spread over
 * the key space instead of being the first keys (which a range- or hash-partitioned store
 * would place together). The hot keys' popularity is that of the 10^10-item zipfian: the
 * most popular key gets about 1 / zeta(10^10, 0.99) = 3.8% of the requests, whatever the
 * key count. Only YCSB's constant 0.99 is supported for it: its zeta over 10^10 items is
 * YCSB's precomputed value (summing 10^10 terms is not an option).
 */
import type { Random } from '../../src/ports/random.ts';

/** Draws item indexes in [0, itemCount). */
export interface KeyChooser {
  readonly itemCount: number;
  next(): number;
}

export type KeyDistribution = 'uniform' | 'zipfian';

export const KEY_DISTRIBUTIONS: readonly KeyDistribution[] = ['uniform', 'zipfian'];

/** YCSB's zipfian constant. */
export const ZIPFIAN_CONSTANT = 0.99;

/** YCSB's item count for the scrambled zipfian's underlying draw, and its zeta at theta 0.99. */
const SCRAMBLED_ITEM_COUNT = 10_000_000_000;
const SCRAMBLED_ZETA_N = 26.46902820178302;

/** The generalised harmonic number: sum over i = 1..n of 1 / i^theta. */
export function zeta(n: number, theta: number): number {
  let sum = 0;
  for (let i = 1; i <= n; i++) sum += 1 / Math.pow(i, theta);
  return sum;
}

export function uniformChooser(itemCount: number, rng: Random): KeyChooser {
  assertItemCount(itemCount);
  return { itemCount, next: () => rng.int(itemCount) };
}

/** YCSB's ZipfianGenerator over [0, itemCount): item 0 is the most popular. */
export class ZipfianGenerator implements KeyChooser {
  private readonly alpha: number;
  private readonly eta: number;
  private readonly zetaN: number;
  private readonly secondThreshold: number;

  /** `zetaN` may be given when known (it is the sum of itemCount terms). */
  constructor(readonly itemCount: number, private readonly theta: number, private readonly rng: Random, zetaN?: number) {
    assertItemCount(itemCount);
    if (!(theta > 0 && theta < 1)) throw new RangeError(`zipfian constant must be in (0, 1), got ${theta}`);
    this.zetaN = zetaN ?? zeta(itemCount, theta);
    this.alpha = 1 / (1 - theta);
    this.eta = (1 - Math.pow(2 / itemCount, 1 - theta)) / (1 - zeta(2, theta) / this.zetaN);
    this.secondThreshold = 1 + Math.pow(0.5, theta);
  }

  next(): number {
    const u = this.rng.next();
    const uz = u * this.zetaN;
    if (uz < 1) return 0;
    if (uz < this.secondThreshold) return 1;
    const item = Math.floor(this.itemCount * Math.pow(this.eta * u - this.eta + 1, this.alpha));
    return Math.min(item, this.itemCount - 1);
  }
}

/** YCSB's ScrambledZipfianGenerator (constant 0.99) over [0, itemCount). */
export class ScrambledZipfianGenerator implements KeyChooser {
  private readonly underlying: ZipfianGenerator;
  private readonly modulus: bigint;

  constructor(readonly itemCount: number, rng: Random) {
    assertItemCount(itemCount);
    this.underlying = new ZipfianGenerator(SCRAMBLED_ITEM_COUNT, ZIPFIAN_CONSTANT, rng, SCRAMBLED_ZETA_N);
    this.modulus = BigInt(itemCount);
  }

  next(): number {
    return Number(fnvHash64(this.underlying.next()) % this.modulus);
  }
}

const FNV_OFFSET_BASIS_64 = 0xcbf29ce484222325n;
const FNV_PRIME_64 = 1099511628211n;

/** YCSB's Utils.fnvhash64: FNV-1a over the value's 8 little-endian bytes, as a non-negative signed 64-bit result. */
export function fnvHash64(value: number): bigint {
  let rest = BigInt(value);
  let hash = FNV_OFFSET_BASIS_64;
  for (let i = 0; i < 8; i++) {
    hash ^= rest & 0xffn;
    rest >>= 8n;
    hash = BigInt.asUintN(64, hash * FNV_PRIME_64);
  }
  const signed = BigInt.asIntN(64, hash);
  return signed < 0n ? -signed : signed;
}

export function keyChooser(distribution: KeyDistribution, itemCount: number, rng: Random): KeyChooser {
  return distribution === 'uniform' ? uniformChooser(itemCount, rng) : new ScrambledZipfianGenerator(itemCount, rng);
}

export function parseDistribution(text: string): KeyDistribution {
  if (text === 'uniform' || text === 'zipfian') return text;
  throw new RangeError(`unknown key distribution ${JSON.stringify(text)} (expected ${KEY_DISTRIBUTIONS.join(' or ')})`);
}

function assertItemCount(itemCount: number): void {
  if (!Number.isSafeInteger(itemCount) || itemCount < 1) throw new RangeError(`item count must be a positive integer, got ${itemCount}`);
}
