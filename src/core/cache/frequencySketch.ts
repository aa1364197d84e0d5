/**
 * How often keys were asked for lately, approximately: a count-min sketch (Cormode and
 * Muthukrishnan 2005) of small saturating counters with periodic halving, the "TinyLFU"
 * frequency filter (Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache
 * Admission Policy", 2017). Four rows; a key's estimate is its smallest counter. Once
 * `sampleSize` increments have been made, every counter is halved, so the sketch forgets
 * old popularity and follows a workload that shifts.
 *
 * Pure and deterministic: keys are hashed with FNV-1a, no randomness.
 */

const ROWS = 4;
/** Counters saturate here (TinyLFU keeps 4-bit counters). */
const COUNTER_MAX = 15;
/** Halve after this many increments per counter of a row (the paper's W / C ratio). */
const SAMPLES_PER_COUNTER = 10;

export class FrequencySketch {
  private readonly counters: Uint8Array;
  private readonly mask: number;
  private readonly sampleSize: number;
  private increments = 0;

  /** `expectedKeys`: about how many keys the cache holds (the rows get the next power of two). */
  constructor(expectedKeys: number) {
    let width = 16;
    while (width < expectedKeys && width < 1 << 24) width *= 2;
    this.mask = width - 1;
    this.counters = new Uint8Array(width * ROWS);
    this.sampleSize = width * SAMPLES_PER_COUNTER;
  }

  /** The estimated count of `key` since it was last halved away. */
  frequency(key: string): number {
    const hash = fnv1a(key);
    let estimate = COUNTER_MAX;
    for (let row = 0; row < ROWS; row++) estimate = Math.min(estimate, this.counters[this.indexOf(hash, row)] as number);
    return estimate;
  }

  /** Counts one request for `key`. */
  increment(key: string): void {
    const hash = fnv1a(key);
    let added = false;
    for (let row = 0; row < ROWS; row++) {
      const index = this.indexOf(hash, row);
      const count = this.counters[index] as number;
      if (count < COUNTER_MAX) {
        this.counters[index] = count + 1;
        added = true;
      }
    }
    if (added && ++this.increments >= this.sampleSize) this.halve();
  }

  private halve(): void {
    for (let i = 0; i < this.counters.length; i++) this.counters[i] = (this.counters[i] as number) >>> 1;
    this.increments = Math.floor(this.increments / 2);
  }

  /** Row `row`'s counter for a hash: double hashing, each row in its own stripe. */
  private indexOf(hash: number, row: number): number {
    const second = Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d) | 1;
    return row * (this.mask + 1) + ((hash + Math.imul(row, second)) >>> 0 & this.mask);
  }
}

/** FNV-1a over the string's UTF-16 code units, 32 bits. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
