/**
 * A process that is stopped and continued, as by SIGSTOP and SIGCONT (a long garbage
 * collection, a VM migration or a swapping host look the same from outside): a gray
 * failure, since the node is neither up nor down. One gate serves one incarnation; its
 * clock's timers, its endpoint's arrivals (requests and replies) and the client calls on
 * it pass through the gate (simClock.ts, simNetwork.ts, simCluster.ts).
 *
 * While paused, nothing of the process runs: a timer that comes due waits, and whatever
 * arrives waits in order, as it would in the kernel's socket buffers; its peers see no
 * answer. Its clock keeps running (wall time passes: a timer is due by the clock, so one
 * set for 100 ms before a 2 s pause is 1.9 s overdue when the process continues).
 *
 * On resume the backlog runs at the moment of the wake, one item per scheduler event (so
 * the promise work each starts settles before the next, as between two callbacks of Node's
 * event loop): first the overdue timers in the order they came due (an event-loop
 * iteration begins with its timers phase, so a request whose reply waits in the socket
 * times out first, as in a real process that overslept), then the arrivals in the order
 * they came. Whatever comes in while the backlog drains joins its end, so nothing overtakes
 * what waited. A crash discards the backlog: a killed process handles nothing more.
 *
 * What waits is bounded (PAUSED_ARRIVALS_MAX, as socket buffers are): past it an arrival
 * is dropped, as a message lost with a connection reset; timers are the process's own and
 * never dropped.
 */

/** Arrivals that wait for a paused process at most (the rest are dropped, see the header). */
export const PAUSED_ARRIVALS_MAX = 2000;

/** Where the wake's work is scheduled: the run's Scheduler. */
export interface WakeQueue {
  schedule(delayMs: number, label: string, run: () => void): unknown;
}

export type GatedWork = 'timer' | 'arrival';

type GateState = 'running' | 'paused' | 'waking';

export class PauseGate {
  private state: GateState = 'running';
  private readonly overdueTimers: (() => void)[] = [];
  private readonly arrivals: (() => void)[] = [];
  private wakeScheduled = false;
  /** Arrivals dropped because the backlog was full. */
  dropped = 0;
  /** How many times the process was paused. */
  pauses = 0;

  constructor(
    private readonly queue: WakeQueue,
    /** Names the wake events in the trace (node id and incarnation). */
    private readonly owner: string,
    private readonly arrivalsMax = PAUSED_ARRIVALS_MAX,
  ) {}

  /** True while the process runs normally (not paused, no backlog left to run). */
  get isRunning(): boolean {
    return this.state === 'running';
  }

  get isPaused(): boolean {
    return this.state === 'paused';
  }

  /** Timers and arrivals waiting. */
  get backlog(): number {
    return this.overdueTimers.length + this.arrivals.length;
  }

  /**
   * Runs `work` now when the process runs, else queues it for the wake. False when it was
   * dropped (an arrival past PAUSED_ARRIVALS_MAX): it will never run.
   */
  admit(kind: GatedWork, work: () => void): boolean {
    if (this.state === 'running') {
      work();
      return true;
    }
    if (kind === 'timer') {
      this.overdueTimers.push(work);
      return true;
    }
    if (this.arrivals.length >= this.arrivalsMax) {
      this.dropped++;
      return false;
    }
    this.arrivals.push(work);
    return true;
  }

  /** Stops the process (no-op when it is paused already). A process still waking stops again with its backlog kept. */
  pause(): void {
    if (this.state === 'paused') return;
    this.state = 'paused';
    this.pauses++;
  }

  /** Continues the process: its backlog runs from the next event on (no-op unless paused). */
  resume(): void {
    if (this.state !== 'paused') return;
    this.state = 'waking';
    this.scheduleWake();
  }

  /** The process is gone (crashed): nothing of the backlog will run. */
  discard(): void {
    this.overdueTimers.length = 0;
    this.arrivals.length = 0;
    this.state = 'running';
  }

  private scheduleWake(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    this.queue.schedule(0, `wake ${this.owner}`, () => {
      this.wakeScheduled = false;
      if (this.state !== 'waking') return;
      const next = this.overdueTimers.shift() ?? this.arrivals.shift();
      if (next === undefined) {
        this.state = 'running';
        return;
      }
      next();
      // The item may have paused or discarded the process (a test, a crash): then the wake stops.
      if (this.state === 'waking') this.scheduleWake();
    });
  }
}
