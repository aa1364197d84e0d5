/**
 * A request that finds fewer than its quorum of the key's nodes believed up does not fail
 * at once: it asks the prober for a round now (failureDetector.ts wantProbes) and waits for
 * a peer to come up, at most hedgeDelayMaxMs and half its time, then plans again. A node
 * whose peers all timed out while the network was cut (or while it was itself paused or
 * slow) so serves the first requests after the heal instead of refusing them until its next
 * probe round. A read that still finds too few tries the doubted nodes too, as a last
 * resort rather than a refusal: a peer that is slow, not dead, times out some requests and
 * is judged down for it, yet answers one given its whole time (the simulator's slow peers).
 * A write is refused then, before anything is written (putCoordinator.ts).
 */
import type { FailureDetector } from '../failureDetector.ts';
import type { Clock } from '../../ports/clock.ts';

export interface PeersWaitDeps {
  readonly detector: FailureDetector;
  readonly clock: Clock;
  readonly config: { readonly hedgeDelayMaxMs: number };
}

/** How many of `order` this node believes up (itself always). */
function upCount(order: readonly string[], up: ReadonlySet<string>, self: string | undefined, n: number): number {
  let count = 0;
  for (const node of order) if (node === self || up.has(node)) count++;
  return Math.min(count, n);
}

/**
 * Runs `run` with the request's time and the nodes believed up at once when `needed` of the
 * first `n` nodes of `order` are believed up; otherwise waits as the file comment says
 * first, and runs it with the time left and the nodes to plan with (every node of `order`
 * when still too few are up).
 */
export function withPeersUp<T>(
  deps: PeersWaitDeps,
  order: readonly string[],
  self: string | undefined,
  quorum: { readonly n: number; readonly needed: number },
  timeoutMs: number,
  run: (timeoutMs: number, up: ReadonlySet<string>) => Promise<T>,
): Promise<T> {
  if (upCount(order, deps.detector.up, self, quorum.n) >= quorum.needed) return run(timeoutMs, deps.detector.up);
  deps.detector.wantProbes();
  const startedMs = deps.clock.monotonicMs();
  const waitMs = Math.min(deps.config.hedgeDelayMaxMs, timeoutMs / 2);
  return new Promise<void>((resolve) => {
    const stopWaiting = deps.detector.onNextPeerUp(() => {
      deps.clock.clearTimer(timer);
      resolve();
    });
    const timer = deps.clock.setTimer(waitMs, () => {
      stopWaiting();
      resolve();
    });
  }).then(() => {
    const leftMs = Math.max(1, timeoutMs - (deps.clock.monotonicMs() - startedMs));
    const enough = upCount(order, deps.detector.up, self, quorum.n) >= quorum.needed;
    return run(leftMs, enough ? deps.detector.up : new Set(order));
  });
}
