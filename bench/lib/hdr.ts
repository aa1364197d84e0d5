/**
 * Latency histograms (hdr-histogram-js). Values are recorded in microseconds as
 * integers and reported in milliseconds.
 */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** 1 µs resolution, 3 significant digits, auto-resizing past one hour. */
export function latencyHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
}

/** Records a duration given in nanoseconds (as from process.hrtime.bigint()). */
export function recordNs(histogram: Histogram, ns: bigint | number): void {
  const us = Math.max(1, Math.round(Number(ns) / 1000));
  histogram.recordValue(us);
}

export interface LatencySummaryMs {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  max: number;
}

const ms = (us: number): number => Math.round(us) / 1000;

/** Percentiles in ms (3 decimals). A percentile never reports more than the exact max. */
export function summarize(histogram: Histogram): LatencySummaryMs {
  if (histogram.totalCount === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, p99_9: 0, max: 0 };
  const max = histogram.maxValue;
  const at = (p: number): number => ms(Math.min(histogram.getValueAtPercentile(p), max));
  return {
    count: histogram.totalCount,
    mean: ms(histogram.mean),
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p99_9: at(99.9),
    max: ms(max),
  };
}

/** One point of a latency distribution: `p` percent of the requests took at most `ms`. */
export interface PercentilePoint {
  p: number;
  ms: number;
}

/** Percentiles of an HDR percentile-distribution plot, each step halving the remaining tail. */
const CURVE_PERCENTILES = [0, 25, 50, 75, 87.5, 90, 93.75, 95, 96.875, 98.4375, 99, 99.21875, 99.5, 99.609375, 99.8, 99.9,
  99.95, 99.975, 99.99, 99.995, 99.999];

/**
 * The latency distribution as HDR plots it (latency against percentile, the tail spread
 * out on a 1/(1 - p) axis): a percentile is kept only while at least one request lies
 * beyond it, and the max closes the curve at 100. A few dozen points, whatever the count.
 */
export function percentileCurve(histogram: Histogram): PercentilePoint[] {
  const count = histogram.totalCount;
  if (count === 0) return [];
  const max = histogram.maxValue;
  const points = CURVE_PERCENTILES
    .filter((p) => count * (1 - p / 100) >= 1 - 1e-9)
    .map((p) => ({ p, ms: ms(Math.min(histogram.getValueAtPercentile(p), max)) }));
  points.push({ p: 100, ms: ms(max) });
  return points;
}
