/**
 * Time as the node sees it. Production uses the wall clock and real timers;
 * the simulator hands each node a virtual clock and runs timers from its own event queue.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (may drift in the simulator). */
  nowMs(): number;
  /** Monotonic milliseconds, for measuring durations. */
  monotonicMs(): number;
  /** Runs `fn` once after `delayMs`. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly id: number;
}
