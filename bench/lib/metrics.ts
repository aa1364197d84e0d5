/** Reading a node's Prometheus metrics (`GET /metrics`) for benchmark reports. */
import { getOnce, type SecureAccess } from './http-client.ts';

/** Samples as `name{labels}` → value, for the metric names that start with `prefix`. */
export type MetricSamples = Map<string, number>;

/** `secure`: the node's (ShoalNodeProcess.secure) when it is secure. */
export async function scrapeMetrics(httpUrl: string, prefix = 'shoal_', secure?: SecureAccess): Promise<MetricSamples | undefined> {
  try {
    const { status, body } = await getOnce(`${httpUrl}/metrics`, 5000, secure);
    if (status !== 200) return undefined;
    return parsePrometheus(body, prefix);
  } catch {
    return undefined;
  }
}

export function parsePrometheus(text: string, prefix: string): MetricSamples {
  const samples: MetricSamples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || !line.startsWith(prefix)) continue;
    const space = line.lastIndexOf(' ');
    const value = Number(line.slice(space + 1));
    if (space > 0 && !Number.isNaN(value)) samples.set(line.slice(0, space), value);
  }
  return samples;
}

/**
 * `after - before` for every sample of `after` (counters and histogram buckets since
 * `before` was scraped; gauges keep their `after` value when `gauges` names them).
 */
export function diffSamples(after: MetricSamples, before: MetricSamples, gauges: readonly string[] = []): MetricSamples {
  const out: MetricSamples = new Map();
  for (const [key, value] of after) {
    const brace = key.indexOf('{');
    const base = brace < 0 ? key : key.slice(0, brace);
    out.set(key, gauges.includes(base) ? value : value - (before.get(key) ?? 0));
  }
  return out;
}

/**
 * The samples of `delta` (a diffSamples result) worth printing: the non-zero changes of
 * `counters` and the values of `gauges`, keyed `name{labels}` without the node label.
 */
export function reportedMetrics(delta: MetricSamples, counters: readonly string[], gauges: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of delta) {
    const base = key.includes('{') ? key.slice(0, key.indexOf('{')) : key;
    const name = key.replace(/,?node="[^"]*"/, '').replace('{,', '{').replace('{}', '');
    if ((counters.includes(base) && value !== 0) || gauges.includes(base)) out[name] = Math.round(value * 1000) / 1000;
  }
  return out;
}

/** Sum of every sample of `name` whose labels contain all of `labels` (e.g. 'durable="true"'). */
export function metricSum(samples: MetricSamples, name: string, ...labels: string[]): number {
  let sum = 0;
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    const base = brace < 0 ? key : key.slice(0, brace);
    if (base === name && labels.every((l) => key.includes(l))) sum += value;
  }
  return sum;
}

/** Cumulative buckets (upper bound `le`, count) of a Prometheus histogram, summed over the matching label sets. */
export function histogramBuckets(samples: MetricSamples, name: string, ...labels: string[]): { le: number; count: number }[] {
  const byLe = new Map<number, number>();
  for (const [key, value] of samples) {
    if (!key.startsWith(`${name}_bucket{`) || !labels.every((l) => key.includes(l))) continue;
    const le = /le="([^"]+)"/.exec(key)?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    byLe.set(bound, (byLe.get(bound) ?? 0) + value);
  }
  return [...byLe.entries()].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/**
 * The bucket bound at or below which fraction `q` (0..1) of the observations fall: an
 * upper bound on the q-quantile. Infinity when it lies past the last finite bucket;
 * undefined with no observations.
 */
export function bucketQuantileUpperBound(buckets: readonly { le: number; count: number }[], q: number): number | undefined {
  const total = buckets[buckets.length - 1]?.count ?? 0;
  if (total === 0) return undefined;
  return buckets.find((b) => b.count >= q * total)?.le ?? Infinity;
}

/** A node's write-path statistics from its /metrics, since it started. */
export interface NodeWriteStats {
  flushes: number;
  objectsFlushed: number;
  meanBatchObjects: number;
  meanFlushMs: number;
  /** Upper bounds (bucket edges) of the flush-duration quantiles. */
  flushMsUpTo: Quantiles | null;
  /** Writes that had to wait for buffer room, and their mean wait. */
  writesWaited: number;
  meanWriteWaitMs: number;
  /**
   * The node's own view of PUT /kv latency (handler in to reply out; excludes time queued
   * in its event loop and the network), as upper bounds (bucket edges), ms.
   */
  serverPutMsUpTo: Quantiles | null;
}

/** Quantiles as histogram bucket upper bounds, ms (null: past the last finite bucket). */
export interface Quantiles {
  count: number;
  p50: number | null;
  p99: number | null;
  p99_9: number | null;
}

export function bucketQuantiles(m: MetricSamples, name: string, ...labels: string[]): Quantiles | null {
  const buckets = histogramBuckets(m, name, ...labels);
  const count = buckets[buckets.length - 1]?.count ?? 0;
  if (count === 0) return null;
  const ms = (q: number): number | null => {
    const s = bucketQuantileUpperBound(buckets, q);
    return s === undefined || !Number.isFinite(s) ? null : Math.round(s * 1e6) / 1e3;
  };
  return { count, p50: ms(0.5), p99: ms(0.99), p99_9: ms(0.999) };
}

export async function nodeWriteStats(httpUrl: string): Promise<NodeWriteStats | null> {
  const m = await scrapeMetrics(httpUrl);
  if (m === undefined) return null;
  const flushes = metricSum(m, 'shoal_flush_batch_objects_count');
  const objects = metricSum(m, 'shoal_flush_batch_objects_sum');
  const flushSeconds = metricSum(m, 'shoal_flush_duration_seconds_sum');
  const waits = metricSum(m, 'shoal_buffer_write_wait_seconds_count');
  const waitSeconds = metricSum(m, 'shoal_buffer_write_wait_seconds_sum');
  const round1 = (x: number): number => Math.round(x * 10) / 10;
  return {
    flushes,
    objectsFlushed: objects,
    meanBatchObjects: flushes > 0 ? round1(objects / flushes) : 0,
    meanFlushMs: flushes > 0 ? Math.round((flushSeconds / flushes) * 1e6) / 1e3 : 0,
    flushMsUpTo: bucketQuantiles(m, 'shoal_flush_duration_seconds'),
    serverPutMsUpTo: bucketQuantiles(m, 'shoal_http_request_duration_seconds', 'method="PUT"'),
    writesWaited: waits,
    meanWriteWaitMs: waits > 0 ? Math.round((waitSeconds / waits) * 1e6) / 1e3 : 0,
  };
}
