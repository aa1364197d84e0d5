/**
 * A bounded cache of values by string key, bounded both in entries and in bytes (each
 * entry carries its own charge). Two policies:
 *
 *   tinylfu  W-TinyLFU (Einziger, Friedman and Manes 2017; Caffeine's policy): new entries
 *            land in a small LRU window (1% of the room), once the sketch has seen them
 *            asked for before (a one-off read is not cached at all: in a garbage-collected
 *            heap every object that enters and leaves costs a promotion and a sweep, and
 *            bench:cache measured that churn costing more than the hits saved); an entry leaving the window
 *            enters the main area only if the frequency sketch says it is asked for more
 *            often than the entry it would push out, so a burst of one-off keys (a scan)
 *            cannot flush the hot set. The main area is a segmented LRU: a probation
 *            segment, and a protected one (80% of the main room) for entries hit again
 *            while on probation.
 *   lru      plain least-recently-used, for comparison.
 *
 * Pure and deterministic (no clock, no randomness). Map insertion order is the recency
 * order of each segment: the first key is the least recently used.
 */
import { FrequencySketch } from './frequencySketch.ts';

export type CachePolicy = 'tinylfu' | 'lru';
export const CACHE_POLICIES = ['tinylfu', 'lru'] as const satisfies readonly CachePolicy[];

export interface CacheLimits {
  /** Most entries held; 0 turns the cache off. */
  readonly objectsMax: number;
  /** Most bytes held, summed over the entries' charges; 0 turns the cache off. */
  readonly bytesMax: number;
  readonly policy: CachePolicy;
}

export interface CacheCounters {
  readonly hits: number;
  readonly misses: number;
  /** Entries pushed out to make room (a rejected newcomer is not counted here). */
  readonly evictions: number;
  /** Newcomers let into the main area (tinylfu), or into the cache (lru). */
  readonly admitted: number;
  /** Newcomers the admission policy turned away (always 0 for lru). */
  readonly rejected: number;
}

export interface CacheStats extends CacheCounters {
  readonly policy: CachePolicy;
  readonly objects: number;
  readonly bytes: number;
  readonly objectsMax: number;
  readonly bytesMax: number;
}

interface Entry<V> {
  value: V;
  charge: number;
}

/** One LRU-ordered segment with its own share of the room. */
class Segment<V> {
  readonly entries = new Map<string, Entry<V>>();
  bytes = 0;

  constructor(
    readonly objectsMax: number,
    readonly bytesMax: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  isOver(): boolean {
    return this.entries.size > this.objectsMax || this.bytes > this.bytesMax;
  }

  /** Adds (or moves) the entry to the most recently used end. */
  push(key: string, entry: Entry<V>): void {
    this.remove(key);
    this.entries.set(key, entry);
    this.bytes += entry.charge;
  }

  remove(key: string): Entry<V> | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.bytes -= entry.charge;
    return entry;
  }

  /** The least recently used key. */
  oldest(): string | undefined {
    for (const key of this.entries.keys()) return key;
    return undefined;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

const WINDOW_SHARE = 0.01;
/** Requests the sketch must have counted (this one included) before a newcomer enters the window. */
const WINDOW_ADMISSION_FREQUENCY_MIN = 2;
const SKETCH_COUNTERS_PER_OBJECT = 8;
const PROTECTED_SHARE = 0.8;

export class ObjectCache<V> {
  readonly limits: CacheLimits;
  private readonly window: Segment<V>;
  private readonly probation: Segment<V>;
  private readonly protected: Segment<V>;
  private readonly sketch: FrequencySketch | undefined;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private admitted = 0;
  private rejected = 0;

  constructor(limits: CacheLimits) {
    for (const name of ['objectsMax', 'bytesMax'] as const) {
      if (!Number.isSafeInteger(limits[name]) || limits[name] < 0) throw new RangeError(`${name} must be a non-negative integer, got ${limits[name]}`);
    }
    this.limits = limits;
    const { objectsMax, bytesMax } = limits;
    if (limits.policy === 'lru') {
      // One segment does everything: the window and protected ones stay empty.
      this.window = new Segment(0, 0);
      this.probation = new Segment(objectsMax, bytesMax);
      this.protected = new Segment(0, 0);
      this.sketch = undefined;
      return;
    }
    const windowObjects = Math.max(1, Math.floor(objectsMax * WINDOW_SHARE));
    const windowBytes = Math.max(1, Math.floor(bytesMax * WINDOW_SHARE));
    const mainObjects = Math.max(0, objectsMax - windowObjects);
    const mainBytes = Math.max(0, bytesMax - windowBytes);
    this.window = new Segment(windowObjects, windowBytes);
    this.probation = new Segment(mainObjects, mainBytes);
    this.protected = new Segment(Math.floor(mainObjects * PROTECTED_SHARE), Math.floor(mainBytes * PROTECTED_SHARE));
    // Wider than the cache (8 counters per cached object and row), so that the keys it does
    // not hold, far more numerous, rarely share a counter with a hot one.
    this.sketch = new FrequencySketch(objectsMax * SKETCH_COUNTERS_PER_OBJECT);
  }

  get enabled(): boolean {
    return this.limits.objectsMax > 0 && this.limits.bytesMax > 0;
  }

  /** The cached value (a hit makes it the most recently used), or undefined (a miss). */
  get(key: string): V | undefined {
    if (!this.enabled) return undefined;
    this.sketch?.increment(key);
    const entry = this.window.entries.get(key) ?? this.probation.entries.get(key) ?? this.protected.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.touch(key, entry);
    return entry.value;
  }

  /** Whether `key` is cached (no statistics, no recency change). */
  has(key: string): boolean {
    return this.window.entries.has(key) || this.probation.entries.has(key) || this.protected.entries.has(key);
  }

  /**
   * Offers a value just read from the slower layer after a miss: it is cached if the policy
   * admits it. A key already cached gets the new value (as `update`).
   */
  offer(key: string, value: V, charge: number): void {
    if (!this.enabled) return;
    if (this.update(key, value, charge)) return;
    if (charge > this.limits.bytesMax) return; // it could never fit
    if (this.sketch === undefined) {
      this.probation.push(key, { value, charge });
      this.admitted++;
      this.evictOverflow(this.probation);
      return;
    }
    if (this.sketch.frequency(key) < WINDOW_ADMISSION_FREQUENCY_MIN) {
      this.rejected++;
      return;
    }
    this.window.push(key, { value, charge });
    this.evictOverflow(this.window);
  }

  /** A cached key's new value (a write): true when it was cached. Its recency is kept. */
  update(key: string, value: V, charge: number): boolean {
    const segment = this.segmentOf(key);
    if (segment === undefined) return false;
    const entry = segment.entries.get(key) as Entry<V>;
    segment.bytes += charge - entry.charge;
    entry.value = value;
    entry.charge = charge;
    if (charge > this.limits.bytesMax) this.delete(key);
    else this.evictOverflow(segment);
    return true;
  }

  /** Forgets `key` (its value was removed). */
  delete(key: string): void {
    this.segmentOf(key)?.remove(key);
  }

  clear(): void {
    for (const segment of [this.window, this.probation, this.protected]) segment.clear();
  }

  stats(): CacheStats {
    const segments = [this.window, this.probation, this.protected];
    return {
      policy: this.limits.policy,
      objects: segments.reduce((sum, s) => sum + s.size, 0),
      bytes: segments.reduce((sum, s) => sum + s.bytes, 0),
      objectsMax: this.limits.objectsMax,
      bytesMax: this.limits.bytesMax,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      admitted: this.admitted,
      rejected: this.rejected,
    };
  }

  private segmentOf(key: string): Segment<V> | undefined {
    if (this.window.entries.has(key)) return this.window;
    if (this.probation.entries.has(key)) return this.probation;
    if (this.protected.entries.has(key)) return this.protected;
    return undefined;
  }

  /** A hit: window and protected entries move to their segment's front; probation ones get protected. */
  private touch(key: string, entry: Entry<V>): void {
    if (this.sketch === undefined || !this.probation.entries.has(key)) {
      this.segmentOf(key)?.push(key, entry);
      return;
    }
    this.probation.remove(key);
    this.protected.push(key, entry);
    // Protected overflow goes back on probation (the most recent end), never out.
    while (this.protected.isOver()) {
      const demoted = this.protected.oldest() as string;
      this.probation.push(demoted, this.protected.remove(demoted) as Entry<V>);
    }
    this.evictOverflow(this.probation);
  }

  /** A window entry competes for the main area against its least recently used entries. */
  private admitToMain(candidate: string, entry: Entry<V>): void {
    const sketch = this.sketch as FrequencySketch;
    const candidateFrequency = sketch.frequency(candidate);
    const victims: string[] = [];
    let freedObjects = 0;
    let freedBytes = 0;
    for (const victim of this.mainInEvictionOrder()) {
      if (!this.mainExceeds(1 - freedObjects, entry.charge - freedBytes)) break;
      if (sketch.frequency(victim) >= candidateFrequency) {
        this.rejected++;
        return;
      }
      const victimEntry = this.probation.entries.get(victim) ?? this.protected.entries.get(victim);
      victims.push(victim);
      freedObjects++;
      freedBytes += (victimEntry as Entry<V>).charge;
    }
    if (this.mainExceeds(1 - freedObjects, entry.charge - freedBytes)) {
      this.rejected++;
      return;
    }
    for (const victim of victims) {
      if (this.probation.remove(victim) === undefined) this.protected.remove(victim);
      this.evictions++;
    }
    this.probation.push(candidate, entry);
    this.admitted++;
  }

  /** Whether the main area (probation and protected together; probation's bounds are its room) would be over its room with these added. */
  private mainExceeds(objectsAdded: number, bytesAdded: number): boolean {
    return (
      this.probation.size + this.protected.size + objectsAdded > this.probation.objectsMax ||
      this.probation.bytes + this.protected.bytes + bytesAdded > this.probation.bytesMax
    );
  }

  /** Main-area keys, least valuable first: probation's oldest, then protected's oldest. */
  private *mainInEvictionOrder(): Generator<string> {
    yield* this.probation.entries.keys();
    yield* this.protected.entries.keys();
  }

  /** Evicts the least recently used entries until the cache is within its room again. */
  private evictOverflow(segment: Segment<V>): void {
    if (this.sketch === undefined) {
      while (segment.isOver()) this.evictOldest(segment);
      return;
    }
    if (segment === this.window) {
      while (this.window.isOver()) {
        const candidate = this.window.oldest() as string;
        this.admitToMain(candidate, this.window.remove(candidate) as Entry<V>);
      }
      return;
    }
    while (this.mainExceeds(0, 0)) {
      this.evictOldest(this.probation.size > 0 ? this.probation : this.protected);
    }
  }

  private evictOldest(segment: Segment<V>): void {
    const oldest = segment.oldest();
    if (oldest === undefined) return;
    segment.remove(oldest);
    this.evictions++;
  }
}
