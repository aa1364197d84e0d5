/** A request's time budget, measured on the node's monotonic clock. */
import type { Clock } from '../ports/clock.ts';

export class Deadline {
  private readonly endMs: number;

  constructor(
    private readonly clock: Clock,
    readonly timeoutMs: number,
  ) {
    this.endMs = clock.monotonicMs() + timeoutMs;
  }

  /** Milliseconds left (0 once passed). */
  remainingMs(): number {
    return Math.max(0, this.endMs - this.clock.monotonicMs());
  }
}
