/**
 * A background task's rhythm: `round` runs about every `intervalMs`, each wait jittered to
 * between half and one and a half intervals with the Random port, so nodes that started
 * together do not act in lockstep. Used by hinted handoff and the prober.
 */
import type { Clock, TimerHandle } from '../ports/clock.ts';
import type { Random } from '../ports/random.ts';

export class JitteredRounds {
  private timer: TimerHandle | undefined;
  private active = false;

  constructor(
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly intervalMs: number,
    private readonly round: () => void,
  ) {}

  get running(): boolean {
    return this.active;
  }

  start(): void {
    this.active = true;
    this.arm();
  }

  stop(): void {
    this.active = false;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    const delayMs = this.intervalMs * (0.5 + this.random.next());
    this.timer = this.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      this.round();
      if (this.active) this.arm();
    });
  }
}
