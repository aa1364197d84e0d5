/**
 * The dashboard's JSON at a bounded cost per viewer: the snapshot is computed at most once
 * per `snapshotMsMin` and its serialized bytes are served to every viewer until then, so
 * computing it costs the same for fifty open pages as for one; each viewer adds only its
 * own request.
 *
 * Cluster-wide transfer counters need a request to every member, so they are fetched in the
 * background — only while a membership change is in progress, only while someone is
 * looking, one fetch at a time, at most once per `clusterTransfersMsMin` — and the next
 * snapshot carries the latest answer.
 */
import { isSettled } from '../../core/membership/state.ts';
import type { ClusterTransfers } from '../../node/membership/membershipService.ts';
import type { ShoalNode } from '../../node/shoalNode.ts';
import type { Logger } from '../../ports/logger.ts';
import type { RequestHistory } from './requestHistory.ts';
import { dashboardSnapshot } from './snapshot.ts';

export interface DashboardFeedOptions {
  readonly node: ShoalNode;
  readonly history: RequestHistory;
  readonly logger: Logger;
  /** A snapshot is reused for this long. */
  readonly snapshotMsMin?: number;
  /** Cluster-wide transfer counters are asked of the members at most this often. */
  readonly clusterTransfersMsMin?: number;
  /** Wall-clock ms (the charts' time axis) and monotonic ms (the cache's age). */
  readonly wallMs?: () => number;
  readonly monotonicMs?: () => number;
}

export const SNAPSHOT_MS_MIN_DEFAULT = 500;
export const CLUSTER_TRANSFERS_MS_MIN_DEFAULT = 2000;

export class DashboardFeed {
  private bytes: Buffer | undefined;
  private builtAtMs = -Infinity;
  /** How many snapshots were computed (tests check the cache with it). */
  builds = 0;
  private clusterTransfers: { readonly ringVersion: number; readonly value: ClusterTransfers } | undefined;
  private fetchingTransfers = false;
  private transfersAskedAtMs = -Infinity;
  private estimate: { readonly ringVersion: number; readonly bytes: number | undefined } | undefined;
  private readonly snapshotMsMin: number;
  private readonly clusterTransfersMsMin: number;
  private readonly wallMs: () => number;
  private readonly monotonicMs: () => number;

  constructor(private readonly options: DashboardFeedOptions) {
    this.snapshotMsMin = options.snapshotMsMin ?? SNAPSHOT_MS_MIN_DEFAULT;
    this.clusterTransfersMsMin = options.clusterTransfersMsMin ?? CLUSTER_TRANSFERS_MS_MIN_DEFAULT;
    this.wallMs = options.wallMs ?? Date.now;
    this.monotonicMs = options.monotonicMs ?? (() => performance.now());
  }

  /** The snapshot's JSON bytes, computed anew only when the last one is older than snapshotMsMin. */
  current(): Buffer {
    const nowMs = this.monotonicMs();
    if (this.bytes === undefined || nowMs - this.builtAtMs >= this.snapshotMsMin) {
      this.bytes = this.build();
      this.builtAtMs = nowMs;
      this.builds++;
    }
    return this.bytes;
  }

  private build(): Buffer {
    const { node, history } = this.options;
    const state = node.clusterState();
    const changing = !isSettled(state);
    if (changing) this.refreshClusterTransfers(state.ringVersion);
    const transfers = this.clusterTransfers?.ringVersion === state.ringVersion ? this.clusterTransfers.value : undefined;
    const snapshot = dashboardSnapshot(node, {
      history,
      clusterTransfers: transfers,
      changeEstimateBytes: changing ? this.estimateBytes(state.ringVersion) : undefined,
      nowMs: this.wallMs(),
    });
    return Buffer.from(JSON.stringify(snapshot));
  }

  /** The bytes the change of `ringVersion` moves, estimated once per change (it samples the engine). */
  private estimateBytes(ringVersion: number): number | undefined {
    if (this.estimate?.ringVersion !== ringVersion) {
      const plan = this.options.node.membership.ring().plan;
      this.estimate = { ringVersion, bytes: plan === null ? undefined : plan.estimate.bytes };
    }
    return this.estimate.bytes;
  }

  private refreshClusterTransfers(ringVersion: number): void {
    const nowMs = this.monotonicMs();
    if (this.fetchingTransfers || nowMs - this.transfersAskedAtMs < this.clusterTransfersMsMin) return;
    this.fetchingTransfers = true;
    this.transfersAskedAtMs = nowMs;
    this.options.node.membership.transfers().then(
      (value) => {
        this.clusterTransfers = { ringVersion, value };
      },
      (error: unknown) => this.options.logger.warn({ err: error }, 'dashboard: could not gather transfer counters'),
    ).finally(() => {
      this.fetchingTransfers = false;
    });
  }
}
