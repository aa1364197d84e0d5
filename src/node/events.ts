/**
 * Hooks a node calls as things happen, for metrics (the runtime wires them to prom-client;
 * the simulator and tests may leave them out). A throwing hook never disturbs the node.
 */
import type { BufferEvents } from '../ports/replica.ts';
import type { PeerStatus } from './failureDetector.ts';
import type { MessageType } from './protocol.ts';

export type ForwardOutcome = 'answered' | 'failed-over' | 'hedged' | 'coordinated-locally';
export type QuorumFailure = 'unreachable' | 'timeout';

export interface NodeEvents {
  /** Hooks for the node's object buffer (flushes, engine errors, waits). */
  readonly store?: BufferEvents;
  /** A client request this node could not coordinate was forwarded (per attempt outcome). */
  onForward?(outcome: ForwardOutcome): void;
  /** A request failed its quorum. */
  onQuorumFailure?(operation: 'read' | 'write', reason: QuorumFailure): void;
  /** A coordinator also asked `stand-ins` spares for targets that had not answered within the hedge delay. */
  onHedge?(operation: 'read' | 'write', standIns: number): void;
  /** Read repair sent the reconciled object to `replicas` stale replicas. */
  onReadRepair?(replicas: number): void;
  /** This node stored a hint for a down primary. */
  onHintStored?(): void;
  /** A hint was handed back to its owner (`delivered`) or the attempt failed. */
  onHintDelivery?(outcome: 'delivered' | 'failed'): void;
  /** A peer changed status in this node's failure detector. */
  onPeerStatus?(peer: string, status: PeerStatus): void;
  /** A gossip exchange ended: the peer's state changed ours, was the same, or the exchange failed. */
  onGossip?(outcome: 'changed' | 'same' | 'failed'): void;
  /** A peer's request was answered (`error`: it did not validate, or the node answered with an error). */
  onInternodeRequest?(type: MessageType | 'invalid', outcome: 'ok' | 'error'): void;
}

/** Runs a hook; metrics must never break the node. */
export function emit(hook: () => void): void {
  try {
    hook();
  } catch {
    // a broken metrics hook is not the request's problem
  }
}
