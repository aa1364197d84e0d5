/**
 * A bounded cache of values by string key, bounded both in entries and in bytes (each
 * entry carries its own charge). Two policies:
 *
 *   tinylfu  TinyLFU admission (Einziger, Friedman and Manes 2017) in front of a segmented
 *            LRU: a newcomer is cached only if the frequency sketch says it is asked for
 *            more often than the entries it would push out, so a burst of one-off keys (a
 *            scan) cannot flush the hot set; a key the sketch has not seen asked for before
 *            is never cached. The segmented LRU has a probation segment, and a protected
 *            one (80% of the room) for entries hit again while on probation.
 *            Caffeine's W-TinyLFU also puts a small LRU window before the admission test.
 *            Shoal has none: in a garbage-collected heap every object that enters the
 *            cache and soon leaves costs a promotion and a sweep, and with a 1% window
 *            bench:cache measured that churn (half of all misses passed through the window)
 *            costing more CPU than the hits saved. Caffeine's own hill climber shrinks its
 *            window towards nothing on frequency-skewed workloads like YCSB's.
 *   lru      plain least-recently-used, for comparison.
 *
 * Pure and deterministic (no clock, no randomness).
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
  /** The key as first stored: hits never put the caller's (young) string into the old index. */
  readonly key: string;
  value: V;
  charge: number;
  segment: Segment<V>;
  /** Neighbours in the segment's recency list: `older` towards the head (least recently used). */
  older: Entry<V> | undefined;
  newer: Entry<V> | undefined;
}

/**
 * One LRU-ordered segment with its own share of the room: an intrusive doubly linked list,
 * so that a hit only relinks objects that already exist (a Map re-insert per hit would
 * allocate, and keep every hit's key string alive into the old generation).
 */
class Segment<V> {
  size = 0;
  bytes = 0;
  /** The least recently used entry. */
  head: Entry<V> | undefined = undefined;
  private tail: Entry<V> | undefined = undefined;

  constructor(
    readonly objectsMax: number,
    readonly bytesMax: number,
  ) {}

  isOver(): boolean {
    return this.size > this.objectsMax || this.bytes > this.bytesMax;
  }

  /** Adds the entry (held by no segment) at the most recently used end. */
  append(entry: Entry<V>): void {
    entry.segment = this;
    entry.older = this.tail;
    entry.newer = undefined;
    if (this.tail === undefined) this.head = entry;
    else this.tail.newer = entry;
    this.tail = entry;
    this.size++;
    this.bytes += entry.charge;
  }

  unlink(entry: Entry<V>): void {
    if (entry.older === undefined) this.head = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === undefined) this.tail = entry.older;
    else entry.newer.older = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
    this.size--;
    this.bytes -= entry.charge;
  }

  /** Moves a member to the most recently used end. */
  refresh(entry: Entry<V>): void {
    if (entry === this.tail) return;
    this.unlink(entry);
    this.append(entry);
  }

  clear(): void {
    this.head = undefined;
    this.tail = undefined;
    this.size = 0;
    this.bytes = 0;
  }
}

/** Requests the sketch must have counted (this one included) before a newcomer may be cached. */
const ADMISSION_FREQUENCY_MIN = 2;
const SKETCH_COUNTERS_PER_OBJECT = 8;
const PROTECTED_SHARE = 0.8;

export class ObjectCache<V> {
  readonly limits: CacheLimits;
  private readonly probation: Segment<V>;
  private readonly protected: Segment<V>;
  private readonly sketch: FrequencySketch | undefined;
  /** Every cached entry by key, whichever segment holds it. */
  private readonly index = new Map<string, Entry<V>>();
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private admitted = 0;
  private rejected = 0;

  /**
   * `adopt` turns a value into the one the cache keeps (by default the value itself): the
   * owner may want long-lived values built apart from short-lived ones.
   */
  constructor(
    limits: CacheLimits,
    private readonly adopt: (value: V) => V = (value) => value,
  ) {
    for (const name of ['objectsMax', 'bytesMax'] as const) {
      if (!Number.isSafeInteger(limits[name]) || limits[name] < 0) throw new RangeError(`${name} must be a non-negative integer, got ${limits[name]}`);
    }
    this.limits = limits;
    const { objectsMax, bytesMax } = limits;
    if (limits.policy === 'lru') {
      // One segment does everything: the protected one stays empty.
      this.probation = new Segment(objectsMax, bytesMax);
      this.protected = new Segment(0, 0);
      this.sketch = undefined;
      return;
    }
    this.probation = new Segment(objectsMax, bytesMax);
    this.protected = new Segment(Math.floor(objectsMax * PROTECTED_SHARE), Math.floor(bytesMax * PROTECTED_SHARE));
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
    const entry = this.index.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.touch(entry);
    return entry.value;
  }

  /** Whether `key` is cached (no statistics, no recency change). */
  has(key: string): boolean {
    return this.index.has(key);
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
      this.insert(this.probation, key, value, charge);
      this.admitted++;
      this.evictOverflow();
      return;
    }
    const frequency = this.sketch.frequency(key);
    if (frequency < ADMISSION_FREQUENCY_MIN || !this.makeRoomFor(frequency, charge)) {
      this.rejected++;
      return;
    }
    this.insert(this.probation, key, value, charge);
    this.admitted++;
  }

  /** A cached key's new value (a write): true when it was cached. Its recency is kept. */
  update(key: string, value: V, charge: number): boolean {
    const entry = this.index.get(key);
    if (entry === undefined) return false;
    entry.segment.bytes += charge - entry.charge;
    entry.value = this.adopt(value);
    entry.charge = charge;
    if (charge > this.limits.bytesMax) this.remove(entry);
    else this.evictOverflow();
    return true;
  }

  /** Forgets `key` (its value was removed). */
  delete(key: string): void {
    const entry = this.index.get(key);
    if (entry !== undefined) this.remove(entry);
  }

  clear(): void {
    this.index.clear();
    this.probation.clear();
    this.protected.clear();
  }

  stats(): CacheStats {
    return {
      policy: this.limits.policy,
      objects: this.index.size,
      bytes: this.probation.bytes + this.protected.bytes,
      objectsMax: this.limits.objectsMax,
      bytesMax: this.limits.bytesMax,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      admitted: this.admitted,
      rejected: this.rejected,
    };
  }

  private insert(segment: Segment<V>, key: string, value: V, charge: number): void {
    const entry: Entry<V> = { key, value: this.adopt(value), charge, segment, older: undefined, newer: undefined };
    this.index.set(key, entry);
    segment.append(entry);
  }

  private remove(entry: Entry<V>): void {
    entry.segment.unlink(entry);
    this.index.delete(entry.key);
  }

  /** A hit: a protected entry (or any, for lru) moves to its segment's front; a probation one gets protected. */
  private touch(entry: Entry<V>): void {
    if (this.sketch === undefined || entry.segment !== this.probation) {
      entry.segment.refresh(entry);
      return;
    }
    this.probation.unlink(entry);
    this.protected.append(entry);
    // Protected overflow goes back on probation (the most recent end), never out.
    while (this.protected.isOver()) {
      const demoted = this.protected.head as Entry<V>;
      this.protected.unlink(demoted);
      this.probation.append(demoted);
    }
    this.evictOverflow();
  }

  /**
   * Whether a newcomer of this frequency and charge wins its place against the least recently
   * used entries; when it does, those are evicted to make room.
   */
  private makeRoomFor(candidateFrequency: number, charge: number): boolean {
    const sketch = this.sketch as FrequencySketch;
    let victimsEnd: Entry<V> | undefined = this.probation.head ?? this.protected.head;
    let victims = 0;
    let freedBytes = 0;
    while (victimsEnd !== undefined && this.exceeds(1 - victims, charge - freedBytes)) {
      if (sketch.frequency(victimsEnd.key) >= candidateFrequency) break;
      victims++;
      freedBytes += victimsEnd.charge;
      victimsEnd = this.nextInEvictionOrder(victimsEnd);
    }
    if (this.exceeds(1 - victims, charge - freedBytes)) return false;
    for (let i = 0; i < victims; i++) this.evictOldest(this.probation.size > 0 ? this.probation : this.protected);
    return true;
  }

  /** Entries, least valuable first: probation's oldest to newest, then protected's. */
  private nextInEvictionOrder(entry: Entry<V>): Entry<V> | undefined {
    if (entry.newer !== undefined) return entry.newer;
    return entry.segment === this.probation ? this.protected.head : undefined;
  }

  /** Whether probation and protected together (probation's bounds are the whole room) would be over the room with these added. */
  private exceeds(objectsAdded: number, bytesAdded: number): boolean {
    return (
      this.probation.size + this.protected.size + objectsAdded > this.probation.objectsMax ||
      this.probation.bytes + this.protected.bytes + bytesAdded > this.probation.bytesMax
    );
  }

  /** Evicts the least valuable entries until the cache is within its room again. */
  private evictOverflow(): void {
    while (this.exceeds(0, 0)) this.evictOldest(this.probation.size > 0 ? this.probation : this.protected);
  }

  private evictOldest(segment: Segment<V>): void {
    const oldest = segment.head;
    if (oldest === undefined) return;
    this.remove(oldest);
    this.evictions++;
  }
}
