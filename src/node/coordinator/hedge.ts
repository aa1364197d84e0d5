/**
 * Hedged requests (Dean and Barroso, "The Tail at Scale", CACM 2013): a coordinator whose
 * targets have not all answered within a short delay also asks the next stand-ins of the
 * preference list, and completes with the first R (W) answers. A target that will never
 * answer (a one-way partition, a paused process) then costs a hedge delay, not the request.
 *
 * The delay adapts: the slowest expected reply among the targets still awaited (their
 * smoothed round trip plus four deviations, peerTraffic.ts), clamped to the config's
 * hedgeDelayMinMs..hedgeDelayMaxMs and to half of the request's time left (a hedge sent
 * later could not be answered in time anyway). Bounds: a hedge goes only to a stand-in the
 * failure detector believes up, each awaited target is hedged at most once, and one request
 * sends at most N hedges. Rounds repeat, a delay apart, while a stand-in is itself silent
 * and the budget lasts (a hedge may land across the same cut as the target it hedged).
 */
import type { NodeConfig } from '../config.ts';
import type { FailureDetector } from '../failureDetector.ts';

type HedgeConfig = Pick<NodeConfig, 'hedgeDelayMinMs' | 'hedgeDelayMaxMs'>;

/** The delay before hedging around `awaited`, ms; undefined when hedging cannot help (no time left). */
export function hedgeDelayMs(detector: FailureDetector, config: HedgeConfig, awaited: Iterable<string>, remainingMs: number): number | undefined {
  const capMs = Math.min(config.hedgeDelayMaxMs, remainingMs / 2);
  if (capMs < config.hedgeDelayMinMs) return undefined;
  let expectedMs = 0;
  for (const node of awaited) expectedMs = Math.max(expectedMs, detector.expectedReplyMs(node, config.hedgeDelayMaxMs));
  return Math.min(capMs, Math.max(config.hedgeDelayMinMs, expectedMs));
}

/** The stand-ins a hedge may go to: the spares the detector still believes up (and `self`, always up for itself), in order. */
export function upSpares(detector: FailureDetector, spares: readonly string[], self?: string): readonly string[] {
  const isUp = (node: string): boolean => node === self || detector.isUp(node);
  return spares.every(isUp) ? spares : spares.filter(isUp);
}

/**
 * One hedge round: a stand-in for each target still silent (`awaited`), at most `budget` in
 * all, each through the coordinator's own `replace` (its sloppy-quorum replacement, which
 * takes only up spares and never replaces a target twice). Returns the stand-ins asked.
 */
export function hedgeAround(detector: FailureDetector, awaited: readonly string[], budget: number, replace: (node: string) => string | undefined): string[] {
  const standIns: string[] = [];
  for (const node of awaited) {
    if (standIns.length >= budget) break;
    detector.checkSilence(node);
    const standIn = replace(node);
    if (standIn !== undefined) standIns.push(standIn);
  }
  return standIns;
}

/** A request's hedge budget: at most N stand-ins asked by hedges, over all its rounds. */
export class HedgeBudget {
  private asked = 0;

  constructor(private readonly n: number) {}

  get left(): number {
    return this.n - this.asked;
  }

  /** Counts a round's stand-ins; true when another round may follow (some were asked, and the budget lasts). */
  spent(count: number): boolean {
    this.asked += count;
    return count > 0 && this.asked < this.n;
  }
}
