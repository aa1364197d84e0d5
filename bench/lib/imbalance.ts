/**
 * Request-load imbalance as the paper measures it (section 6.2, figure 6): in each time
 * window, a node is "out of balance" when its request load is more than 15% away from the
 * window's mean load over the nodes; the imbalance of the window is the fraction of such
 * nodes. Also: which node holds a key first (the requests are sent there).
 */
import { keyBytes, partitionOfKey } from '../../src/core/hash.ts';
import { primaryNodes } from '../../src/core/preflist.ts';
import { makeRing, type Ring } from '../../src/core/ring.ts';

export const OUT_OF_BALANCE_THRESHOLD = 0.15;

export interface WindowImbalance {
  requestsPerNode: number[];
  meanRequests: number;
  outOfBalanceNodes: number;
  outOfBalanceFraction: number;
}

/** The window's imbalance: nodes whose load is more than `threshold` × mean off the mean, as a fraction of the nodes. */
export function windowImbalance(requestsPerNode: readonly number[], threshold = OUT_OF_BALANCE_THRESHOLD): WindowImbalance {
  const nodes = requestsPerNode.length;
  const mean = nodes === 0 ? 0 : requestsPerNode.reduce((sum, c) => sum + c, 0) / nodes;
  const outOfBalanceNodes = mean === 0 ? 0 : requestsPerNode.filter((c) => Math.abs(c - mean) > threshold * mean).length;
  return {
    requestsPerNode: [...requestsPerNode],
    meanRequests: Math.round(mean * 100) / 100,
    outOfBalanceNodes,
    outOfBalanceFraction: nodes === 0 ? 0 : Math.round((outOfBalanceNodes / nodes) * 1e4) / 1e4,
  };
}

/** The mean of the windows' out-of-balance fractions. */
export function meanOutOfBalance(windows: readonly WindowImbalance[]): number {
  if (windows.length === 0) return 0;
  return Math.round((windows.reduce((sum, w) => sum + w.outOfBalanceFraction, 0) / windows.length) * 1e4) / 1e4;
}

/**
 * Counts requests per node in consecutive windows of `perWindow` requests each (an open
 * loop schedules requests at a fixed rate, so a window of time is a window of request
 * numbers). Memory: windows × nodes counters.
 */
export class WindowCounter {
  private readonly counts: number[][];

  constructor(readonly nodes: number, readonly windows: number, readonly perWindow: number) {
    this.counts = Array.from({ length: windows }, () => new Array<number>(nodes).fill(0));
  }

  /** Request number `index` (0-based within the measured window) went to `node`; past the last window it is not counted. */
  record(index: number, node: number): void {
    const window = this.counts[Math.floor(index / this.perWindow)];
    if (window !== undefined && node >= 0 && node < this.nodes) window[node] = (window[node] ?? 0) + 1;
  }

  imbalances(threshold = OUT_OF_BALANCE_THRESHOLD): WindowImbalance[] {
    return this.counts.map((c) => windowImbalance(c, threshold));
  }

  totals(): number[] {
    return Array.from({ length: this.nodes }, (_, node) => this.counts.reduce((sum, w) => sum + (w[node] ?? 0), 0));
  }
}

/** `GET /admin/ring`, the parts needed to compute preference lists. */
export interface RingView {
  partitionCount: number;
  replicas: number;
  members: { id: string }[];
  owners: string[];
}

export function ringFromView(view: RingView): Ring {
  return makeRing(view.members.map((m) => m.id), view.owners);
}

/** The key's first primary: the first of the N distinct owners clockwise from its partition (the node that holds it first). */
export function firstPrimary(ring: Ring, key: string, n: number): string {
  const node = primaryNodes(ring, partitionOfKey(keyBytes(key), ring.partitionCount), n)[0];
  if (node === undefined) throw new Error(`no owner for key ${key}`);
  return node;
}
