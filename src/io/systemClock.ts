/**
 * The production Clock: wall time from Date.now, monotonic time from performance.now,
 * timers from setTimeout. Timers are unref()'d so a pending flush or backoff timer never
 * keeps the process alive on its own (shutdown flushes explicitly).
 */
import type { Clock, TimerHandle } from '../ports/clock.ts';

interface SystemTimerHandle extends TimerHandle {
  readonly timeout: ReturnType<typeof setTimeout>;
}

let nextTimerId = 1;

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const timeout = setTimeout(fn, Math.max(0, delayMs));
    timeout.unref();
    const handle: SystemTimerHandle = { id: nextTimerId++, timeout };
    return handle;
  },
  clearTimer(handle: TimerHandle): void {
    clearTimeout((handle as SystemTimerHandle).timeout);
  },
};
