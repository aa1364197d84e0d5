/**
 * A Clock for tests that moves only when told to. Timers fire in due-time order (ties in
 * the order they were set) while `advance` moves time forward, and the microtasks and
 * promise continuations each timer starts are drained before the next one fires, so code
 * that chains promises off a timer behaves as it would with real time, minus the waiting.
 *
 *   const clock = new ManualClock();
 *   const store = new ObjectStore(engine, clock, { flushIntervalMs: 100 });
 *   await clock.advance(100);   // the flush timer fires, the flush completes
 */
import type { Clock, TimerHandle } from '../../src/ports/clock.ts';

interface ManualTimer extends TimerHandle {
  readonly dueMs: number;
  readonly fn: () => void;
}

/** Lets every pending microtask and promise continuation run (a macrotask turn). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class ManualClock implements Clock {
  private monotonic = 0;
  private nextId = 1;
  private readonly timers = new Map<number, ManualTimer>();

  /** `startMs` is the wall-clock value at monotonic time 0. */
  constructor(private readonly startMs = 1_700_000_000_000) {}

  nowMs(): number {
    return this.startMs + this.monotonic;
  }

  monotonicMs(): number {
    return this.monotonic;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer: ManualTimer = { id: this.nextId++, dueMs: this.monotonic + Math.max(0, delayMs), fn };
    this.timers.set(timer.id, timer);
    return { id: timer.id };
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle.id);
  }

  /** Timers set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Milliseconds until the next timer is due, or undefined when none is set. */
  get nextTimerInMs(): number | undefined {
    const next = this.nextDue();
    return next === undefined ? undefined : next.dueMs - this.monotonic;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due (including ones set by
   * earlier callbacks), settling microtasks after each, and once more at the end.
   */
  async advance(ms: number): Promise<void> {
    const endMs = this.monotonic + ms;
    await settle();
    for (let next = this.nextDue(); next !== undefined && next.dueMs <= endMs; next = this.nextDue()) {
      this.timers.delete(next.id);
      this.monotonic = Math.max(this.monotonic, next.dueMs);
      next.fn();
      await settle();
    }
    this.monotonic = endMs;
    await settle();
  }

  /** Fires timers until none is left (at most `timersMax`, against endless re-arming). */
  async runAll(timersMax = 10_000): Promise<void> {
    for (let i = 0; i < timersMax; i++) {
      await settle(); // pending promise work may still set timers
      const next = this.nextDue();
      if (next === undefined) return;
      await this.advance(next.dueMs - this.monotonic);
    }
    throw new Error(`ManualClock.runAll: still timers after ${timersMax} firings`);
  }

  private nextDue(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.timers.values()) {
      if (best === undefined || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.id < best.id)) best = t;
    }
    return best;
  }
}
