/**
 * Local, decentralised failure detection (paper 4.8.3): each node keeps its own opinion of
 * every peer, formed only from its own traffic with it.
 *
 * Per peer, a three-state machine:
 *   up      --a request to it timed out-->                          suspect
 *   up      --no connection could be had (refused, reset)-->        down
 *   suspect --another request failed-->                             down
 *   suspect, down --any request to it (a probe, usually) was answered--> up
 *   up      --silent too long with requests waiting (latency)-->     suspect
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
 * Suspicion also comes from latency, before any timeout (peerTraffic.ts): a peer on which
 * requests have waited with no answer for `threshold` expected round trips (and at least
 * `silenceMsMin`) is suspect. Only answers to our own requests count: a peer that sends us
 * requests but never answers ours (a one-way partition) stays suspect, then down, for us.
 * Silence is looked at when another request is sent to the peer, when a coordinator is
 * about to hedge around it (coordinator/hedge.ts), and every probe round.
 *
 * The transitions are pure functions; FailureDetector only holds the current states.
 */
import type { NodeId, TransportErrorCode } from '../ports/transport.ts';
import { PeerTraffic, type PeerEvidence } from './peerTraffic.ts';

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

/** The peer has been silent, with requests waiting, for longer than its answers take. */
export function peerSilent(state: PeerState, nowMs: number, evidence: PeerEvidence): PeerState {
  if (state.status !== 'up') return state;
  const lastError = `SILENT: no answer for ${Math.round(evidence.silentMs)} ms with ${evidence.inFlight} requests waiting (suspicion ${evidence.suspicion.toFixed(1)})`;
  return { status: 'suspect', sinceMs: nowMs, lastError, failures: state.failures + 1 };
}

export interface PeerView extends PeerState {
  readonly id: NodeId;
  /** What this node's own traffic shows of the peer (peerTraffic.ts). */
  readonly evidence: PeerEvidence;
}

/** The detector's clock: wall time for the states, monotonic time for round trips and silences. */
export interface DetectorClock {
  nowMs(): number;
  monotonicMs(): number;
}

export interface SuspicionSettings {
  /** A peer is suspected for silence only after this long (also the floor of its expected reply time), ms. */
  readonly silenceMsMin: number;
  /** Suspected at this many expected reply times of silence. */
  readonly threshold: number;
}

/**
 * Cassandra convicts at phi 8 (phi_convict_threshold); here 8 expected replies of silence,
 * each already srtt + 4 rttvar, and never under 500 ms: well past any hedge delay
 * (coordinator/hedge.ts), so a peer is first hedged around, then suspected; and past the
 * event-loop stalls of a loaded machine (at 100 ms, a CI run under load suspected a live peer,
 * and a write with another node paused found too few up).
 */
export const SUSPICION_DEFAULTS: SuspicionSettings = { silenceMsMin: 500, threshold: 8 };

export type PeerStatusListener = (peer: NodeId, state: PeerState) => void;

/** The current state of every peer, updated by the node's requests. */
export class FailureDetector {
  private readonly states = new Map<NodeId, PeerState>();
  private readonly traffic = new Map<NodeId, PeerTraffic>();
  private readonly upNodes = new Set<NodeId>();
  private probeWanted: () => void = () => {};
  /** Called at the next peer that comes up; each waiter removes itself when it stops waiting, so the set is bounded by the requests in flight. */
  private readonly peerUpWaiters = new Set<() => void>();

  constructor(
    private readonly self: NodeId,
    peers: readonly NodeId[],
    private readonly clock: DetectorClock,
    private readonly onChange: PeerStatusListener = () => {},
    private readonly suspicion: SuspicionSettings = SUSPICION_DEFAULTS,
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
      this.traffic.delete(peer);
      this.upNodes.delete(peer);
    }
    for (const peer of wanted) {
      if (this.states.has(peer)) continue;
      this.states.set(peer, initialPeerState(this.clock.nowMs()));
      this.traffic.set(peer, new PeerTraffic());
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

  /**
   * A request to `peer` is being sent: returns the monotonic time to hand back with its
   * outcome. Another request to a peer already silent too long is when to suspect it.
   */
  sent(peer: NodeId): number {
    const nowMs = this.clock.monotonicMs();
    const traffic = this.traffic.get(peer);
    if (traffic === undefined) return nowMs;
    if (traffic.silentMs(nowMs) >= this.suspicion.silenceMsMin) this.checkSilence(peer);
    traffic.sent(nowMs);
    return nowMs;
  }

  /** The peer answered (a request sent at `sentAtMs`, from sent(), gives a round-trip sample). */
  answered(peer: NodeId, sentAtMs?: number): void {
    const nowMs = this.clock.monotonicMs();
    this.traffic.get(peer)?.answered(nowMs, sentAtMs === undefined ? undefined : nowMs - sentAtMs);
    this.update(peer, (state) => peerAnswered(state, this.clock.nowMs()));
  }

  /** A request failed; `judged` false: its outcome says nothing about the peer (see PeerClient). */
  failed(peer: NodeId, failure: PeerFailure, judged = true): void {
    this.traffic.get(peer)?.unanswered();
    if (judged) this.update(peer, (state) => peerFailed(state, this.clock.nowMs(), failure));
  }

  /** Who probes doubted peers on demand (the node's Prober). */
  onProbeWanted(hook: () => void): void {
    this.probeWanted = hook;
  }

  /** A request found too few peers up to try at all: doubted peers are worth probing now, not next round. */
  wantProbes(): void {
    this.probeWanted();
  }

  /** Calls `waiter` once, when some peer next comes up; returns what stops the wait. */
  onNextPeerUp(waiter: () => void): () => void {
    this.peerUpWaiters.add(waiter);
    return () => this.peerUpWaiters.delete(waiter);
  }

  /** When an answer from `peer` is due, ms: its round-trip estimate, or `fallbackMs` before any answer. */
  expectedReplyMs(peer: NodeId, fallbackMs: number): number {
    return this.traffic.get(peer)?.expectedReplyMs(fallbackMs) ?? fallbackMs;
  }

  /**
   * Suspects `peer` (or every up peer) if requests have waited on it too long with no
   * answer (see the file comment). Returns whether `peer` is still up.
   */
  checkSilence(peer?: NodeId): boolean {
    if (peer === undefined) {
      for (const id of this.upNodes) if (id !== this.self) this.checkSilence(id);
      return true;
    }
    const traffic = this.traffic.get(peer);
    if (traffic === undefined || !this.upNodes.has(peer)) return this.upNodes.has(peer);
    const nowMs = this.clock.monotonicMs();
    const { silenceMsMin, threshold } = this.suspicion;
    if (traffic.silentMs(nowMs) < silenceMsMin || traffic.suspicion(nowMs, silenceMsMin / threshold) < threshold) return true;
    const evidence = traffic.evidence(nowMs, silenceMsMin / threshold);
    this.update(peer, (state) => peerSilent(state, this.clock.nowMs(), evidence));
    return this.upNodes.has(peer);
  }

  /** Every peer's state and the evidence for it, in id order. */
  view(): PeerView[] {
    const nowMs = this.clock.monotonicMs();
    const floorMs = this.suspicion.silenceMsMin / this.suspicion.threshold;
    return [...this.states]
      .map(([id, state]) => ({ id, ...state, evidence: (this.traffic.get(id) as PeerTraffic).evidence(nowMs, floorMs) }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
    if (next.status === 'up' && this.peerUpWaiters.size > 0) {
      const waiters = [...this.peerUpWaiters];
      this.peerUpWaiters.clear();
      for (const waiter of waiters) waiter();
    }
  }
}
