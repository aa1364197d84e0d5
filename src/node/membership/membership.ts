/**
 * This node's copy of the cluster state (core/membership): loaded from the metadata store
 * at start (or founded from the config on the first start), replaced by merges with what
 * gossip brings and by local changes (plans, transfers done), persisted after each change,
 * and turned into the ClusterView every request reads.
 *
 * Listeners hear every new view synchronously, so the transport, the failure detector and
 * the background tasks follow the membership in the same turn as the change.
 */
import { decodeState, encodeState } from '../../core/membership/codec.ts';
import { mergeStates, type ClusterState } from '../../core/membership/state.ts';
import type { Logger } from '../../ports/logger.ts';
import type { JsonValue, MetaStore } from '../../ports/storage.ts';
import { initialClusterState, viewOfState, type ClusterView } from '../cluster.ts';
import type { NodeConfig } from '../config.ts';

/** The MetaStore record holding the persisted cluster state. */
export const MEMBERSHIP_RECORD = 'membership';

export type ViewListener = (view: ClusterView, previous: ClusterView) => void;

export class Membership {
  private current: ClusterView;
  private encoded: string;
  private persisting: Promise<void> = Promise.resolve();
  private readonly listeners: ViewListener[] = [];

  private constructor(
    private readonly config: NodeConfig,
    private readonly meta: MetaStore,
    private readonly logger: Logger,
    state: ClusterState,
  ) {
    this.current = viewOfState(config.id, state, config);
    this.encoded = JSON.stringify(encodeState(state));
  }

  /** The persisted state, or (first start) the one the config founds, persisted at once. */
  static async open(config: NodeConfig, meta: MetaStore, logger: Logger): Promise<Membership> {
    const stored = meta.get(MEMBERSHIP_RECORD);
    const state = stored === undefined ? initialClusterState(config) : decodeState(stored);
    if (state.clusterName !== config.clusterName) {
      throw new Error(`the data directory belongs to cluster ${JSON.stringify(state.clusterName)}, the config names ${JSON.stringify(config.clusterName)}`);
    }
    const membership = new Membership(config, meta, logger, state);
    if (stored === undefined) await membership.persist();
    return membership;
  }

  get state(): ClusterState {
    return this.current.state;
  }

  get view(): ClusterView {
    return this.current;
  }

  onView(listener: ViewListener): void {
    this.listeners.push(listener);
  }

  /** Merges a peer's state in; resolves true (once persisted) when it changed ours. */
  merge(incoming: ClusterState): Promise<boolean> {
    return this.adopt(mergeStates(this.state, incoming));
  }

  /**
   * Makes `next` this node's state when it differs; resolves true once it is persisted.
   * The caller computed `next` from the current state (a merge, a plan, a transfer done),
   * or is a joiner adopting the cluster it joined.
   */
  adopt(next: ClusterState): Promise<boolean> {
    const encoded = JSON.stringify(encodeState(next));
    if (encoded === this.encoded) return Promise.resolve(false);
    const previous = this.current;
    this.current = viewOfState(this.config.id, next, this.config);
    this.encoded = encoded;
    if (next.ringVersion !== previous.state.ringVersion) {
      this.logger.info({ ringVersion: next.ringVersion, change: next.change?.kind, member: next.change?.member }, 'ring changed');
    }
    for (const listener of this.listeners) listener(this.current, previous);
    return this.persist().then(() => true);
  }

  /** Resolves once every state adopted so far is persisted. */
  flushed(): Promise<void> {
    return this.persisting;
  }

  // One write at a time, always of the latest state: a burst of changes costs one or two.
  private persist(): Promise<void> {
    const next = this.persisting.then(() => this.meta.put(MEMBERSHIP_RECORD, JSON.parse(this.encoded) as JsonValue));
    this.persisting = next.catch((error: unknown) => {
      this.logger.error({ err: error }, 'could not persist the cluster state');
    });
    return next;
  }
}
