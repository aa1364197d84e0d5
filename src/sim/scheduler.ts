/**
 * The one global event queue of a sim run: every timer, message delivery, fault and client
 * step is an event at a virtual time, and events run one at a time in (time, sequence)
 * order. Nothing else makes simulated code run.
 *
 * Draining: after each event the loop waits for one turn of the real event loop
 * (setImmediate), which Node runs only once the microtask and nextTick queues are empty.
 * So every promise continuation an event set off (a node's `await` chains, the memory
 * engine's queueMicrotask) settles before the next event runs, in JavaScript's fixed
 * microtask order. This is safe only because nothing in a sim run does real I/O or uses
 * real timers (see realTime.ts): the only macrotask in the process is our own.
 */
import { createHash, type Hash } from 'node:crypto';
import { realSetImmediate } from './realTime.ts';

export interface EventHandle {
  readonly seq: number;
}

interface QueuedEvent extends EventHandle {
  readonly timeMs: number;
  readonly label: string;
  readonly run: () => void;
  cancelled: boolean;
}

/** Something in a sim run failed in a way that ends the run (a thrown timer, a livelock). */
export class SimRunError extends Error {
  readonly code = 'SIM_RUN_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SimRunError';
  }
}

/** Receives every executed event (and free-form notes) in order. */
export interface TraceSink {
  event(timeMs: number, label: string): void;
  note(timeMs: number, text: string): void;
}

/**
 * The event trace of a run: a running SHA-256 over every event (two runs of one seed must
 * produce the same digest), and optionally the lines themselves, printed as they happen.
 */
export class Trace implements TraceSink {
  private readonly hash: Hash = createHash('sha256');
  eventCount = 0;

  constructor(private readonly print?: (line: string) => void) {}

  event(timeMs: number, label: string): void {
    this.eventCount++;
    this.hash.update(`${timeMs}|${label}\n`);
    if (this.print !== undefined) this.print(`${formatTimeMs(timeMs)} ${label}`);
  }

  note(timeMs: number, text: string): void {
    this.hash.update(`${timeMs}#${text}\n`);
    if (this.print !== undefined) this.print(`${formatTimeMs(timeMs)} # ${text}`);
  }

  /** A line for the reader only (node logs): printed when verbose, not part of the digest. */
  log(timeMs: number, text: string): void {
    if (this.print !== undefined) this.print(`${formatTimeMs(timeMs)}   ${text}`);
  }

  get verbose(): boolean {
    return this.print !== undefined;
  }

  /** The digest so far (the hash can still be extended afterwards). */
  digest(): string {
    return this.hash.copy().digest('hex');
  }
}

export function formatTimeMs(timeMs: number): string {
  return `[${timeMs.toFixed(3).padStart(10)}]`;
}

/** Events executed in one run at most: a node that schedules timers forever is a bug, not a hang. */
export const EVENTS_PER_RUN_MAX = 2_000_000;

export class Scheduler {
  private readonly heap: QueuedEvent[] = [];
  private nextSeq = 1;
  private current = 0;
  private executed = 0;
  private failure: SimRunError | undefined;

  constructor(
    readonly trace: TraceSink,
    private readonly drain: () => Promise<void> = drainMicrotasks,
  ) {}

  /** Virtual milliseconds since the start of the run (the same for every node). */
  get nowMs(): number {
    return this.current;
  }

  get pendingEvents(): number {
    return this.heap.length;
  }

  get executedEvents(): number {
    return this.executed;
  }

  /** Runs `run` `delayMs` from now (0: after the events already queued for now). */
  schedule(delayMs: number, label: string, run: () => void): EventHandle {
    if (!(delayMs >= 0) || !Number.isFinite(delayMs)) throw new RangeError(`delay must be finite and >= 0, got ${String(delayMs)}`);
    const event: QueuedEvent = { seq: this.nextSeq++, timeMs: this.current + delayMs, label, run, cancelled: false };
    this.push(event);
    return event;
  }

  /** The event will not run (no-op when it already ran). */
  cancel(handle: EventHandle): void {
    (handle as QueuedEvent).cancelled = true;
  }

  /**
   * Ends the run at the next event boundary with `error` (called from simulated code's
   * callbacks, e.g. an invariant that failed inside a promise chain).
   */
  fail(error: SimRunError): void {
    this.failure ??= error;
  }

  /** Runs events up to and including `endMs`, then sets the time to `endMs`. */
  async runUntil(endMs: number): Promise<void> {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.timeMs > endMs) break;
      await this.runNext();
    }
    this.current = Math.max(this.current, endMs);
    this.throwIfFailed();
  }

  /** Runs events while `keepGoing()` holds, up to `endMs`; true when it stopped holding in time. */
  async runWhile(keepGoing: () => boolean, endMs: number): Promise<boolean> {
    while (keepGoing()) {
      const top = this.heap[0];
      if (top === undefined || top.timeMs > endMs) {
        this.current = Math.max(this.current, endMs);
        return false;
      }
      await this.runNext();
    }
    this.throwIfFailed();
    return true;
  }

  private async runNext(): Promise<void> {
    const event = this.pop();
    if (event.cancelled) return;
    this.current = event.timeMs;
    if (++this.executed > EVENTS_PER_RUN_MAX) {
      throw new SimRunError(`more than ${EVENTS_PER_RUN_MAX} events in one run (a timer loop?); last: ${event.label}`);
    }
    this.trace.event(event.timeMs, event.label);
    try {
      event.run();
    } catch (error) {
      this.fail(new SimRunError(`event "${event.label}" threw: ${describe(error)}`, { cause: error }));
    }
    await this.drain();
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private push(event: QueuedEvent): void {
    const heap = this.heap;
    heap.push(event);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(event, heap[parent] as QueuedEvent)) break;
      heap[index] = heap[parent] as QueuedEvent;
      index = parent;
    }
    heap[index] = event;
  }

  private pop(): QueuedEvent {
    const heap = this.heap;
    const top = heap[0] as QueuedEvent;
    const last = heap.pop() as QueuedEvent;
    if (heap.length === 0) return top;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right] as QueuedEvent, heap[left] as QueuedEvent) ? right : left;
      if (!before(heap[child] as QueuedEvent, last)) break;
      heap[index] = heap[child] as QueuedEvent;
      index = child;
    }
    heap[index] = last;
    return top;
  }
}

function before(a: QueuedEvent, b: QueuedEvent): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
}

/** One real event-loop turn: every pending microtask and nextTick callback has run. */
export function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve));
}

export function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
