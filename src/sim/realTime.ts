/**
 * The real clock and the real event loop, kept away from simulated code.
 *
 * A sim run must take every time, timer and random number from the simulator's ports:
 * anything else makes a seed stop replaying. `RealTimeGuard` replaces the globals that
 * give real time or real randomness (Date.now, `new Date()`, performance.now,
 * process.hrtime, Math.random, setTimeout, setInterval, setImmediate) for the duration
 * of a run, records every call with its stack, and the run fails if there was one.
 * The simulator keeps its own copies of setImmediate (to drain, see scheduler.ts) and
 * of performance.now (to report how long a seed took, outside the run).
 */

/** Captured at load, before any guard is installed. */
export const realSetImmediate: typeof setImmediate = globalThis.setImmediate;
const realPerformanceNow = performance.now.bind(performance);

/** Milliseconds of real time, for reporting only: never handed to simulated code. */
export function realElapsedMs(): number {
  return realPerformanceNow();
}

export interface RealTimeUse {
  readonly api: string;
  readonly stack: string;
}

/** Real time or randomness was used inside a sim run: the seed would not replay. */
export class RealTimeUseError extends Error {
  readonly code = 'SIM_REAL_TIME_USED';
  constructor(readonly uses: readonly RealTimeUse[]) {
    const first = uses[0];
    super(`a sim run used ${first?.api ?? 'real time'} (${uses.length} call(s)); first call:\n${first?.stack ?? ''}`);
    this.name = 'RealTimeUseError';
  }
}

interface Saved {
  readonly Date: DateConstructor;
  readonly performanceNow: () => number;
  readonly hrtime: NodeJS.HRTime;
  readonly random: () => number;
  readonly setTimeout: typeof setTimeout;
  readonly setInterval: typeof setInterval;
  readonly setImmediate: typeof setImmediate;
}

/** Uses kept at most (a runaway loop must not fill memory with stacks). */
const USES_KEPT_MAX = 5;

export class RealTimeGuard {
  private saved: Saved | undefined;
  private readonly uses: RealTimeUse[] = [];
  private useCount = 0;

  /** Replaces the globals; `check()` then reports every call made since. Not reentrant. */
  install(): void {
    if (this.saved !== undefined) throw new Error('RealTimeGuard is already installed');
    const g = globalThis as unknown as Record<string, unknown>;
    const saved: Saved = {
      Date: globalThis.Date,
      performanceNow: performance.now,
      hrtime: process.hrtime,
      random: Math.random,
      setTimeout: globalThis.setTimeout,
      setInterval: globalThis.setInterval,
      setImmediate: globalThis.setImmediate,
    };
    this.saved = saved;
    const record = (api: string): void => this.record(api);
    g.Date = guardedDate(saved.Date, record);
    performance.now = () => (record('performance.now'), saved.performanceNow.call(performance));
    process.hrtime = guardedHrtime(saved.hrtime, record);
    Math.random = () => (record('Math.random'), saved.random());
    g.setTimeout = (...args: Parameters<typeof setTimeout>) => (record('setTimeout'), saved.setTimeout(...args));
    g.setInterval = (...args: Parameters<typeof setInterval>) => (record('setInterval'), saved.setInterval(...args));
    g.setImmediate = (...args: Parameters<typeof setImmediate>) => (record('setImmediate'), saved.setImmediate(...args));
  }

  /** Restores the globals. Idempotent. */
  uninstall(): void {
    const saved = this.saved;
    if (saved === undefined) return;
    const g = globalThis as unknown as Record<string, unknown>;
    g.Date = saved.Date;
    performance.now = saved.performanceNow;
    process.hrtime = saved.hrtime;
    Math.random = saved.random;
    g.setTimeout = saved.setTimeout;
    g.setInterval = saved.setInterval;
    g.setImmediate = saved.setImmediate;
    this.saved = undefined;
  }

  /** Throws RealTimeUseError when anything used real time since install(). */
  check(): void {
    if (this.useCount > 0) throw new RealTimeUseError(this.uses);
  }

  private record(api: string): void {
    this.useCount++;
    if (this.uses.length < USES_KEPT_MAX) this.uses.push({ api, stack: new Error(api).stack ?? api });
  }
}

function guardedDate(RealDate: DateConstructor, record: (api: string) => void): DateConstructor {
  // A subclass keeps `instanceof Date` and Date.UTC/parse working; only "now" is guarded.
  class GuardedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) record('new Date()');
      super(...(args as [number]));
    }
    static override now(): number {
      record('Date.now');
      return RealDate.now();
    }
  }
  return GuardedDate as unknown as DateConstructor;
}

function guardedHrtime(real: NodeJS.HRTime, record: (api: string) => void): NodeJS.HRTime {
  const guarded = ((time?: [number, number]) => (record('process.hrtime'), real(time))) as NodeJS.HRTime;
  guarded.bigint = () => (record('process.hrtime.bigint'), real.bigint());
  return guarded;
}
