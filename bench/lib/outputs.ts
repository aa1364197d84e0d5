/**
 * The JSON each benchmark prints: the contract between the benchmark that writes it and
 * the report sections that render it (report-sections.ts), also when the suite reads it
 * back from a file.
 */
import type { LatencySummaryMs } from './hdr.ts';
import type { RunHeader } from './html-report.ts';
import type { RedisBenchmarkResult } from './redis.ts';
import type { SkipRecord } from './targets.ts';
import type { VersionSummary } from './version-counts.ts';
import type { LoopShape, SideBySideResult, YcsbRunResult } from './ycsb.ts';
import type { KeyDistribution } from './zipfian.ts';

export interface ComparisonOutput extends RunHeader {
  question: string;
  options: {
    targets: string[];
    workloads: string[];
    distribution: KeyDistribution;
    loop: LoopShape;
    records: number;
    valueBytes: number;
    warmupS: number;
    durationS: number;
    shoalNodes: number;
    shoalArgs: string[];
    seed: number;
  };
  /** What each system is (versions, commands, settings). */
  targets: Record<string, { description: string; facts: Record<string, unknown> }>;
  /** Systems that could not run here, and how to install them. */
  skipped: Record<string, SkipRecord>;
  /** Null when fewer than one target could run. */
  sideBySide: SideBySideResult | null;
  /** Extra measurements of a comparison (e.g. redis-benchmark). */
  extra?: Record<string, unknown>;
  /** A goal to measure, not assert (e.g. Shoal ≥ 0.6× Redis). */
  goal?: { statement: string; measured: Record<string, number | null>; met: boolean | null };
}

/** redis-benchmark against each RESP target, and the ratios of the first over the others. */
export interface RedisBenchmarkSummary {
  command: string;
  byTarget: Record<string, RedisBenchmarkResult>;
  /** `subject/reference` → test (SET, GET) → requests/s ratio. */
  ratios: Record<string, Record<string, number | null>>;
}

/** bench:buffer's JSON, the parts its section shows. */
export interface BufferOutputView extends RunHeader {
  options: { ratePerS: number; durationS: number; bufferObjects: number };
  results: { durable: BufferConfigView; buffered: BufferConfigView } | null;
  ratiosDurableOverBuffered: { p50: number | null; p99: number | null; p99_9: number | null } | null;
  paperClaim: { p99_9Ratio: number };
}

interface BufferConfigView {
  description: string;
  load: { throughputPerS: number; latencyMs: { mean: number; p50: number; p90: number; p99: number; p99_9: number; max: number }; errorCount: number; saturated: boolean };
}

/** bench:imbalance's JSON (paper 6.2). */
export interface ImbalanceOutput extends RunHeader {
  question: string;
  options: { nodes: number; windowS: number; windows: number; thresholdFraction: number; ratePerS: number; records: number; workload: string };
  /** Partitions each node owns (it is the first primary of exactly these): the load share uniform keys give it. */
  partitionsPerNode: Record<string, number>;
  byDistribution: ImbalanceRun[];
}

export interface ImbalanceRun {
  distribution: string;
  /** Per window: requests per node (in the ring's member order), and the out-of-balance fraction. */
  windows: { requestsPerNode: number[]; meanRequests: number; outOfBalanceNodes: number; outOfBalanceFraction: number }[];
  meanOutOfBalanceFraction: number;
  /** Requests per node over the whole run. */
  totalPerNode: Record<string, number>;
  /** Share of the requests the most-loaded node took over the whole run. */
  maxNodeShare: number;
  run: YcsbRunResult;
}

/** bench:versions' JSON (paper 6.3). */
export interface VersionsOutput extends RunHeader {
  question: string;
  variants: VersionsVariant[];
}

export interface VersionsVariant {
  name: string;
  description: string;
  writers: number;
  readers: number;
  keys: number;
  durationS: number;
  /** Reads by the readers. */
  readerReads: VersionSummary;
  /** Every read (readers' and read-modify-writes'). */
  allReads: VersionSummary;
  /** Measured writes that succeeded, blind and carrying a read's context; failures by label (e.g. 409: too many siblings). */
  writes: { blind: number; withContext: number; failed: Record<string, number> };
  /** Successful operations per second (a read-modify-write counts once). */
  throughputPerS: number;
  /** Per operation kind ('read', 'write-blind', 'write-rmw'): outcomes and latency from send. */
  kinds: Record<string, { ok: number; errors: number; labels: Record<string, number>; latencyMs: LatencySummaryMs }>;
}

/** bench:coordination's JSON (paper 6.4, Table 2). */
export interface CoordinationOutput extends RunHeader {
  question: string;
  options: { nodes: number; ratePerS: number; durationS: number; records: number; workload: string; distribution: string };
  /** What drove each mode (src/client, or the bench's HTTP client standing in for server-driven). */
  implementations: Record<string, string>;
  /** The paper's Table 2: one row per mode. */
  table2: { mode: string; readP99_9Ms: number | null; writeP99_9Ms: number | null; readMeanMs: number | null; writeMeanMs: number | null; skipped?: SkipRecord }[];
  ratiosClientOverServer: { readP99_9: number | null; writeP99_9: number | null; readMean: number | null; writeMean: number | null } | null;
  runs: YcsbRunResult[];
  forwards: Record<string, number>;
}
