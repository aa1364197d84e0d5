/**
 * The internode transport: request/reply between cluster members.
 *
 * Production uses TCP with length-prefixed msgpack frames (io/tcpTransport.ts); the
 * simulator delivers messages through its own network, which decides every delay, drop,
 * duplicate and partition. The node never sees which one it has.
 *
 * Messages are plain data (objects, arrays, strings, numbers, booleans, Uint8Array), so
 * every transport can encode them; the receiver validates what it gets.
 */

export type NodeId = string;

/**
 * What the sender of a request proved to be. With TLS it is read from the certificate the
 * sender's connection presented (io/tcpTransport.ts): a cluster node, or a client in
 * client-coordinated mode, which may do only what a client may. Without TLS every sender is
 * taken for a node, on its word.
 */
export type PeerRole = 'node' | 'client';

/** Answers one request from a peer; a rejection travels back as a REMOTE_ERROR. */
export type RequestHandler = (from: NodeId, message: unknown, role: PeerRole) => Promise<unknown>;

export interface Transport {
  /** This node's id, as the peers know it. */
  readonly localId: NodeId;
  /**
   * Sends `message` to `to` and resolves with its reply. Rejects with a TransportError:
   * TIMEOUT after `timeoutMs`, UNREACHABLE when no connection can be had, OVERLOADED when
   * the peer's outbound queue is full (fails fast instead of growing memory), CLOSED after
   * close(), REMOTE_ERROR when the peer's handler failed.
   */
  request(to: NodeId, message: unknown, timeoutMs: number, options?: RequestOptions): Promise<unknown>;
  /**
   * Sends one request to whoever listens at `address` (a seed whose id this node does not
   * know yet: joins) and resolves with the answering node's id and its reply. Same errors
   * as request(); a node of another cluster is refused at the handshake (UNREACHABLE with
   * the reason).
   */
  requestAt(address: PeerAddress, message: unknown, timeoutMs: number): Promise<AddressedReply>;
  /**
   * Installs the handler for requests from peers (one per transport). Requests from nodes
   * of the same cluster that are not (yet) in setPeers are served too: a member this node
   * has not heard of through gossip yet, or a node asking to join; the handler decides.
   */
  serve(handler: RequestHandler): void;
  /** Where each peer is reached (membership may change it later). */
  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void;
  close(): Promise<void>;
}

export interface RequestOptions {
  /**
   * A probe of a peer believed down (node/prober.ts): it dials even while the peer's link
   * waits out a reconnect backoff, so a healed peer is found within one probe round rather
   * than after the backoff (which only keeps ordinary requests from dialling in a storm).
   */
  readonly probe?: boolean;
}

export interface AddressedReply {
  readonly from: NodeId;
  readonly reply: unknown;
}

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export type TransportErrorCode = 'TIMEOUT' | 'UNREACHABLE' | 'OVERLOADED' | 'CLOSED' | 'REMOTE_ERROR' | 'BAD_MESSAGE';

export class TransportError extends Error {
  /**
   * The request may have reached the peer, and been handled there, before it failed: it
   * timed out, or its connection was lost while it was pending, or its reply was malformed.
   * False when it certainly never left (no connection, a full queue, a closed transport).
   * A write failing so must not be sent anywhere else: it may have been applied.
   */
  readonly mayHaveArrived: boolean;

  constructor(
    readonly code: TransportErrorCode,
    message: string,
    options?: { cause?: unknown; mayHaveArrived?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransportError';
    this.mayHaveArrived = code === 'TIMEOUT' || options?.mayHaveArrived === true;
  }
}
