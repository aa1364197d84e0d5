/**
 * Load generators.
 *
 * runOpenLoop: fixed offered load. Request i is scheduled at start + i/rate, whatever
 * happened to earlier requests, and its latency is measured from that scheduled time, so
 * a stall is charged to every request it delays (no coordinated omission, as wrk2). At
 * most `concurrency` requests are in flight; a due request that finds every slot busy
 * waits, and that wait is part of its latency. The backlog of due-but-unsent requests is
 * implicit (the schedule is arithmetic), so it costs no memory however far behind the
 * server falls.
 *
 * PhasedOpenLoop: the same open loop, running until stopped, measured per phase whose
 * length is set by events (e.g. before / during / after a rebalance).
 *
 * runFixedCount: closed loop, `count` operations as fast as `concurrency` workers allow,
 * with callbacks at chosen progress points (e.g. to sample memory).
 */
import { latencyHistogram, percentileCurve, summarize, type Histogram, type LatencySummaryMs, type PercentilePoint } from './hdr.ts';

export interface OpOutcome {
  ok: boolean;
  /** Short label for the outcome, e.g. an HTTP status ('204', '503') or an error code. */
  label: string;
  /** The operation's kind (e.g. 'read', 'update'), passed on to `onResult` for per-kind statistics. */
  kind?: string;
}

/** One operation; `seq` numbers the run's requests from 0, warm-up first. */
export type Operation = (seq: number) => Promise<OpOutcome>;

export interface OpenLoopOptions {
  ratePerS: number;
  /** Measured duration, seconds. */
  durationS: number;
  /** Unmeasured lead-in at the same rate, seconds. */
  warmupS: number;
  concurrency: number;
  op: Operation;
  /** How long to wait for in-flight and backlogged requests after the schedule ends. */
  drainTimeoutS?: number;
  /** Called about every `progressEveryS` seconds with a one-line status. */
  onProgress?: (line: string) => void;
  progressEveryS?: number;
  /** Called for every answered request, warm-up (phase 'warm-up') and measurement (phase 'measure'). */
  onResult?: (result: OpenLoopRequestResult) => void;
}

export interface OpenLoopResult {
  offeredRatePerS: number;
  /** Measured seconds (summed over slices). */
  durationS: number;
  /** Number of runs (slices) merged into this result. */
  slices: number;
  concurrency: number;
  /** Requests scheduled inside the measurement windows. */
  scheduled: number;
  /** Measured requests answered successfully. */
  ok: number;
  /** Measured requests that failed, by label. */
  errors: Record<string, number>;
  errorCount: number;
  /**
   * Measured requests not answered when the drain timeout ran out. They are in the
   * latency histogram at a lower bound (the time waited so far), never left out.
   */
  unfinished: number;
  /** Successful completions that landed inside the measurement windows, per second. */
  throughputPerS: number;
  /** Scheduled start → response, successful requests (the number to quote). */
  latencyMs: LatencySummaryMs;
  /** Actual send → response, successful requests (what a closed-loop tool would report). */
  serviceTimeMs: LatencySummaryMs;
  /** Scheduled start → actual send (waiting for a free connection, or generator lag). */
  sendDelayMs: LatencySummaryMs;
  /** Largest number of due requests waiting for a free connection. */
  maxBacklog: number;
  /**
   * The load generator's own event-loop delay while it ran (warm-ups included). When its
   * p99 approaches the measured latencies, the client, not the server, sets the tail.
   */
  clientLoopDelayMs: { p50: number; p99: number; max: number };
  /** CPU the load generator used while it ran, as a fraction of one core. */
  clientCpuCores: number;
  /** The slowest request: latency, and when it was scheduled (seconds into the measured window of slice `slice`, from 1). */
  worst: { latencyMs: number; atS: number; slice: number };
  /** True when throughput fell short of 95% of the offered rate, or requests were left over. */
  saturated: boolean;
  /** The warm-up before this run (one slice only; not merged). */
  warmup?: { throughputPerS: number; p99Ms: number; maxMs: number; errorCount: number };
}

const loopResolutionMs = 10;

/**
 * Tracks the load generator itself from now until stop(): the lateness of a 10 ms timer
 * (its event-loop delay, recorded in µs into `loopDelay`) and the CPU time it used.
 */
export function startClientMonitor(loopDelay: Histogram): { stop(): { cpuMicros: number; elapsedMs: number } } {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let last = started;
  const timer = setInterval(() => {
    const now = performance.now();
    loopDelay.recordValue(Math.max(1, Math.round((now - last - loopResolutionMs) * 1000)));
    last = now;
  }, loopResolutionMs);
  return {
    stop() {
      clearInterval(timer);
      const cpu = process.cpuUsage(cpuBefore);
      return { cpuMicros: cpu.user + cpu.system, elapsedMs: performance.now() - started };
    },
  };
}

/**
 * Accumulates the measurements of one or more open-loop runs at the same rate (e.g.
 * slices interleaved with another configuration's), and summarises them.
 */
export class OpenLoopRecorder {
  readonly latency: Histogram = latencyHistogram();
  readonly service: Histogram = latencyHistogram();
  readonly sendDelay: Histogram = latencyHistogram();
  readonly errors: Record<string, number> = {};
  scheduled = 0;
  ok = 0;
  errorCount = 0;
  unfinished = 0;
  okInWindow = 0;
  windowS = 0;
  maxBacklog = 0;
  slices = 0;
  clientCpuMicros = 0;
  clientElapsedMs = 0;
  /** Lateness of a periodic timer during the tracked periods, µs. */
  readonly loopDelay: Histogram = latencyHistogram();
  /** The slowest successful request: its latency and when it was scheduled (s into its slice's measured window). */
  worst = { latencyMs: 0, atS: 0, slice: 0 };

  constructor(readonly ratePerS: number, readonly concurrency: number) {}

  /** Runs `fn` with the client's event-loop delay and CPU time being tracked. */
  async track<T>(fn: () => Promise<T>): Promise<T> {
    const monitor = startClientMonitor(this.loopDelay);
    try {
      return await fn();
    } finally {
      const { cpuMicros, elapsedMs } = monitor.stop();
      this.clientCpuMicros += cpuMicros;
      this.clientElapsedMs += elapsedMs;
    }
  }

  /** Adds another recorder's measurements (same rate) to this one's. */
  merge(other: OpenLoopRecorder): void {
    this.latency.add(other.latency);
    this.service.add(other.service);
    this.sendDelay.add(other.sendDelay);
    this.loopDelay.add(other.loopDelay);
    for (const [label, count] of Object.entries(other.errors)) this.errors[label] = (this.errors[label] ?? 0) + count;
    this.scheduled += other.scheduled;
    this.ok += other.ok;
    this.errorCount += other.errorCount;
    this.unfinished += other.unfinished;
    this.okInWindow += other.okInWindow;
    this.windowS += other.windowS;
    this.maxBacklog = Math.max(this.maxBacklog, other.maxBacklog);
    if (other.worst.latencyMs > this.worst.latencyMs) this.worst = { ...other.worst, slice: this.slices + other.worst.slice };
    this.slices += other.slices;
    this.clientCpuMicros += other.clientCpuMicros;
    this.clientElapsedMs += other.clientElapsedMs;
  }

  summary(): OpenLoopResult {
    const throughputPerS = this.windowS > 0 ? this.okInWindow / this.windowS : 0;
    const delay = summarize(this.loopDelay);
    return {
      offeredRatePerS: this.ratePerS,
      durationS: Math.round(this.windowS * 1000) / 1000,
      slices: this.slices,
      concurrency: this.concurrency,
      scheduled: this.scheduled,
      ok: this.ok,
      errors: this.errors,
      errorCount: this.errorCount,
      unfinished: this.unfinished,
      throughputPerS: Math.round(throughputPerS * 10) / 10,
      latencyMs: summarize(this.latency),
      serviceTimeMs: summarize(this.service),
      sendDelayMs: summarize(this.sendDelay),
      maxBacklog: this.maxBacklog,
      clientLoopDelayMs: { p50: delay.p50, p99: delay.p99, max: delay.max },
      worst: { latencyMs: Math.round(this.worst.latencyMs * 1000) / 1000, atS: Math.round(this.worst.atS * 1000) / 1000, slice: this.worst.slice },
      clientCpuCores: this.clientElapsedMs > 0 ? Math.round((this.clientCpuMicros / 1000 / this.clientElapsedMs) * 100) / 100 : 0,
      saturated: throughputPerS < 0.95 * this.ratePerS || this.unfinished > 0,
    };
  }
}

/**
 * One open-loop run: `warmupS` seconds at the rate (not measured; the run waits until
 * every warm-up request has been answered, so a cold start's backlog does not leak into
 * the measurement), then `durationS` seconds measured on a fresh schedule. Returns this
 * run's summary; when `into` is given, also merges the measurements into it (for results
 * made of several slices).
 */
export async function runOpenLoop(options: OpenLoopOptions, into?: OpenLoopRecorder): Promise<OpenLoopResult> {
  const { ratePerS, durationS, warmupS, concurrency } = options;
  if (!(ratePerS > 0) || !(durationS > 0) || !(warmupS >= 0) || !(concurrency >= 1)) {
    throw new RangeError('runOpenLoop: rate, duration and concurrency must be positive, warm-up non-negative');
  }
  if (into !== undefined && into.ratePerS !== ratePerS) throw new RangeError('runOpenLoop: recorder rate differs from the run rate');
  let warmup: OpenLoopResult | undefined;
  const warmupCount = Math.round(warmupS * ratePerS);
  if (warmupCount > 0) {
    const warm = new OpenLoopRecorder(ratePerS, concurrency);
    await warm.track(() => openLoop(options, warmupS, 0, 'warm-up', warm));
    warmup = warm.summary();
  }
  const rec = new OpenLoopRecorder(ratePerS, concurrency);
  await rec.track(() => openLoop(options, durationS, warmupCount, 'measure', rec));
  into?.merge(rec);
  const result = rec.summary();
  if (warmup !== undefined) {
    result.warmup = {
      throughputPerS: warmup.throughputPerS,
      p99Ms: warmup.latencyMs.p99,
      maxMs: warmup.latencyMs.max,
      errorCount: warmup.errorCount,
    };
  }
  return result;
}

/** What one open-loop schedule needs (runOpenLoop's options without the phases' durations). */
type ScheduleOptions = Pick<OpenLoopOptions, 'ratePerS' | 'concurrency' | 'op' | 'drainTimeoutS' | 'onProgress' | 'progressEveryS' | 'onResult'>;

/** One answered request of a phased open loop, for timelines. */
export interface OpenLoopRequestResult {
  seq: number;
  phase: string;
  /** When it was scheduled, seconds after the schedule's start. */
  scheduledAtS: number;
  /** Scheduled start → response, ms. */
  latencyMs: number;
  ok: boolean;
  label: string;
  /** The outcome's kind, when the operation gave one. */
  kind: string | undefined;
}

interface SchedulePhase {
  name: string;
  rec: OpenLoopRecorder;
  /** Index of its first request. */
  first: number;
  /** Index past its last request; Infinity while the phase is open. */
  end: number;
}

/**
 * One open-loop schedule: request i is due at start + i/rate and is recorded into the
 * recorder of the phase it was scheduled in. `limit` requests in all, or Infinity until
 * stop(). `finished` resolves once every scheduled request is answered, or when the drain
 * timeout after the end of the schedule runs out (the unanswered ones are then recorded
 * at the time waited so far, as `unfinished`).
 */
class OpenLoopSchedule {
  readonly finished: Promise<void>;
  private readonly phases: SchedulePhase[] = [];
  private readonly intervalMs: number;
  private readonly start: number;
  private readonly drainTimeoutMs: number;
  private readonly pending = new Set<number>();
  private inFlight = 0;
  private next = 0;
  private done = 0;
  private timer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private readonly progressTimer: NodeJS.Timeout | undefined;
  private isFinished = false;
  private resolveFinished: () => void = () => undefined;

  constructor(private readonly options: ScheduleOptions, private readonly seqOffset: number, private limit: number, phase: string, rec: OpenLoopRecorder) {
    this.intervalMs = 1000 / options.ratePerS;
    this.drainTimeoutMs = (options.drainTimeoutS ?? 30) * 1000;
    this.start = performance.now() + 20; // a little slack so the first requests are not late
    this.finished = new Promise<void>((resolve) => {
      this.resolveFinished = resolve;
    });
    this.openPhase(phase, rec, 0);
    if (Number.isFinite(limit)) this.endSchedule(limit);
    if (options.onProgress !== undefined) {
      const report = options.onProgress;
      this.progressTimer = setInterval(() => {
        const now = performance.now();
        const due = Math.min(this.limit, Math.max(0, this.dueBy(now)));
        const current = this.phases[this.phases.length - 1] as SchedulePhase;
        const draining = now >= this.scheduledAt(this.limit) ? ' drain' : '';
        const sent = Number.isFinite(this.limit) ? `${this.next}/${this.limit}` : String(this.next);
        report(`${current.name}${draining} t=${((now - this.start) / 1000).toFixed(0)}s sent=${sent} in-flight=${this.inFlight} backlog=${due - this.next} done=${this.done}`);
      }, (options.progressEveryS ?? 5) * 1000);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.max(0, this.start - performance.now()));
  }

  /** Requests scheduled from now on belong to a new phase, recorded into `rec`. */
  switchPhase(phase: string, rec: OpenLoopRecorder): void {
    const current = this.phases[this.phases.length - 1] as SchedulePhase;
    const boundary = Math.min(this.limit, Math.max(current.first, this.dueBy(performance.now())));
    this.closePhase(current, boundary);
    this.openPhase(phase, rec, boundary);
  }

  /** Schedules nothing after the requests already due; `finished` follows once they are answered. */
  stop(): void {
    if (Number.isFinite(this.limit)) return;
    this.endSchedule(Math.max(this.next, this.dueBy(performance.now())));
    if (this.done === this.limit) this.finish();
  }

  /** The number of requests due by `now` (the index of the first not yet due). */
  private dueBy(now: number): number {
    return Math.floor((now - this.start) / this.intervalMs) + 1;
  }

  private scheduledAt(i: number): number {
    return this.start + i * this.intervalMs;
  }

  private openPhase(name: string, rec: OpenLoopRecorder, first: number): void {
    rec.slices++;
    rec.worst = { latencyMs: 0, atS: 0, slice: 1 };
    this.phases.push({ name, rec, first, end: Infinity });
  }

  private closePhase(phase: SchedulePhase, end: number): void {
    phase.end = end;
    phase.rec.scheduled += end - phase.first;
    phase.rec.windowS += (end - phase.first) / this.options.ratePerS;
  }

  private endSchedule(limit: number): void {
    this.limit = limit;
    this.closePhase(this.phases[this.phases.length - 1] as SchedulePhase, limit);
    // The drain deadline: the end of the schedule plus the drain timeout.
    this.drainTimer = setTimeout(() => this.finish(), this.scheduledAt(limit) - performance.now() + this.drainTimeoutMs);
  }

  private phaseOf(i: number): SchedulePhase {
    for (let p = this.phases.length - 1; p > 0; p--) {
      const phase = this.phases[p] as SchedulePhase;
      if (i >= phase.first) return phase;
    }
    return this.phases[0] as SchedulePhase;
  }

  private finish(): void {
    if (this.isFinished) return;
    this.isFinished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.progressTimer !== undefined) clearInterval(this.progressTimer);
    if (this.drainTimer !== undefined) clearTimeout(this.drainTimer);
    const now = performance.now();
    const unanswered = (i: number): void => {
      const { rec } = this.phaseOf(i);
      rec.unfinished++;
      rec.latency.recordValue(us(now - this.scheduledAt(i)));
    };
    for (const i of this.pending) unanswered(i);
    for (let i = this.next; i < this.limit; i++) unanswered(i);
    this.resolveFinished();
  }

  private send(i: number, now: number): void {
    const scheduled = this.scheduledAt(i);
    this.phaseOf(i).rec.sendDelay.recordValue(us(now - scheduled));
    this.inFlight++;
    this.pending.add(i);
    this.options.op(this.seqOffset + i).then(
      (outcome) => this.complete(i, scheduled, now, outcome),
      (error: unknown) => this.complete(i, scheduled, now, { ok: false, label: error instanceof Error ? error.message : String(error) }),
    );
  }

  private complete(i: number, scheduled: number, sentAt: number, outcome: OpOutcome): void {
    if (this.isFinished) return;
    const end = performance.now();
    this.inFlight--;
    this.pending.delete(i);
    this.done++;
    const phase = this.phaseOf(i);
    const rec = phase.rec;
    if (outcome.ok) {
      rec.ok++;
      if (end <= this.scheduledAt(phase.end)) rec.okInWindow++;
      rec.latency.recordValue(us(end - scheduled));
      rec.service.recordValue(us(end - sentAt));
      if (end - scheduled > rec.worst.latencyMs) rec.worst = { latencyMs: end - scheduled, atS: (scheduled - this.scheduledAt(phase.first)) / 1000, slice: 1 };
    } else {
      rec.errorCount++;
      rec.errors[outcome.label] = (rec.errors[outcome.label] ?? 0) + 1;
    }
    this.options.onResult?.({
      seq: this.seqOffset + i,
      phase: phase.name,
      scheduledAtS: (scheduled - this.start) / 1000,
      latencyMs: end - scheduled,
      ok: outcome.ok,
      label: outcome.label,
      kind: outcome.kind,
    });
    if (this.done === this.limit) this.finish();
    else this.pump();
  }

  private pump(): void {
    if (this.isFinished) return;
    const now = performance.now();
    const due = Math.min(this.limit, this.dueBy(now));
    const current = this.phases[this.phases.length - 1] as SchedulePhase;
    if (due - this.next > current.rec.maxBacklog) current.rec.maxBacklog = due - this.next;
    while (this.next < due && this.inFlight < this.options.concurrency) this.send(this.next++, now);
    if (this.timer === undefined && this.next < this.limit && this.inFlight < this.options.concurrency) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, Math.max(0, this.scheduledAt(this.next) - performance.now()));
    }
  }
}

function us(ms: number): number {
  return Math.max(1, Math.round(ms * 1000));
}

/** One schedule of `durationS` at the rate; every request is recorded into `rec`. */
function openLoop(options: OpenLoopOptions, durationS: number, seqOffset: number, phase: string, rec: OpenLoopRecorder): Promise<void> {
  return new OpenLoopSchedule(options, seqOffset, Math.round(durationS * options.ratePerS), phase, rec).finished;
}

export type PhasedOpenLoopOptions = ScheduleOptions;

/**
 * An open loop at a fixed rate that runs until stop(), its requests measured per phase:
 * each request counts for the phase that was current when it was scheduled (so the
 * backlog a stall leaves behind is charged to the phase it happened in). A phase's
 * window is from its first scheduled request to the next phase's; its throughput counts
 * the requests answered inside that window. Phases can last as long as some event takes
 * (e.g. "while the ring rebalances"), unlike runOpenLoop's fixed durations.
 */
export class PhasedOpenLoop {
  private readonly schedule: OpenLoopSchedule;
  private readonly phases: { name: string; rec: OpenLoopRecorder }[] = [];
  private monitor: ReturnType<typeof startClientMonitor>;
  private stopped = false;

  constructor(private readonly options: PhasedOpenLoopOptions, firstPhase: string) {
    const rec = this.newPhase(firstPhase);
    this.monitor = startClientMonitor(rec.loopDelay);
    this.schedule = new OpenLoopSchedule(options, 0, Infinity, firstPhase, rec);
  }

  /** Requests scheduled from now on count for phase `name` (a new phase, even if the name repeats). */
  phase(name: string): void {
    if (this.stopped) throw new Error('PhasedOpenLoop: stopped');
    this.closeMonitor();
    const rec = this.newPhase(name);
    this.monitor = startClientMonitor(rec.loopDelay);
    this.schedule.switchPhase(name, rec);
  }

  /** Stops scheduling, waits for the requests already due (up to the drain timeout), and summarises each phase in order. */
  async stop(): Promise<{ name: string; result: OpenLoopResult }[]> {
    if (!this.stopped) {
      this.stopped = true;
      this.schedule.stop();
      this.closeMonitor();
    }
    await this.schedule.finished;
    return this.phases.map(({ name, rec }) => ({ name, result: rec.summary() }));
  }

  private newPhase(name: string): OpenLoopRecorder {
    const rec = new OpenLoopRecorder(this.options.ratePerS, this.options.concurrency);
    this.phases.push({ name, rec });
    return rec;
  }

  private closeMonitor(): void {
    const rec = (this.phases[this.phases.length - 1] as { rec: OpenLoopRecorder }).rec;
    const { cpuMicros, elapsedMs } = this.monitor.stop();
    rec.clientCpuMicros += cpuMicros;
    rec.clientElapsedMs += elapsedMs;
  }
}

export interface FixedCountOptions {
  count: number;
  concurrency: number;
  op: Operation;
  /** Completed-operation counts at which `onCheckpoint` runs (synchronously). */
  checkpoints?: readonly number[];
  onCheckpoint?: (completed: number) => void;
  onProgress?: (line: string) => void;
  progressEveryS?: number;
  /** Checked before each operation; when it returns true the run stops early. */
  stopWhen?: () => boolean;
}

export interface FixedCountResult {
  count: number;
  concurrency: number;
  ok: number;
  errors: Record<string, number>;
  errorCount: number;
  elapsedS: number;
  ratePerS: number;
  latencyMs: LatencySummaryMs;
}

export async function runFixedCount(options: FixedCountOptions): Promise<FixedCountResult> {
  const { count, concurrency, op } = options;
  const checkpoints = [...(options.checkpoints ?? [])].sort((a, b) => a - b);
  const latency = latencyHistogram();
  const errors: Record<string, number> = {};
  let ok = 0;
  let errorCount = 0;
  let issued = 0;
  let completed = 0;
  let nextCheckpoint = 0;
  const started = performance.now();
  const progressTimer = options.onProgress === undefined
    ? undefined
    : setInterval(() => {
      const elapsed = (performance.now() - started) / 1000;
      options.onProgress?.(`t=${elapsed.toFixed(0)}s ${completed}/${count} (${Math.round(completed / elapsed)}/s) errors=${errorCount}`);
    }, (options.progressEveryS ?? 5) * 1000);

  const worker = async (): Promise<void> => {
    while (issued < count && options.stopWhen?.() !== true) {
      const seq = issued++;
      const t0 = performance.now();
      let outcome: OpOutcome;
      try {
        outcome = await op(seq);
      } catch (error) {
        outcome = { ok: false, label: error instanceof Error ? error.message : String(error) };
      }
      if (outcome.ok) {
        ok++;
        latency.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      } else {
        errorCount++;
        errors[outcome.label] = (errors[outcome.label] ?? 0) + 1;
      }
      completed++;
      while (nextCheckpoint < checkpoints.length && completed >= (checkpoints[nextCheckpoint] ?? Infinity)) {
        options.onCheckpoint?.(checkpoints[nextCheckpoint] ?? completed);
        nextCheckpoint++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } finally {
    if (progressTimer !== undefined) clearInterval(progressTimer);
  }
  const elapsedS = (performance.now() - started) / 1000;
  return {
    count,
    concurrency,
    ok,
    errors,
    errorCount,
    elapsedS: Math.round(elapsedS * 100) / 100,
    ratePerS: Math.round(count / elapsedS),
    latencyMs: summarize(latency),
  };
}

/** A closed-loop operation's outcome, kept per `kind` (e.g. 'read', 'write'). */
export interface ClosedLoopOutcome extends OpOutcome {
  kind: string;
}

/** One request of client `client` (0-based); `measured` is false during the warm-up. */
export type ClosedLoopOperation = (client: number, seq: number, measured: boolean) => Promise<ClosedLoopOutcome>;

export interface ClosedLoopOptions {
  /** Concurrent clients; each sends its next request as soon as the previous one is answered. */
  clients: number;
  /** Unmeasured lead-in, seconds (the clients run on into the measured window without a pause). */
  warmupS: number;
  /** Measured window, seconds. */
  durationS: number;
  op: ClosedLoopOperation;
  /** Called when the measured window opens. */
  onMeasureStart?: () => void;
  onProgress?: (line: string) => void;
  progressEveryS?: number;
}

export interface ClosedLoopKindResult {
  /** Requests issued inside the measured window. */
  issued: number;
  /** Of those, answered successfully (anywhere, stragglers included). */
  ok: number;
  errorCount: number;
  /** Successful requests issued and answered inside the window, per second of the window. */
  throughputPerS: number;
  /** Requests issued inside the window, by outcome label (HTTP status or error code). */
  labels: Record<string, number>;
  /** Send → response of the successful requests issued inside the window. */
  latencyMs: LatencySummaryMs;
  /** Send → response of the failed ones (a 503 after a timeout is slow too). */
  errorLatencyMs: LatencySummaryMs;
  /** The successful requests' latency distribution (HDR percentile curve), for plots. */
  latencyCurveMs: PercentilePoint[];
}

/** One second of the measured window (by completion time). */
export interface ClosedLoopSecond {
  /** Seconds from the window's start (0-based). */
  s: number;
  ok: number;
  errors: number;
  /** Slowest request completed in this second, ms. */
  maxMs: number;
}

export interface ClosedLoopResult {
  clients: number;
  warmupS: number;
  durationS: number;
  /** All kinds: successful requests issued and answered inside the window, per second. */
  throughputPerS: number;
  kinds: Record<string, ClosedLoopKindResult>;
  /**
   * Requests issued inside the window and still unanswered when it closed. They are waited
   * for and in the latencies (none left out), but not in the throughput.
   */
  stragglers: number;
  perSecond: ClosedLoopSecond[];
  /** The slowest measured request: its kind, label, latency, and when it was sent (s into the window). */
  worst: { kind: string; label: string; latencyMs: number; atS: number };
  warmup: { requests: number; ok: number; errorCount: number; throughputPerS: number; maxMs: number };
  clientLoopDelayMs: { p50: number; p99: number; max: number };
  /** CPU the load generator used, fraction of one core. */
  clientCpuCores: number;
}

interface KindState {
  issued: number;
  ok: number;
  okInWindow: number;
  errorCount: number;
  labels: Record<string, number>;
  latency: Histogram;
  errorLatency: Histogram;
}

/**
 * Closed loop over a fixed duration: `clients` workers each issue a request, await its
 * answer, and issue the next, through a warm-up and then the measured window. Latency is
 * send → response (a closed loop slows down with the server, so a stall delays later
 * requests instead of being charged to them: coordinated omission, as in most closed-loop
 * tools such as etcd's benchmark). Requests are attributed to the phase they were sent in.
 */
export async function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const { clients, warmupS, durationS, op } = options;
  if (!(clients >= 1) || !(durationS > 0) || !(warmupS >= 0)) {
    throw new RangeError('runClosedLoop: clients and duration must be positive, warm-up non-negative');
  }
  const loopDelay = latencyHistogram();
  const monitor = startClientMonitor(loopDelay);
  const t0 = performance.now();
  const measureStart = t0 + warmupS * 1000;
  const measureEnd = measureStart + durationS * 1000;
  const kinds = new Map<string, KindState>();
  const seconds: ClosedLoopSecond[] = Array.from({ length: Math.ceil(durationS) }, (_, s) => ({ s, ok: 0, errors: 0, maxMs: 0 }));
  const warm = { requests: 0, ok: 0, errorCount: 0, maxMs: 0 };
  let worst = { kind: '', label: '', latencyMs: 0, atS: 0 };
  let seq = 0;
  let inFlight = 0;
  let stragglers = 0;
  let doneSinceProgress = 0;
  let errorsSinceProgress = 0;
  const kindState = (kind: string): KindState => {
    let state = kinds.get(kind);
    if (state === undefined) {
      state = { issued: 0, ok: 0, okInWindow: 0, errorCount: 0, labels: {}, latency: latencyHistogram(), errorLatency: latencyHistogram() };
      kinds.set(kind, state);
    }
    return state;
  };

  const worker = async (client: number): Promise<void> => {
    for (;;) {
      const sent = performance.now();
      if (sent >= measureEnd) return;
      const measured = sent >= measureStart;
      let outcome: ClosedLoopOutcome;
      inFlight++;
      try {
        outcome = await op(client, seq++, measured);
      } catch (error) {
        outcome = { kind: 'unknown', ok: false, label: error instanceof Error ? error.message : String(error) };
      }
      inFlight--;
      const end = performance.now();
      const latencyMs = end - sent;
      doneSinceProgress++;
      if (!outcome.ok) errorsSinceProgress++;
      if (!measured) {
        warm.requests++;
        if (outcome.ok) warm.ok++;
        else warm.errorCount++;
        warm.maxMs = Math.max(warm.maxMs, latencyMs);
        continue;
      }
      const state = kindState(outcome.kind);
      state.issued++;
      state.labels[outcome.label] = (state.labels[outcome.label] ?? 0) + 1;
      if (outcome.ok) {
        state.ok++;
        state.latency.recordValue(us(latencyMs));
      } else {
        state.errorCount++;
        state.errorLatency.recordValue(us(latencyMs));
      }
      if (latencyMs > worst.latencyMs) worst = { kind: outcome.kind, label: outcome.label, latencyMs, atS: (sent - measureStart) / 1000 };
      if (end > measureEnd) {
        stragglers++;
        continue;
      }
      if (outcome.ok) state.okInWindow++;
      const second = seconds[Math.min(seconds.length - 1, Math.floor((end - measureStart) / 1000))];
      if (second !== undefined) {
        if (outcome.ok) second.ok++;
        else second.errors++;
        second.maxMs = Math.max(second.maxMs, latencyMs);
      }
    }
  };

  const measureTimer = setTimeout(() => options.onMeasureStart?.(), Math.max(0, measureStart - performance.now()));
  let lastProgress = t0;
  const progressTimer = options.onProgress === undefined
    ? undefined
    : setInterval(() => {
      const now = performance.now();
      const phase = now < measureStart ? 'warm-up' : now < measureEnd ? 'measure' : 'drain';
      const rate = Math.round(doneSinceProgress / ((now - lastProgress) / 1000));
      options.onProgress?.(`${phase} t=${((now - t0) / 1000).toFixed(0)}s ${rate} req/s, errors ${errorsSinceProgress}, in flight ${inFlight}`);
      lastProgress = now;
      doneSinceProgress = 0;
      errorsSinceProgress = 0;
    }, (options.progressEveryS ?? 5) * 1000);
  try {
    await Promise.all(Array.from({ length: clients }, (_, client) => worker(client)));
  } finally {
    clearTimeout(measureTimer);
    if (progressTimer !== undefined) clearInterval(progressTimer);
  }
  const { cpuMicros, elapsedMs } = monitor.stop();
  const kindResults: Record<string, ClosedLoopKindResult> = {};
  let okInWindow = 0;
  for (const [kind, s] of [...kinds].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    okInWindow += s.okInWindow;
    kindResults[kind] = {
      issued: s.issued,
      ok: s.ok,
      errorCount: s.errorCount,
      throughputPerS: Math.round((s.okInWindow / durationS) * 10) / 10,
      labels: s.labels,
      latencyMs: summarize(s.latency),
      errorLatencyMs: summarize(s.errorLatency),
      latencyCurveMs: percentileCurve(s.latency),
    };
  }
  const delay = summarize(loopDelay);
  const round3 = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    clients,
    warmupS,
    durationS,
    throughputPerS: Math.round((okInWindow / durationS) * 10) / 10,
    kinds: kindResults,
    stragglers,
    perSecond: seconds.map((s) => ({ ...s, maxMs: round3(s.maxMs) })),
    worst: { ...worst, latencyMs: round3(worst.latencyMs), atS: round3(worst.atS) },
    warmup: {
      ...warm,
      throughputPerS: warmupS > 0 ? Math.round((warm.ok / warmupS) * 10) / 10 : 0,
      maxMs: round3(warm.maxMs),
    },
    clientLoopDelayMs: { p50: delay.p50, p99: delay.p99, max: delay.max },
    clientCpuCores: Math.round((cpuMicros / 1000 / elapsedMs) * 100) / 100,
  };
}
