/**
 * Local, decentralised failure detection (paper 4.8.3): each node keeps its own opinion of
 * every peer, formed only from its own traffic with it.
 *
 * Per peer, a three-state machine:
 *   up      --a request to it timed out-->                          suspect
 *   up      --no connection could be had (refused, reset)-->        down
 *   suspect --another request failed-->                             down
 *   suspect, down --any request to it (a probe, usually) was answered--> up
 * Every peer starts up (optimistic). A timeout makes a peer suspect: coordinators skip it
 * at once (sloppy quorum; one slow reply should not cost every request a timeout), but it
 * is not yet judged dead, and the first answer to a probe brings it back; a second failure
 * in a row, or a refused connection, marks it down. A peer that answers with an error is up
 * (it answered); an OVERLOADED or CLOSED failure is about our own side, so it changes
 * nothing. Suspect and down peers are probed with a ping every probeIntervalMs (Prober in
 * node/prober.ts). Gossip exchanges are
 * requests too, so a quiet cluster still learns when a peer dies or returns. Being down
 * here never changes the membership: only an explicit remove does.
 *
 * The transitions are pure functions; FailureDetector only holds the current states.
 */
import type { NodeId, TransportErrorCode } from '../ports/transport.ts';

export type PeerStatus = 'up' | 'suspect' | 'down';

export interface PeerState {
  readonly status: PeerStatus;
  /** Wall-clock ms (the node's Clock) of the last status change, or of the start. */
  readonly sinceMs: number;
  /** Why the peer was last marked down (kept after it comes back, for operators). */
  readonly lastError: string | undefined;
  /** Failed requests in a row (0 after any answer). */
  readonly failures: number;
}

/** A failed request as the failure detector sees it. */
export interface PeerFailure {
  readonly code: TransportErrorCode;
  readonly message: string;
}

const COUNTS_AS_FAILURE: ReadonlySet<TransportErrorCode> = new Set<TransportErrorCode>(['TIMEOUT', 'UNREACHABLE']);

export function initialPeerState(nowMs: number): PeerState {
  return { status: 'up', sinceMs: nowMs, lastError: undefined, failures: 0 };
}

/** The peer answered (with anything: an error reply is an answer too). */
export function peerAnswered(state: PeerState, nowMs: number): PeerState {
  switch (state.status) {
    case 'up':
      return state.failures === 0 ? state : { ...state, failures: 0 };
    case 'suspect':
    case 'down':
      return { status: 'up', sinceMs: nowMs, lastError: state.lastError, failures: 0 };
  }
}

/** A request to the peer failed. */
export function peerFailed(state: PeerState, nowMs: number, failure: PeerFailure): PeerState {
  if (!COUNTS_AS_FAILURE.has(failure.code)) return state;
  const lastError = `${failure.code}: ${failure.message}`;
  const failures = state.failures + 1;
  switch (state.status) {
    case 'up':
      return { status: failure.code === 'TIMEOUT' ? 'suspect' : 'down', sinceMs: nowMs, lastError, failures };
    case 'suspect':
      return { status: 'down', sinceMs: nowMs, lastError, failures };
    case 'down':
      return { ...state, lastError, failures };
  }
}

export interface PeerView extends PeerState {
  readonly id: NodeId;
}

export type PeerStatusListener = (peer: NodeId, state: PeerState) => void;

/** The current state of every peer, updated by the node's requests. */
export class FailureDetector {
  private readonly states = new Map<NodeId, PeerState>();
  private readonly upNodes = new Set<NodeId>();

  constructor(
    private readonly self: NodeId,
    peers: readonly NodeId[],
    private readonly nowMs: () => number,
    private readonly onChange: PeerStatusListener = () => {},
  ) {
    this.upNodes.add(self);
    this.setPeers(peers);
  }

  /** Follows the membership: new peers start up, departed ones are forgotten. */
  setPeers(peers: Iterable<NodeId>): void {
    const wanted = new Set(peers);
    wanted.delete(this.self);
    for (const peer of [...this.states.keys()]) {
      if (wanted.has(peer)) continue;
      this.states.delete(peer);
      this.upNodes.delete(peer);
    }
    for (const peer of wanted) {
      if (this.states.has(peer)) continue;
      this.states.set(peer, initialPeerState(this.nowMs()));
      this.upNodes.add(peer);
    }
  }

  /** This node and every peer currently believed up (a live set: do not keep it across events). */
  get up(): ReadonlySet<NodeId> {
    return this.upNodes;
  }

  isUp(node: NodeId): boolean {
    return this.upNodes.has(node);
  }

  /** Peers currently marked down, in id order. */
  downPeers(): NodeId[] {
    return [...this.states].filter(([, state]) => state.status === 'down').map(([id]) => id).sort();
  }

  /** Peers suspect or down (the prober's work), in id order. */
  doubtedPeers(): NodeId[] {
    return [...this.states].filter(([, state]) => state.status !== 'up').map(([id]) => id).sort();
  }

  answered(peer: NodeId): void {
    this.update(peer, (state) => peerAnswered(state, this.nowMs()));
  }

  failed(peer: NodeId, failure: PeerFailure): void {
    this.update(peer, (state) => peerFailed(state, this.nowMs(), failure));
  }

  /** Every peer's state, in id order. */
  view(): PeerView[] {
    return [...this.states].map(([id, state]) => ({ id, ...state })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private update(peer: NodeId, transition: (state: PeerState) => PeerState): void {
    const state = this.states.get(peer);
    if (state === undefined) return; // not a member (a stranger's traffic changes nothing)
    const next = transition(state);
    if (next === state) return;
    this.states.set(peer, next);
    if (next.status === state.status) return;
    if (next.status === 'up') this.upNodes.add(peer);
    else this.upNodes.delete(peer);
    this.onChange(peer, next);
  }
}
