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
