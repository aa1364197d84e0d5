/**
 * The transport's state per peer, and the two rules that keep it to one connection and
 * pace its redials.
 *
 *   idle ──request──▶ dialling ──peer's hello──▶ connected
 *                       │  └──goodbye DUPLICATE──▶ awaitingInbound ──peer dials──▶ connected
 *                       └──failure──▶ backoff ──(retryAtMs passed) request──▶ dialling
 *   any state ──peer's connection adopted──▶ connected;  connected ──failure──▶ backoff
 *   (new link) ──the node's already open connection adopted──▶ connected
 */
import type { TimerHandle } from '../ports/clock.ts';
import type { NodeId, PeerAddress } from '../ports/transport.ts';
import type { Hello } from './frameCodec.ts';
import type { Connection } from './tcpConnection.ts';
import type { InflightCounter, OutboundRequest, RequestHome } from './tcpRequest.ts';

export type LinkState = 'idle' | 'dialling' | 'awaitingInbound' | 'connected' | 'backoff';

export class PeerLink implements RequestHome, InflightCounter {
  state: LinkState = 'idle';
  /** Our dial in progress, or the open connection (either direction). */
  connection: Connection | undefined = undefined;
  /** Requests waiting for a connection to open, in order; at most outboundQueueFramesMax. */
  readonly waiting: OutboundRequest[] = [];
  inflightRequests = 0;
  /** Consecutive failures since the last open connection (drives the backoff). */
  failures = 0;
  /** Monotonic time before which no redial happens (state backoff). */
  retryAtMs = 0;
  lastFailure = '';
  /** The awaitingInbound deadline. */
  timer: TimerHandle | undefined = undefined;

  constructor(
    readonly peerId: NodeId,
    public address: PeerAddress,
  ) {}

  forget(request: OutboundRequest): void {
    const index = this.waiting.indexOf(request);
    if (index >= 0) this.waiting.splice(index, 1);
  }

  /** Empties the waiting list (the caller settles what it returns). */
  takeWaiting(): OutboundRequest[] {
    return this.waiting.splice(0, this.waiting.length);
  }
}

export type InboundVerdict = 'adopt' | 'duplicate' | 'stale';

/** What a peer link holds when the peer's own connection arrives. */
export interface ExistingConnection {
  readonly open: boolean;
  readonly peerIncarnation: number;
  readonly peerDialSeq: number;
}

/**
 * Whether a connection the peer dialled (its hello `hello`) replaces what this side has.
 *
 * - Nothing: adopt it.
 * - An open connection, and the peer dialled this one no later than it settled on the
 *   open one (same incarnation, dial number not above the one it stated then): it is a
 *   leftover of a simultaneous dial that the peer has already abandoned, so refuse it.
 * - An open connection otherwise: the peer dialled after settling, so it has given the
 *   open one up (it saw it fail, or it restarted: new incarnation); adopt and replace.
 * - Our own dial still in progress: both sides dial at once; the connection dialled by the
 *   node with the smaller id wins, on both sides alike. If ours wins, the peer is told
 *   DUPLICATE and waits for our dial; otherwise we adopt theirs and abandon ours.
 */
export function inboundVerdict(localId: NodeId, existing: ExistingConnection | undefined, hello: Hello): InboundVerdict {
  if (existing === undefined) return 'adopt';
  if (existing.open) {
    const sameProcess = existing.peerIncarnation === hello.incarnation;
    return sameProcess && hello.dialSeq <= existing.peerDialSeq ? 'stale' : 'adopt';
  }
  return localId < hello.senderId ? 'duplicate' : 'adopt';
}

/**
 * The wait before redialling after `failures` consecutive failures: a ceiling doubling
 * from `minMs` up to `maxMs`, and a draw in [half the ceiling, the ceiling] ("equal
 * jitter") so peers that failed together do not redial together; never below `minMs`.
 * `random01` is a draw in [0, 1).
 */
export function backoffDelayMs(failures: number, minMs: number, maxMs: number, random01: number): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const ceilingMs = Math.min(maxMs, minMs * 2 ** exponent);
  return Math.max(minMs, Math.round(ceilingMs / 2 + (random01 * ceilingMs) / 2));
}
