/**
 * The simulator's only source of randomness: sfc32 (Chris Doty-Humphrey's Small Fast
 * Counting generator, 128-bit state, passes PractRand), seeded through splitmix32.
 *
 * Streams: `fork(label)` derives a child from this generator's *seed* and the label, not
 * from how many numbers were drawn so far. So adding a draw to, say, the client workload
 * does not shift the network's or the crash schedule's numbers, and a seed keeps most of
 * its meaning while the simulator evolves.
 */
import type { Random } from '../ports/random.ts';

/** Largest seed accepted: seeds are printed and typed back, so they stay safe integers. */
export const SEED_MAX = Number.MAX_SAFE_INTEGER;

export class SeedError extends Error {
  readonly code = 'SIM_SEED_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'SeedError';
  }
}

export function checkSeed(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new SeedError(`seed must be an integer 0-${SEED_MAX}, got ${String(seed)}`);
  return seed;
}

/** splitmix32 step: a well-mixed 32-bit output from a 32-bit counter. */
function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over the label's UTF-16 code units, then mixed. */
function hashLabel(label: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) hash = Math.imul(hash ^ label.charCodeAt(i), 0x01000193);
  return splitmix32(hash);
}

type SeedKey = readonly [number, number, number, number];

function keyOfSeed(seed: number): SeedKey {
  const low = seed >>> 0;
  const high = Math.floor(seed / 2 ** 32) >>> 0;
  const a = splitmix32(low);
  const b = splitmix32(a ^ high);
  const c = splitmix32(b ^ 0x6a09e667);
  const d = splitmix32(c ^ 0xbb67ae85);
  return [a, b, c, d];
}

export class Prng implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed`: any safe non-negative integer (the one printed with a run). */
  static fromSeed(seed: number): Prng {
    return new Prng(keyOfSeed(checkSeed(seed)));
  }

  private constructor(private readonly key: SeedKey) {
    [this.a, this.b, this.c, this.d] = key;
    // Discard the first outputs: sfc32's state needs a few rounds to mix a weak seed.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** An independent stream named `label` (same seed and label: same stream). */
  fork(label: string): Prng {
    const h = hashLabel(label);
    const [a, b, c, d] = this.key;
    return new Prng([splitmix32(a ^ h), splitmix32(b + h), splitmix32(c ^ Math.imul(h, 3)), splitmix32(d - h)]);
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextUint32() / 2 ** 32;
  }

  /** An integer in [0, maxExclusive); maxExclusive at most 2^32. */
  int(maxExclusive: number): number {
    if (!Number.isSafeInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > 2 ** 32) {
      throw new RangeError(`Prng.int: maxExclusive must be an integer 1-2^32, got ${String(maxExclusive)}`);
    }
    return Math.floor(this.next() * maxExclusive);
  }

  /** An integer in [min, max], both inclusive. */
  intBetween(min: number, max: number): number {
    if (max < min) throw new RangeError(`Prng.intBetween: max ${max} < min ${min}`);
    return min + this.int(max - min + 1);
  }

  /** A float in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Prng.pick: no items');
    return items[this.int(items.length)] as T;
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
}
