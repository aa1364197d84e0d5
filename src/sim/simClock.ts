/**
 * A node's Clock in a sim run: the global virtual time seen through the node's own
 * hardware clock, which is off by a constant offset and runs fast or slow by a few
 * hundred parts per million (both chosen by the seed). Timers are scheduler events.
 *
 * One SimClock serves one incarnation of a node: `kill()` (a crash) discards every
 * pending timer, and a dead clock's new timers never fire, so nothing a crashed
 * incarnation left behind runs again. The restarted node gets a new SimClock over the
 * same ClockSkew (the machine's clock survives the crash).
 *
 * A paused incarnation (pauseGate.ts) keeps its clock: time reads go on, but a timer that
 * comes due waits for the process to continue, and fires then, overdue.
 */
import type { Clock, TimerHandle } from '../ports/clock.ts';
import type { PauseGate } from './pauseGate.ts';
import { drainMicrotasks, Scheduler, Trace, type EventHandle } from './scheduler.ts';

/** Wall time of virtual time 0: a fixed date, so runs never depend on when they ran. */
export const SIM_EPOCH_MS = Date.UTC(2025, 0, 1);

export interface ClockSkew {
  /** Added to the node's wall clock (ms): clocks of different nodes disagree. */
  readonly offsetMs: number;
  /** Rate error in parts per million: +100 runs 0.01% fast. */
  readonly driftPpm: number;
}

interface SimTimer extends TimerHandle {
  event: EventHandle | undefined;
}

export class SimClock implements Clock {
  private readonly rate: number;
  private readonly timers = new Map<number, SimTimer>();
  private nextTimerId = 1;
  private alive = true;

  constructor(
    protected readonly scheduler: Scheduler,
    private readonly skew: ClockSkew,
    /** Names the timers in the trace (node id and incarnation). */
    private readonly owner: string,
    /** The incarnation's pause gate: due timers wait while it is paused (none: never paused). */
    private readonly gate?: PauseGate,
  ) {
    this.rate = 1 + skew.driftPpm / 1_000_000;
  }

  get isAlive(): boolean {
    return this.alive;
  }

  /** Timers waiting to fire. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  nowMs(): number {
    return SIM_EPOCH_MS + this.skew.offsetMs + this.scheduler.nowMs * this.rate;
  }

  monotonicMs(): number {
    return this.scheduler.nowMs * this.rate;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timer: SimTimer = { id: this.nextTimerId++, event: undefined };
    if (!this.alive) return timer;
    // The node asks for local milliseconds; a fast clock reaches them sooner in global time.
    const globalDelayMs = Math.max(0, Number.isFinite(delayMs) ? delayMs : 0) / this.rate;
    // Checked again when it fires: while it waited in a paused process's backlog it may have been cleared.
    const fire = (): void => {
      if (this.timers.get(timer.id) !== timer) return;
      this.timers.delete(timer.id);
      fn();
    };
    timer.event = this.scheduler.schedule(globalDelayMs, `timer ${this.owner} #${timer.id}`, () => {
      timer.event = undefined;
      if (this.gate === undefined) fire();
      else this.gate.admit('timer', fire);
    });
    this.timers.set(timer.id, timer);
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    const timer = this.timers.get(handle.id);
    if (timer === undefined || timer !== handle) return;
    this.timers.delete(timer.id);
    if (timer.event !== undefined) this.scheduler.cancel(timer.event);
  }

  /** The incarnation crashed: its pending timers never fire, and new ones are ignored. */
  kill(): void {
    this.alive = false;
    for (const timer of this.timers.values()) if (timer.event !== undefined) this.scheduler.cancel(timer.event);
    this.timers.clear();
  }
}

/**
 * The unit tests' clock: a SimClock (no skew) on a scheduler of its own, which only the
 * test moves. Timers fire in due-time order (ties in the order they were set), and the
 * promise work each one starts settles before the next fires, as between sim events:
 *
 *   const clock = new ManualClock();
 *   const store = new ObjectStore(engine, clock, { flushIntervalMs: 100 });
 *   await clock.advance(100);   // the flush timer fires, the flush completes
 */
export class ManualClock extends SimClock {
  constructor() {
    super(new Scheduler(new Trace()), { offsetMs: 0, driftPpm: 0 }, 'manual');
  }

  /** Moves time forward by `ms`, firing every timer that falls due (also ones set on the way). */
  async advance(ms: number): Promise<void> {
    await drainMicrotasks(); // promise work pending now may still set a timer that falls due
    await this.scheduler.runUntil(this.scheduler.nowMs + ms);
    await drainMicrotasks();
  }

  /** Fires timers until none is left (at most `timersMax`, against endless re-arming). */
  async runAll(timersMax = 10_000): Promise<void> {
    await drainMicrotasks();
    let fired = 0;
    await this.scheduler.runWhile(() => this.pendingTimers > 0 && fired++ < timersMax, Number.MAX_SAFE_INTEGER);
    if (this.pendingTimers > 0) throw new Error(`ManualClock.runAll: still timers after ${timersMax} firings`);
  }
}
