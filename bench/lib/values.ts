/** Keys and values for load generators, shared by the benchmarks. */
import { Prng } from '../../src/sim/prng.ts';

/** The i-th key of a benchmark's key space: `prefix` then i, zero-padded so keys sort by i. */
export function keyName(prefix: string, i: number): string {
  return prefix + String(i).padStart(8, '0');
}

/** A pool of distinct pseudo-random printable values, so consecutive writes do not carry identical bytes. */
export function valuePool(bytes: number, seed: number): Buffer[] {
  const rng = Prng.fromSeed(seed).fork('values');
  return Array.from({ length: 256 }, () => {
    const b = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) b[i] = 32 + rng.int(95);
    return b;
  });
}
