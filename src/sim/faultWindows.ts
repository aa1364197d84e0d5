/**
 * The fault windows of a plan (swarmPlan.ts draws them, the run carries them out, and
 * reachability.ts judges requests against them): one definition for all three.
 */

export type PartitionWindow =
  | { readonly kind: 'split'; readonly startMs: number; readonly endMs: number; readonly sides: readonly [readonly string[], readonly string[]] }
  | { readonly kind: 'one-way'; readonly startMs: number; readonly endMs: number; readonly from: string; readonly to: readonly string[] };

/** A founder paused (SIGSTOP) from startMs, continued at endMs. */
export interface PauseWindow {
  readonly node: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** From startMs to endMs every message `node` sends takes an extra delay within [delayMinMs, delayMaxMs]. */
export interface SlowPeerWindow {
  readonly node: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
}
