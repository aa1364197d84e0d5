/**
 * Requests per second and latency percentiles per route over the last `samplesMax` seconds,
 * for the dashboard's charts.
 *
 * Recording a request is on the hot path: a bucket increment in the current second's
 * log-scale histogram of its route, nothing allocated. When a second is over (noticed by the
 * next record or read), each route's histogram is reduced to one sample — count, p50, p99,
 * p99.9 — in a fixed ring, and cleared. Memory is fixed: routesMax histograms and rings.
 *
 * Pure: time comes in as arguments (wall-clock ms, so the charts' axis is real time).
 */

/** Bucket upper bounds grow by 2^(1/16) (about 4.4%) from BUCKET_BASE_MS: percentiles within about 2%. */
const BUCKET_BASE_MS = 0.01;
const BUCKETS_PER_DOUBLING = 16;
/** 0.01 ms · 2^(376/16) is about 120 s: longer than any request lasts. */
const BUCKET_COUNT = 376;
const SECOND_MS = 1000;
const LOG2_BASE = Math.log2(BUCKET_BASE_MS);

/** Where requests of routes past routesMax are counted. */
export const OTHER_ROUTE = 'other';

export interface RequestHistoryOptions {
  /** Seconds kept (the charts' width). */
  readonly samplesMax: number;
  /** Distinct routes tracked; later ones are counted as OTHER_ROUTE. */
  readonly routesMax: number;
}

export const REQUEST_HISTORY_DEFAULTS: RequestHistoryOptions = Object.freeze({ samplesMax: 300, routesMax: 32 });

/** One route's series, oldest first; a percentile is null for a second without requests. */
export interface RouteSeries {
  readonly route: string;
  readonly perSecond: number[];
  readonly p50Ms: (number | null)[];
  readonly p99Ms: (number | null)[];
  readonly p999Ms: (number | null)[];
}

export interface RequestSamples {
  /** The start of each second, in wall-clock seconds, oldest first. */
  readonly times: number[];
  /** Routes with at least one request in the window. */
  readonly routes: RouteSeries[];
}

/** The bucket of a latency: the smallest i with bucketLimitMs(i) >= latencyMs. */
export function bucketOf(latencyMs: number): number {
  if (!(latencyMs > BUCKET_BASE_MS)) return 0;
  const index = Math.ceil((Math.log2(latencyMs) - LOG2_BASE) * BUCKETS_PER_DOUBLING);
  return index < BUCKET_COUNT ? index : BUCKET_COUNT - 1;
}

/** What a bucket reports: the geometric middle of its range, so the error is half a bucket either way. */
function bucketValueMs(bucket: number): number {
  return BUCKET_BASE_MS * 2 ** ((bucket - 0.5) / BUCKETS_PER_DOUBLING);
}

export class RequestHistory {
  readonly samplesMax: number;
  readonly routesMax: number;
  private readonly routeNames: string[] = [];
  private readonly routeIndexes = new Map<string, number>();
  /** The current second's histograms, routesMax + 1 (other) of BUCKET_COUNT each. */
  private readonly histograms: Uint32Array;
  private readonly currentCounts: Uint32Array;
  /** Ring of samples: slot s of route r at r * samplesMax + s. */
  private readonly counts: Uint32Array;
  private readonly p50Ms: Float32Array;
  private readonly p99Ms: Float32Array;
  private readonly p999Ms: Float32Array;
  private readonly times: Float64Array;
  /** The next slot to write, and how many slots hold samples. */
  private head = 0;
  private filled = 0;
  /** The second being counted now (ms); -Infinity before the first record or read. */
  private secondStartMs = -Infinity;

  constructor(options: RequestHistoryOptions = REQUEST_HISTORY_DEFAULTS) {
    const { samplesMax, routesMax } = options;
    if (!Number.isInteger(samplesMax) || samplesMax < 1) throw new RangeError(`samplesMax must be a positive integer, got ${samplesMax}`);
    if (!Number.isInteger(routesMax) || routesMax < 1) throw new RangeError(`routesMax must be a positive integer, got ${routesMax}`);
    this.samplesMax = samplesMax;
    this.routesMax = routesMax;
    const slots = routesMax + 1;
    this.histograms = new Uint32Array(slots * BUCKET_COUNT);
    this.currentCounts = new Uint32Array(slots);
    this.counts = new Uint32Array(slots * samplesMax);
    this.p50Ms = new Float32Array(slots * samplesMax);
    this.p99Ms = new Float32Array(slots * samplesMax);
    this.p999Ms = new Float32Array(slots * samplesMax);
    this.times = new Float64Array(samplesMax);
  }

  /** The index `record` takes for `route` (look it up once per route, not per request). */
  routeIndex(route: string): number {
    const known = this.routeIndexes.get(route);
    if (known !== undefined) return known;
    if (this.routeNames.length >= this.routesMax) return this.routesMax;
    const index = this.routeNames.length;
    this.routeNames.push(route);
    this.routeIndexes.set(route, index);
    return index;
  }

  /** One request of route `routeIndex` that took `latencyMs`, finished at `nowMs`. */
  record(routeIndex: number, latencyMs: number, nowMs: number): void {
    if (nowMs >= this.secondStartMs + SECOND_MS) this.advance(nowMs);
    const cell = routeIndex * BUCKET_COUNT + bucketOf(latencyMs);
    this.histograms[cell] = (this.histograms[cell] as number) + 1;
    this.currentCounts[routeIndex] = (this.currentCounts[routeIndex] as number) + 1;
  }

  /** The completed seconds up to `nowMs` (the one in progress is left out). */
  samples(nowMs: number): RequestSamples {
    if (nowMs >= this.secondStartMs + SECOND_MS) this.advance(nowMs);
    const slots: number[] = [];
    for (let i = this.filled; i > 0; i--) slots.push((this.head - i + this.samplesMax) % this.samplesMax);
    const times = slots.map((slot) => (this.times[slot] as number) / SECOND_MS);
    const routes: RouteSeries[] = [];
    for (let route = 0; route <= this.routesMax; route++) {
      const base = route * this.samplesMax;
      const perSecond = slots.map((slot) => this.counts[base + slot] as number);
      if (!perSecond.some((count) => count > 0)) continue;
      const read = (values: Float32Array): (number | null)[] => slots.map((slot) => ((this.counts[base + slot] as number) === 0 ? null : roundMs(values[base + slot] as number)));
      const name = route === this.routesMax ? OTHER_ROUTE : (this.routeNames[route] as string);
      routes.push({ route: name, perSecond, p50Ms: read(this.p50Ms), p99Ms: read(this.p99Ms), p999Ms: read(this.p999Ms) });
    }
    return { times, routes };
  }

  /** Closes the second being counted, adds empty samples for seconds that saw nothing, and starts the one of `nowMs`. */
  private advance(nowMs: number): void {
    const nowSecondMs = Math.floor(nowMs / SECOND_MS) * SECOND_MS;
    if (this.secondStartMs !== -Infinity) {
      this.closeSecond(this.secondStartMs);
      const idleSeconds = Math.min(this.samplesMax, (nowSecondMs - this.secondStartMs) / SECOND_MS - 1);
      for (let i = idleSeconds; i > 0; i--) this.closeSecond(nowSecondMs - i * SECOND_MS);
    }
    this.secondStartMs = nowSecondMs;
  }

  private closeSecond(startMs: number): void {
    const slot = this.head;
    this.times[slot] = startMs;
    for (let route = 0; route <= this.routesMax; route++) {
      const at = route * this.samplesMax + slot;
      const count = this.currentCounts[route] as number;
      this.counts[at] = count;
      if (count === 0) continue;
      this.reduce(route, count, at);
      this.currentCounts[route] = 0;
      this.histograms.fill(0, route * BUCKET_COUNT, (route + 1) * BUCKET_COUNT);
    }
    this.head = (slot + 1) % this.samplesMax;
    this.filled = Math.min(this.samplesMax, this.filled + 1);
  }

  /** The route's percentiles this second, from its histogram, into sample `at`. */
  private reduce(route: number, count: number, at: number): void {
    const rank50 = Math.ceil(0.5 * count);
    const rank99 = Math.ceil(0.99 * count);
    const rank999 = Math.ceil(0.999 * count);
    let seen = 0;
    const base = route * BUCKET_COUNT;
    for (let bucket = 0; bucket < BUCKET_COUNT; bucket++) {
      const inBucket = this.histograms[base + bucket] as number;
      if (inBucket === 0) continue;
      const before = seen;
      seen += inBucket;
      const value = bucketValueMs(bucket);
      if (before < rank50 && seen >= rank50) this.p50Ms[at] = value;
      if (before < rank99 && seen >= rank99) this.p99Ms[at] = value;
      if (seen >= rank999) {
        this.p999Ms[at] = value;
        return;
      }
    }
  }
}

/** Three significant digits: the buckets are not finer than that. */
function roundMs(value: number): number {
  return Number(value.toPrecision(3));
}
