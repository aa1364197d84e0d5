/**
 * YCSB-style core workloads (Cooper et al., SoCC 2010) over any KvTarget:
 *
 *   A  50% read, 50% update          B  95% read, 5% update
 *   C  100% read                     F  50% read, 50% read-modify-write
 *
 * A read-modify-write reads a key, then writes it with the read's context (Shoal: the
 * write supersedes exactly the versions it read); its latency is the pair's. Keys are
 * `user00000000`…, chosen uniformly or by YCSB's scrambled zipfian (constant 0.99), from
 * seeded PRNGs (the seed is printed with the results). A load phase writes every record
 * once; a run phase then drives the mix for a fixed time, either
 * - closed loop: `clients` clients, each with its own connection, sending its next
 *   request when the previous one is answered (latency from send: coordinated omission,
 *   as YCSB's own client); or
 * - open loop: requests scheduled at a fixed rate, at most `concurrency` in flight, each
 *   latency measured from its scheduled time (no coordinated omission; lib/load.ts).
 * Latencies go into one HDR histogram per operation type (read / update / rmw).
 */
import type { Random } from '../../src/ports/random.ts';
import { Prng } from '../../src/sim/prng.ts';
import { latencyHistogram, percentileCurve, summarize, type Histogram, type LatencySummaryMs, type PercentilePoint } from './hdr.ts';
import { runClosedLoop, runFixedCount, runOpenLoop, type ClosedLoopOutcome, type OpenLoopRequestResult } from './load.ts';
import { cpuShare, sampleCpu, type CpuShare } from './machine.ts';
import type { ManagedProcess } from './node-process.ts';
import { ratio } from './report.ts';
import type { BenchTarget, KvTarget } from './targets.ts';
import { keyName, valuePool } from './values.ts';
import { VersionCounter, type VersionSummary } from './version-counts.ts';
import { keyChooser, type KeyChooser, type KeyDistribution } from './zipfian.ts';

export type YcsbOperation = 'read' | 'update' | 'rmw';

export const YCSB_OPERATIONS: readonly YcsbOperation[] = ['read', 'update', 'rmw'];

export interface YcsbWorkload {
  name: string;
  description: string;
  /** Shares of the operations, summing to 1. */
  proportions: Readonly<Record<YcsbOperation, number>>;
}

export const YCSB_WORKLOADS: Readonly<Record<string, YcsbWorkload>> = {
  A: { name: 'A', description: 'update heavy: 50% read, 50% update', proportions: { read: 0.5, update: 0.5, rmw: 0 } },
  B: { name: 'B', description: 'read mostly: 95% read, 5% update', proportions: { read: 0.95, update: 0.05, rmw: 0 } },
  C: { name: 'C', description: 'read only: 100% read', proportions: { read: 1, update: 0, rmw: 0 } },
  F: { name: 'F', description: 'read-modify-write: 50% read, 50% read then write with its context', proportions: { read: 0.5, update: 0, rmw: 0.5 } },
};

/** `A,B,F` → the workloads, in that order. */
export function parseWorkloads(list: string): YcsbWorkload[] {
  return list.split(',').map((name) => {
    const workload = YCSB_WORKLOADS[name.trim().toUpperCase()];
    if (workload === undefined) throw new RangeError(`unknown YCSB workload ${JSON.stringify(name)} (expected some of ${Object.keys(YCSB_WORKLOADS).join(',')})`);
    return workload;
  });
}

/** The operation that a uniform draw `u` in [0, 1) picks under the workload's proportions. */
export function chooseOperation(workload: YcsbWorkload, u: number): YcsbOperation {
  let edge = 0;
  for (const op of YCSB_OPERATIONS) {
    edge += workload.proportions[op];
    if (u < edge) return op;
  }
  // Rounding can leave the last edge a hair under 1: the last operation with a share takes it.
  return [...YCSB_OPERATIONS].reverse().find((op) => workload.proportions[op] > 0) ?? 'read';
}

export const RECORD_KEY_PREFIX = 'user';

export function recordKey(i: number): string {
  return keyName(RECORD_KEY_PREFIX, i);
}

/** Connections handed to whichever request needs one; the caller keeps in-flight requests within the pool's size. */
export class ConnectionPool {
  private readonly free: KvTarget[];

  private constructor(readonly all: readonly KvTarget[]) {
    this.free = [...all];
  }

  static async open(target: BenchTarget, size: number): Promise<ConnectionPool> {
    const connections: KvTarget[] = [];
    try {
      for (let i = 0; i < size; i++) connections.push(await target.connect());
    } catch (error) {
      await Promise.all(connections.map((c) => c.close()));
      throw error;
    }
    return new ConnectionPool(connections);
  }

  async use<T>(fn: (connection: KvTarget) => Promise<T>): Promise<T> {
    const connection = this.free.pop();
    if (connection === undefined) throw new Error('ConnectionPool: more requests in flight than connections');
    try {
      return await fn(connection);
    } finally {
      this.free.push(connection);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((c) => c.close()));
  }
}

export interface LoadPhaseResult {
  records: number;
  concurrency: number;
  elapsedS: number;
  ratePerS: number;
  errors: Record<string, number>;
  latencyMs: LatencySummaryMs;
}

/** YCSB's load phase: every record written once (a blind write), `concurrency` at a time. */
export async function loadRecords(target: BenchTarget, records: number, concurrency: number, valueBytes: number, seed: number): Promise<LoadPhaseResult> {
  const values = valuePool(valueBytes, seed);
  const pool = await ConnectionPool.open(target, concurrency);
  try {
    const result = await runFixedCount({
      count: records,
      concurrency,
      op: (seq) => pool.use((c) => c.update(recordKey(seq), values[seq % values.length] as Buffer)),
    });
    return { records, concurrency, elapsedS: result.elapsedS, ratePerS: result.ratePerS, errors: result.errors, latencyMs: result.latencyMs };
  } finally {
    await pool.close();
  }
}

export type LoopShape =
  | { mode: 'closed'; clients: number }
  | { mode: 'open'; ratePerS: number; concurrency: number };

export interface YcsbRunOptions {
  workload: YcsbWorkload;
  distribution: KeyDistribution;
  records: number;
  valueBytes: number;
  seed: number;
  loop: LoopShape;
  warmupS: number;
  durationS: number;
  onProgress?: (line: string) => void;
  /**
   * Called as each operation is sent, with its number among the measured ones (in an open
   * loop, its place in the schedule: the i-th measured request is due at start + i/rate);
   * undefined during the warm-up.
   */
  onOperation?: (key: string, measuredIndex: number | undefined) => void;
}

export interface OperationStats {
  /** Measured requests answered successfully. */
  ok: number;
  errors: number;
  /** Measured requests by outcome label (status, 'nil', an error …). */
  labels: Record<string, number>;
  throughputPerS: number;
  latencyMs: LatencySummaryMs;
  latencyCurveMs: PercentilePoint[];
}

export interface YcsbRunResult {
  target: string;
  workload: string;
  distribution: KeyDistribution;
  loop: LoopShape;
  records: number;
  valueBytes: number;
  seed: number;
  warmupS: number;
  durationS: number;
  latencyMeasuredFrom: 'send (closed loop)' | 'scheduled start (open loop)';
  /** Successful operations per second of the measured window (a read-modify-write counts once). */
  throughputPerS: number;
  operations: Partial<Record<YcsbOperation, OperationStats>>;
  /** Versions returned by the measured reads (reads of read-modify-writes included). */
  versions: VersionSummary;
  errorCount: number;
  /** Open loop: the target did not keep up with the offered rate. */
  saturated?: boolean;
  clientLoopDelayMs: { p50: number; p99: number; max: number };
  /** CPU during warm-up and measurement: `nodesCores` is the target's own processes. */
  cpu: CpuShare;
  /** Closed loop: the target's CPU per operation of the measured window, summed over its processes (from /proc). */
  cpuPerOperation?: CpuPerOperation;
}

export interface CpuPerOperation {
  /** Operations issued in the measured window (a read-modify-write counts once). */
  operations: number;
  /** µs of CPU per operation, every thread of every process (LMDB's writer, libuv's pool, GC helpers). */
  processUs: number;
  /** µs of CPU per operation of the processes' main threads (for Node.js: the event loop, JavaScript). */
  mainThreadUs: number;
}

/** CPU seconds of a target's processes so far: every thread, and the main threads. */
function cpuSecondsOf(processes: readonly ManagedProcess[]): { process: number; mainThread: number } {
  let processS = 0;
  let mainThreadS = 0;
  for (const p of processes) {
    processS += p.cpuSeconds();
    mainThreadS += p.mainThreadCpuSeconds();
  }
  return { process: processS, mainThread: mainThreadS };
}

/** One client's random streams: which key, which operation. */
interface ClientStreams {
  keys: KeyChooser;
  ops: Random;
}

function clientStreams(options: YcsbRunOptions, client: number): ClientStreams {
  const run = Prng.fromSeed(options.seed);
  return {
    keys: keyChooser(options.distribution, options.records, run.fork(`client ${client} keys`)),
    ops: run.fork(`client ${client} ops`),
  };
}

interface Executed {
  outcome: ClosedLoopOutcome;
  /** Versions the operation's read returned (none for a plain update). */
  versions: number | undefined;
}

/** Runs one operation on a connection. */
async function execute(connection: KvTarget, op: YcsbOperation, key: string, value: Buffer): Promise<Executed> {
  if (op === 'update') {
    const w = await connection.update(key, value);
    return { outcome: { kind: op, ok: w.ok, label: w.label }, versions: undefined };
  }
  const r = await connection.read(key);
  if (op === 'read' || !r.ok) return { outcome: { kind: op, ok: r.ok, label: op === 'read' ? r.label : `read ${r.label}` }, versions: r.ok ? r.versions : undefined };
  const w = await connection.update(key, value, r.context);
  return { outcome: { kind: op, ok: w.ok, label: w.label }, versions: r.versions };
}

/** The run phase of one workload against one target. */
export async function runWorkload(target: BenchTarget, options: YcsbRunOptions): Promise<YcsbRunResult> {
  const values = valuePool(options.valueBytes, options.seed);
  const versions = new VersionCounter();
  const cpuBefore = sampleCpu(target.processes);
  const run = options.loop.mode === 'closed'
    ? await runClosed(target, options, options.loop.clients, values, versions)
    : await runOpen(target, options, options.loop, values, versions);
  const cpu = cpuShare(cpuBefore, sampleCpu(target.processes));
  return {
    target: target.name,
    workload: options.workload.name,
    distribution: options.distribution,
    loop: options.loop,
    records: options.records,
    valueBytes: options.valueBytes,
    seed: options.seed,
    warmupS: options.warmupS,
    durationS: options.durationS,
    latencyMeasuredFrom: options.loop.mode === 'closed' ? 'send (closed loop)' : 'scheduled start (open loop)',
    ...run,
    versions: versions.summary(),
    cpu,
  };
}

type LoopPart = Pick<YcsbRunResult, 'throughputPerS' | 'operations' | 'errorCount' | 'saturated' | 'clientLoopDelayMs' | 'cpuPerOperation'>;

async function runClosed(target: BenchTarget, options: YcsbRunOptions, clients: number, values: Buffer[], versions: VersionCounter): Promise<LoopPart> {
  const pool = await ConnectionPool.open(target, clients);
  const streams = Array.from({ length: clients }, (_, client) => clientStreams(options, client));
  let measuredSent = 0;
  let cpuAtMeasureStart = { process: 0, mainThread: 0 };
  try {
    const result = await runClosedLoop({
      clients,
      warmupS: options.warmupS,
      durationS: options.durationS,
      onProgress: options.onProgress,
      onMeasureStart: () => {
        cpuAtMeasureStart = cpuSecondsOf(target.processes);
      },
      op: async (client, seq, measured) => {
        const s = streams[client] as ClientStreams;
        const op = chooseOperation(options.workload, s.ops.next());
        const key = recordKey(s.keys.next());
        options.onOperation?.(key, measured ? measuredSent++ : undefined);
        const done = await execute(pool.all[client] as KvTarget, op, key, values[seq % values.length] as Buffer);
        if (measured && done.versions !== undefined) versions.record(done.versions);
        return done.outcome;
      },
    });
    const operations: YcsbRunResult['operations'] = {};
    let errorCount = 0;
    for (const [kind, k] of Object.entries(result.kinds)) {
      errorCount += k.errorCount;
      operations[kind as YcsbOperation] = { ok: k.ok, errors: k.errorCount, labels: k.labels, throughputPerS: k.throughputPerS, latencyMs: k.latencyMs, latencyCurveMs: k.latencyCurveMs };
    }
    // Stragglers of the window are answered by now: their CPU and their count are both in.
    const cpuAtEnd = cpuSecondsOf(target.processes);
    const issued = Object.values(result.kinds).reduce((sum, k) => sum + k.issued, 0);
    const perOperationUs = (seconds: number): number => (issued === 0 ? 0 : Math.round((seconds * 1e6 * 10) / issued) / 10);
    const cpuPerOperation: CpuPerOperation = {
      operations: issued,
      processUs: perOperationUs(cpuAtEnd.process - cpuAtMeasureStart.process),
      mainThreadUs: perOperationUs(cpuAtEnd.mainThread - cpuAtMeasureStart.mainThread),
    };
    return { throughputPerS: result.throughputPerS, operations, errorCount, clientLoopDelayMs: result.clientLoopDelayMs, cpuPerOperation };
  } finally {
    await pool.close();
  }
}

interface KindRecorder {
  ok: number;
  errors: number;
  labels: Record<string, number>;
  latency: Histogram;
}

async function runOpen(
  target: BenchTarget,
  options: YcsbRunOptions,
  loop: { ratePerS: number; concurrency: number },
  values: Buffer[],
  versions: VersionCounter,
): Promise<LoopPart> {
  const pool = await ConnectionPool.open(target, loop.concurrency);
  const streams = clientStreams(options, 0);
  const warmupCount = Math.round(options.warmupS * loop.ratePerS);
  // CPU per operation: from the first measured request sent until every request is answered.
  let cpuAtMeasureStart = { process: 0, mainThread: 0 };
  let measuredSent = 0;
  const kinds = new Map<string, KindRecorder>();
  const onResult = (r: OpenLoopRequestResult): void => {
    if (r.phase !== 'measure') return;
    const kind = r.kind ?? 'unknown';
    let k = kinds.get(kind);
    if (k === undefined) kinds.set(kind, (k = { ok: 0, errors: 0, labels: {}, latency: latencyHistogram() }));
    k.labels[r.label] = (k.labels[r.label] ?? 0) + 1;
    if (!r.ok) {
      k.errors++;
      return;
    }
    k.ok++;
    k.latency.recordValue(Math.max(1, Math.round(r.latencyMs * 1000)));
  };
  try {
    const result = await runOpenLoop({
      ratePerS: loop.ratePerS,
      concurrency: loop.concurrency,
      warmupS: options.warmupS,
      durationS: options.durationS,
      onProgress: options.onProgress,
      onResult,
      op: async (seq) => {
        // Drawn when the request is sent, in schedule order: the sequence follows from the seed.
        const op = chooseOperation(options.workload, streams.ops.next());
        const key = recordKey(streams.keys.next());
        if (seq === warmupCount) cpuAtMeasureStart = cpuSecondsOf(target.processes);
        if (seq >= warmupCount) measuredSent++;
        options.onOperation?.(key, seq >= warmupCount ? seq - warmupCount : undefined);
        const done = await pool.use((c) => execute(c, op, key, values[seq % values.length] as Buffer));
        if (seq >= warmupCount && done.versions !== undefined) versions.record(done.versions);
        return done.outcome;
      },
    });
    const operations: YcsbRunResult['operations'] = {};
    for (const [kind, k] of [...kinds].sort(([a], [b]) => (a < b ? -1 : 1))) {
      operations[kind as YcsbOperation] = {
        ok: k.ok,
        errors: k.errors,
        labels: k.labels,
        throughputPerS: Math.round((k.ok / result.durationS) * 10) / 10,
        latencyMs: summarize(k.latency),
        latencyCurveMs: percentileCurve(k.latency),
      };
    }
    const cpuAtEnd = cpuSecondsOf(target.processes);
    const perOperationUs = (seconds: number): number => (measuredSent === 0 ? 0 : Math.round((seconds * 1e6 * 10) / measuredSent) / 10);
    const cpuPerOperation: CpuPerOperation = {
      operations: measuredSent,
      processUs: perOperationUs(cpuAtEnd.process - cpuAtMeasureStart.process),
      mainThreadUs: perOperationUs(cpuAtEnd.mainThread - cpuAtMeasureStart.mainThread),
    };
    return { throughputPerS: result.throughputPerS, operations, errorCount: result.errorCount, saturated: result.saturated, clientLoopDelayMs: result.clientLoopDelayMs, cpuPerOperation };
  } finally {
    await pool.close();
  }
}

export interface SideBySideRatio {
  workload: string;
  /** `subject/reference`, e.g. 'shoal-resp/redis'. */
  pair: string;
  throughput: number | null;
  /** Per operation, subject over reference. */
  p50: Partial<Record<YcsbOperation, number | null>>;
  p99: Partial<Record<YcsbOperation, number | null>>;
  p99_9: Partial<Record<YcsbOperation, number | null>>;
}

/** For each workload, the subject's numbers over each reference's (throughput, and latency percentiles per operation). */
export function sideBySideRatios(runs: readonly YcsbRunResult[], subject: string): SideBySideRatio[] {
  const out: SideBySideRatio[] = [];
  for (const mine of runs.filter((r) => r.target === subject)) {
    for (const theirs of runs.filter((r) => r.target !== subject && r.workload === mine.workload && r.distribution === mine.distribution)) {
      const per = (pick: (l: LatencySummaryMs) => number): Partial<Record<YcsbOperation, number | null>> => {
        const result: Partial<Record<YcsbOperation, number | null>> = {};
        for (const op of YCSB_OPERATIONS) {
          const a = mine.operations[op];
          const b = theirs.operations[op];
          if (a !== undefined && b !== undefined) result[op] = ratio(pick(a.latencyMs), pick(b.latencyMs));
        }
        return result;
      };
      out.push({
        workload: mine.workload,
        pair: `${subject}/${theirs.target}`,
        throughput: ratio(mine.throughputPerS, theirs.throughputPerS),
        p50: per((l) => l.p50),
        p99: per((l) => l.p99),
        p99_9: per((l) => l.p99_9),
      });
    }
  }
  return out;
}

export interface SideBySideOptions {
  workloads: readonly YcsbWorkload[];
  distribution: KeyDistribution;
  records: number;
  valueBytes: number;
  seed: number;
  loop: LoopShape;
  warmupS: number;
  durationS: number;
  /** Requests in flight during the load phase. */
  loadConcurrency: number;
  log: (line: string) => void;
}

export interface SideBySideResult {
  /** Each target's load phase. */
  loads: Record<string, LoadPhaseResult>;
  /** Every (workload, target) run, in the order run. */
  runs: YcsbRunResult[];
  /** The order the targets ran in, per workload (alternating, so drift on the machine hits each alike). */
  order: Record<string, string[]>;
  /** The first target over each other one. */
  ratios: SideBySideRatio[];
}

/**
 * Every target is loaded with the same records, then each workload runs on each target
 * in turn, with the same seed (the same key and operation sequences per client) and the
 * same load shape; the order alternates from one workload to the next.
 */
export async function runSideBySide(targets: readonly BenchTarget[], options: SideBySideOptions): Promise<SideBySideResult> {
  const loads: Record<string, LoadPhaseResult> = {};
  for (const target of targets) {
    options.log(`${target.name}: loading ${options.records} records of ${options.valueBytes} B, ${options.loadConcurrency} in flight`);
    const load = await loadRecords(target, options.records, options.loadConcurrency, options.valueBytes, options.seed);
    options.log(`${target.name}: loaded in ${load.elapsedS} s (${load.ratePerS}/s), errors ${JSON.stringify(load.errors)}`);
    loads[target.name] = load;
  }
  const runs: YcsbRunResult[] = [];
  const order: Record<string, string[]> = {};
  for (const [i, workload] of options.workloads.entries()) {
    const turn = i % 2 === 0 ? [...targets] : [...targets].reverse();
    order[workload.name] = turn.map((t) => t.name);
    for (const target of turn) {
      options.log(`${target.name}: workload ${workload.name} (${workload.description}), ${options.distribution} keys, ${describeLoop(options.loop)}, ${options.warmupS} s warm-up + ${options.durationS} s`);
      const run = await runWorkload(target, { ...options, workload, onProgress: (line) => options.log(`${target.name} ${workload.name}: ${line}`) });
      for (const process of target.processes) process.assertRunning(`running workload ${workload.name}`);
      options.log(`${target.name} ${workload.name}: ${run.throughputPerS} ops/s, ${summaryLine(run)}`);
      runs.push(run);
    }
  }
  const subject = targets[0]?.name;
  return { loads, runs, order, ratios: subject === undefined ? [] : sideBySideRatios(runs, subject) };
}

export function describeLoop(loop: LoopShape): string {
  return loop.mode === 'closed' ? `closed loop, ${loop.clients} clients` : `open loop, ${loop.ratePerS}/s, at most ${loop.concurrency} in flight`;
}

export function summaryLine(run: YcsbRunResult): string {
  const cpu = run.cpuPerOperation === undefined ? '' : `; CPU ${run.cpuPerOperation.processUs} us per operation (main threads ${run.cpuPerOperation.mainThreadUs} us)`;
  return Object.entries(run.operations)
    .map(([op, s]) => `${op} p50 ${s.latencyMs.p50} p99 ${s.latencyMs.p99} p99.9 ${s.latencyMs.p99_9} ms${s.errors > 0 ? ` (${s.errors} errors)` : ''}`)
    .join('; ') + cpu;
}
