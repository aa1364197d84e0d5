/**
 * The node's side of outgoing internode requests: sends through the Transport, feeds every
 * outcome to the failure detector, and validates the reply. Callers get a parsed Reply (an
 * `error` reply included) or a TransportError; they never see a peer's raw data.
 */
import type { Logger } from '../ports/logger.ts';
import { TransportError, type NodeId, type RequestOptions, type Transport } from '../ports/transport.ts';
import type { FailureDetector } from './failureDetector.ts';
import { BadMessageError, parseReply, toWire, type Message, type Reply } from './protocol.ts';

/** A request given less time than this that times out does not count against the peer. */
export const JUDGED_TIMEOUT_MS_MIN = 100;

export class PeerClient {
  constructor(
    private readonly transport: Transport,
    private readonly detector: FailureDetector,
    private readonly logger: Logger,
  ) {}

  /** Resolves with the peer's validated reply; rejects with a TransportError. */
  request(to: NodeId, message: Message, timeoutMs: number, options?: RequestOptions): Promise<Reply> {
    let sent: Promise<unknown>;
    const budgetMs = Math.max(1, Math.ceil(timeoutMs));
    const sentAtMs = this.detector.sent(to);
    try {
      sent = options === undefined ? this.transport.request(to, toWire(message), budgetMs) : this.transport.request(to, toWire(message), budgetMs, options);
    } catch (error) {
      sent = Promise.reject(error);
    }
    return sent.then(
      (raw) => this.received(to, message, raw, sentAtMs),
      (error: unknown) => {
        throw this.failed(to, error, budgetMs, sentAtMs);
      },
    );
  }

  private received(from: NodeId, message: Message, raw: unknown, sentAtMs: number): Reply {
    this.detector.answered(from, sentAtMs);
    try {
      return parseReply(raw);
    } catch (error) {
      const reason = error instanceof BadMessageError ? error.message : String(error);
      this.logger.warn({ peer: from, request: message.type, reason }, 'refused a malformed reply from a peer');
      throw new TransportError('BAD_MESSAGE', reason, { cause: error, mayHaveArrived: true });
    }
  }

  private failed(to: NodeId, error: unknown, budgetMs: number, sentAtMs: number): TransportError {
    const failure =
      error instanceof TransportError ? error : new TransportError('REMOTE_ERROR', `request to ${to} failed: ${String(error)}`, { cause: error });
    // The peer's handler failed: it is up. A timeout on a budget too short for any peer to
    // answer in (the tail of a spent request deadline) says nothing about the peer. Any
    // other failure is the detector's to judge.
    if (failure.code === 'REMOTE_ERROR') this.detector.answered(to, sentAtMs);
    else this.detector.failed(to, failure, failure.code !== 'TIMEOUT' || budgetMs >= JUDGED_TIMEOUT_MS_MIN);
    return failure;
  }
}

/** A one-line reason for a failed peer request: an error, or an error reply. */
export function describeFailure(failure: unknown): string {
  if (failure instanceof Error) return failure.message;
  if (typeof failure === 'object' && failure !== null && 'type' in failure) {
    const reply = failure as Reply;
    return reply.type === 'error' ? `${reply.code}: ${reply.message}` : `unexpected ${reply.type} reply`;
  }
  return String(failure);
}
