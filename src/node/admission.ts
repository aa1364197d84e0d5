/**
 * The node's admission controller for background work (paper 6.5; the pure parts are in
 * core/admission.ts). Client requests report their latency; once a second the controller
 * recomputes the foreground p99 over the sliding window and moves the background share
 * (AIMD). Background tasks — anti-entropy, hint delivery, partition transfers, tree
 * rebuilds — call `pauseAfterMs(workMs)` after each unit of work and wait that long, so
 * together they use about `share` of the time while the foreground is healthy, and much
 * less while it suffers.
 */
import { LatencyWindow, nextShare, pauseAfterMs, type AdmissionSettings } from '../core/admission.ts';
import type { Clock, TimerHandle } from '../ports/clock.ts';

export interface AdmissionStatus {
  /** The fraction of time background work may use now. */
  readonly share: number;
  /** The foreground p99 over the window, ms (0 when idle). */
  readonly foregroundP99Ms: number;
  readonly foregroundRequests: number;
  readonly p99TargetMs: number;
  readonly windowMs: number;
  /** Times the share was cut since start. */
  readonly throttles: number;
}

const ADJUST_INTERVAL_MS = 1000;

/** What a background task asks of the controller: how long to rest after a unit of work. */
export interface BackgroundPacer {
  pauseAfterMs(workMs: number): number;
}

/** Background work that is never throttled (tests, tools). */
export const UNTHROTTLED: BackgroundPacer = { pauseAfterMs: () => 0 };

export class AdmissionController implements BackgroundPacer {
  private readonly window: LatencyWindow;
  private share: number;
  private p99Ms = 0;
  private throttles = 0;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly settings: AdmissionSettings,
  ) {
    this.window = new LatencyWindow(settings.windowMs);
    this.share = settings.shareMax;
  }

  start(): void {
    const tick = (): void => {
      this.adjust();
      this.timer = this.clock.setTimer(ADJUST_INTERVAL_MS, tick);
    };
    this.timer = this.clock.setTimer(ADJUST_INTERVAL_MS, tick);
  }

  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** A client request finished after `latencyMs`. */
  recordForeground(latencyMs: number): void {
    this.window.record(this.clock.monotonicMs(), latencyMs);
  }

  /** How long background work that just took `workMs` waits before its next unit. */
  pauseAfterMs(workMs: number): number {
    return pauseAfterMs(workMs, this.share);
  }

  /** Recomputes the p99 and the share (the timer calls it every second). */
  adjust(): void {
    this.p99Ms = this.window.quantileMs(this.clock.monotonicMs(), 0.99);
    const next = nextShare(this.share, this.p99Ms, this.settings);
    if (next < this.share) this.throttles++;
    this.share = next;
  }

  status(): AdmissionStatus {
    const { p99TargetMs, windowMs } = this.settings;
    return {
      share: this.share,
      foregroundP99Ms: this.p99Ms,
      foregroundRequests: this.window.count(this.clock.monotonicMs()),
      p99TargetMs,
      windowMs,
      throttles: this.throttles,
    };
  }
}
