/**
 * Waiting for an applied membership change: polls `GET /admin/transfers` (cluster-wide
 * progress, aggregated by the node asked) and, once every transfer is done, `GET
 * /admin/ring` until the change has settled. Progress goes to stderr: one redrawn line on
 * a terminal, a plain line every few seconds otherwise.
 *
 * A failed poll is shown and polling goes on (a node busy streaming partitions may answer
 * late); the wait ends with the change settled (0), after `timeoutMs` (1), or on Ctrl-C
 * (130). Neither of the last two stops the change: it goes on in the cluster.
 */
import { ringSchema, transfersSchema, type Plan, type RingView, type TransfersView } from './adminContract.ts';
import { adminRequest, describeFailure, type AdminAccess, type AdminFailure } from './adminHttp.ts';
import type { AdminIo } from './adminIo.ts';
import { progressLine, progressText, type ProgressSnapshot } from './progressBar.ts';
import { formatBytes, formatCount, formatElapsed, plural } from './units.ts';

export const POLL_INTERVAL_MS = 500;
/** Without a terminal, a progress line at most this often. */
export const PLAIN_LINE_INTERVAL_MS = 5000;
export const EXIT_INTERRUPTED = 130;
/** For a terminal that does not say how wide it is. */
const TERMINAL_COLUMNS_DEFAULT = 80;

export interface WaitSettings {
  /** The node asked for progress: the one that applied the change. */
  readonly base: URL;
  /** Its credentials and CA. */
  readonly access: AdminAccess;
  /** The plan as applied (its ringVersion is the one the change was applied as). */
  readonly plan: Plan;
  readonly timeoutMs: number;
  readonly pollIntervalMs: number;
  readonly plainLineIntervalMs: number;
}

type Poll =
  | { readonly kind: 'progress'; readonly snapshot: ProgressSnapshot }
  | { readonly kind: 'settled'; readonly snapshot: ProgressSnapshot; readonly next?: Plan }
  /** `snapshot`: the transfers view, when only the ring request failed. */
  | { readonly kind: 'failed'; readonly message: string; readonly unreachable: boolean; readonly snapshot?: ProgressSnapshot };

export async function waitForChange(io: AdminIo, settings: WaitSettings): Promise<number> {
  const interrupt = new AbortController();
  const stopListening = io.onInterrupt(() => interrupt.abort());
  try {
    return await pollUntilSettled(io, settings, interrupt.signal);
  } finally {
    stopListening();
  }
}

async function pollUntilSettled(io: AdminIo, settings: WaitSettings, signal: AbortSignal): Promise<number> {
  const display = new ProgressDisplay(io, io.nowMs(), settings.plainLineIntervalMs);
  const errors = new ErrorThrottle(io, settings.plainLineIntervalMs);
  let last = initialSnapshot(settings.plan);
  for (;;) {
    const poll = await pollOnce(settings, signal);
    if (signal.aborted) return interrupted(io, display, last, settings);
    if (poll.kind === 'failed') {
      last = poll.snapshot ?? last;
      if (poll.unreachable && hasLeft(settings.plan, last)) return left(io, display, last, settings);
      const message = `${poll.message}; still waiting`;
      if (errors.due(message)) display.message(message);
    } else {
      last = poll.snapshot;
      if (poll.kind === 'settled') return settled(io, display, last, settings, poll.next);
      display.show(last);
    }
    if (display.elapsedMs() >= settings.timeoutMs) return gaveUp(io, display, last, settings);
    await io.sleep(settings.pollIntervalMs, signal);
    if (signal.aborted) return interrupted(io, display, last, settings);
  }
}

async function pollOnce(settings: WaitSettings, signal: AbortSignal): Promise<Poll> {
  const transfersUrl = new URL('/admin/transfers', settings.base);
  const transfers = await adminRequest(transfersUrl, transfersSchema, { signal, access: settings.access });
  if (transfers.kind !== 'ok') return failed(transfersUrl, transfers);
  const snapshot = snapshotOf(settings.plan, transfers.value);
  if (snapshot.transfersDone < snapshot.transfersTotal) return { kind: 'progress', snapshot };
  const ringUrl = new URL('/admin/ring', settings.base);
  const ring = await adminRequest(ringUrl, ringSchema, { signal, access: settings.access });
  if (ring.kind !== 'ok') return { ...failed(ringUrl, ring), snapshot };
  const verdict = ringVerdict(settings.plan.ringVersion, ring.value);
  if (verdict === 'pending') return { kind: 'progress', snapshot };
  return verdict === 'settled' ? { kind: 'settled', snapshot } : { kind: 'settled', snapshot, next: verdict };
}

function failed(url: URL, answer: AdminFailure): Poll & { kind: 'failed' } {
  return { kind: 'failed', message: describeFailure(url, answer), unreachable: answer.kind === 'unreachable' };
}

/** The progress of the change applied as `plan`, from the node's transfers view. */
export function snapshotOf(plan: Plan, view: TransfersView): ProgressSnapshot {
  const counters = {
    objectsSent: view.objectsSent,
    bytesSent: view.bytesSent,
    objectsPerS: view.objectsPerS,
    bytesPerS: view.bytesPerS,
    objectsEstimate: plan.estimate.objects,
    nodesFailing: Object.values(view.nodes).filter((node) => 'error' in node).length,
  };
  const current = view.plan;
  if (current !== null && current.ringVersion === plan.ringVersion) {
    return { ...counters, transfersDone: current.transfersDone, transfersTotal: current.transfersTotal };
  }
  // An older change still shown: ours has not started there yet.
  if (current !== null && current.ringVersion < plan.ringVersion) {
    return { ...counters, transfersDone: 0, transfersTotal: plan.transfersTotal };
  }
  // No change, or a later one: ours has finished its transfers; the ring says whether it settled.
  return { ...counters, transfersDone: plan.transfersTotal, transfersTotal: plan.transfersTotal };
}

/** Whether the ring shows the change applied as `ringVersion` settled, still pending, or followed by another change. */
export function ringVerdict(ringVersion: number, ring: RingView): 'settled' | 'pending' | Plan {
  if (ring.ringVersion < ringVersion) return 'pending';
  const plan = ring.plan;
  if (plan === null || plan.ringVersion < ringVersion) return 'settled';
  if (plan.ringVersion > ringVersion) return plan;
  return plan.transfersDone >= plan.transfersTotal ? 'settled' : 'pending';
}

function initialSnapshot(plan: Plan): ProgressSnapshot {
  return {
    transfersDone: plan.transfersDone,
    transfersTotal: plan.transfersTotal,
    objectsSent: 0,
    bytesSent: 0,
    objectsPerS: 0,
    bytesPerS: 0,
    objectsEstimate: plan.estimate.objects,
  };
}

/** A node that leaves may stop answering once its last transfer is done. */
function hasLeft(plan: Plan, last: ProgressSnapshot): boolean {
  return plan.kind === 'leave' && last.transfersDone >= last.transfersTotal;
}

function settled(io: AdminIo, display: ProgressDisplay, last: ProgressSnapshot, settings: WaitSettings, next?: Plan): number {
  display.finish(last);
  const { plan } = settings;
  const what = `${plan.kind} ${plan.member}`;
  const sent = `${plural(last.objectsSent, 'object')}, ${formatBytes(last.bytesSent)} sent in ${formatElapsed(display.elapsedMs())}`;
  const transfers = `${formatCount(last.transfersDone)}/${plural(last.transfersTotal, 'transfer')}`;
  io.out(`done: ${what} settled at ring version ${plan.ringVersion} (${transfers}, ${sent})\n`);
  if (next !== undefined) io.out(`the ring has moved on since: ${next.kind} ${next.member} at ring version ${next.ringVersion}\n`);
  return 0;
}

function left(io: AdminIo, display: ProgressDisplay, last: ProgressSnapshot, settings: WaitSettings): number {
  display.finish(last);
  const { plan, base } = settings;
  io.out(`done: every transfer of leave ${plan.member} finished and ${base.origin} no longer answers: it has left the cluster\n`);
  return 0;
}

function interrupted(io: AdminIo, display: ProgressDisplay, last: ProgressSnapshot, settings: WaitSettings): number {
  display.finish(last);
  io.err(`stopped waiting (Ctrl-C); ${stillRunning(settings)}\n`);
  return EXIT_INTERRUPTED;
}

function gaveUp(io: AdminIo, display: ProgressDisplay, last: ProgressSnapshot, settings: WaitSettings): number {
  display.finish(last);
  const seconds = Number((settings.timeoutMs / 1000).toFixed(1));
  io.err(`error: gave up waiting after ${seconds} s (--wait-timeout); ${stillRunning(settings)}\n`);
  return 1;
}

function stillRunning(settings: WaitSettings): string {
  const { plan, base } = settings;
  return `the ${plan.kind} of ${plan.member} goes on in the cluster: follow it with \`shoal admin ring --node ${base.origin}\``;
}

/** Draws the progress on stderr: one line redrawn with \r on a terminal, a plain line now and then otherwise. */
export class ProgressDisplay {
  private drawn = false;
  private plainShownMs: number | undefined;

  constructor(
    private readonly io: AdminIo,
    private readonly startedMs: number,
    private readonly plainLineIntervalMs: number,
  ) {}

  elapsedMs(): number {
    return this.io.nowMs() - this.startedMs;
  }

  show(snapshot: ProgressSnapshot): void {
    const nowMs = this.io.nowMs();
    if (this.io.stderrTty) {
      this.redraw(snapshot, nowMs);
      return;
    }
    if (this.plainShownMs !== undefined && nowMs - this.plainShownMs < this.plainLineIntervalMs) return;
    this.plainShownMs = nowMs;
    this.io.err(`${progressText(snapshot, nowMs - this.startedMs)}\n`);
  }

  /** A line above the progress (redrawn at the next show). */
  message(text: string): void {
    if (this.drawn) this.io.err('\r\x1b[K');
    this.drawn = false;
    this.io.err(`${text}\n`);
  }

  /** The last state, on a line of its own. */
  finish(snapshot: ProgressSnapshot): void {
    const nowMs = this.io.nowMs();
    if (this.io.stderrTty) {
      this.redraw(snapshot, nowMs);
      this.io.err('\n');
      this.drawn = false;
      return;
    }
    this.io.err(`${progressText(snapshot, nowMs - this.startedMs)}\n`);
  }

  private redraw(snapshot: ProgressSnapshot, nowMs: number): void {
    const frame = { startedMs: this.startedMs, nowMs, widthColumns: this.io.errColumns() ?? TERMINAL_COLUMNS_DEFAULT };
    this.io.err(`\r${progressLine(snapshot, frame)}\x1b[K`);
    this.drawn = true;
  }
}

/** A poll error is worth showing when it changes, or again once the interval has passed. */
class ErrorThrottle {
  private lastMessage = '';
  private lastShownMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly io: AdminIo,
    private readonly intervalMs: number,
  ) {}

  due(message: string): boolean {
    const nowMs = this.io.nowMs();
    if (message === this.lastMessage && nowMs - this.lastShownMs < this.intervalMs) return false;
    this.lastMessage = message;
    this.lastShownMs = nowMs;
    return true;
  }
}
