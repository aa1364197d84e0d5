/**
 * Forwarding (paper 4.5): a node that is not among a key's top N primaries hands the whole
 * client request to the first of them it believes up, so the new version's dot is issued
 * by a primary. An explicit state machine:
 *
 *   forwarding    attempts in preference-list order. An attempt gets min(forwardTimeoutMs,
 *                 the time left); the receiver is told to answer a little sooner, so a slow
 *                 quorum there comes back as a clear 503 rather than a transport timeout here.
 *                 - An attempt silent past the hedge delay (hedge.ts) is hedged: the next
 *                   candidate is asked too, and the first answer wins.
 *                 - A transport failure, or an error reply saying the receiver could not
 *                   coordinate it (stopping, overloaded, storage, too few replicas up in
 *                   its view, out of time), moves on to the next candidate: another node's
 *                   view of the replicas may well reach the quorum (a receiver that has not
 *                   yet seen a peer come back answers 503 at once).
 *                 - A success, or a refusal of the request itself (4xx), is final (once no
 *                   other attempt is still pending).
 *                 When no candidate is left, this node coordinates itself (sloppy quorum; it
 *                 stands in for a primary, see targets.ts), as one more attempt.
 *   done
 * Writes are hedged too, later (at hedgeDelayMaxMs, or half the time left): a forward's
 * answer waits for a whole coordination, and every hedge is a second copy to store. A
 * write may so be coordinated twice, by two primaries under two dots; it carries a write id
 * minted here, so the copies show as one version and a copy arriving where another was
 * superseded is dropped (core/object.ts). For the same reason a write that timed out, or
 * whose connection was lost while pending, fails over to the next candidate like a read.
 * A forwarded request is always coordinated by its receiver, never forwarded again, so
 * nodes with different views of the ring cannot bounce a request between them.
 */
import type { StoredObject } from '../../core/object.ts';
import { decodeObject } from '../../storage/objectCodec.ts';
import type { Deadline } from '../deadline.ts';
import { RequestError, RequestTimeoutError, type RequestErrorCode } from '../errors.ts';
import { emit } from '../events.ts';
import type { ErrorReply, ForwardMessage, Reply, ReplyErrorCode } from '../protocol.ts';
import { describeFailure } from '../peerClient.ts';
import type { TimerHandle } from '../../ports/clock.ts';
import type { RoutingDeps } from './deps.ts';
import { hedgeDelayMs } from './hedge.ts';

/** The receiver of a forward answers this much before the sender's attempt times out, at most. */
export const FORWARD_REPLY_MARGIN_MS = 50;

export type ForwardState = 'forwarding' | 'done';

/** Error codes after which the request is final: the receiver refused it for good. */
const FINAL_CODES: ReadonlySet<ReplyErrorCode> = new Set<ReplyErrorCode>([
  'KEY_EMPTY',
  'KEY_TOO_LONG',
  'VALUE_TOO_LARGE',
  'CONTENT_TYPE_INVALID',
  'CONTEXT_INVALID',
  'REQUEST_OPTION_INVALID',
  'TOO_MANY_SIBLINGS',
]);

/** A coordinated request's answer, and the replica a later write of the key should go to (paper 4.5). */
export interface Coordinated {
  readonly object: StoredObject | undefined;
  readonly nextCoordinator: string | undefined;
}

export interface ForwardPlan {
  /** The primaries to try, in order (this node excluded). */
  readonly candidates: readonly string[];
  /** The request as sent (its timeoutMs is set per attempt). */
  readonly message: Omit<ForwardMessage, 'timeoutMs'>;
  readonly deadline: Deadline;
  /** Coordinates here with the time given, when no candidate took the request. */
  readonly coordinateLocally: (timeoutMs: number) => Promise<Coordinated>;
}

/** Resolves with the coordinator's answer: the object read, or the object after the write. */
export function forwardRequest(deps: RoutingDeps, plan: ForwardPlan): Promise<Coordinated> {
  return new Forwarder(deps, plan).start();
}

class Forwarder {
  private state: ForwardState = 'forwarding';
  private next = 0;
  /** Attempts sent and not answered yet (this node's own coordination included). */
  private pending = 0;
  private hedges = 0;
  private coordinatingHere = false;
  private hedgeTimer: TimerHandle | undefined;
  /** The final answer of an attempt that came while another was still pending. */
  private finalError: unknown;
  private resolve: (answer: Coordinated) => void = () => {};
  private reject: (error: unknown) => void = () => {};

  constructor(
    private readonly deps: RoutingDeps,
    private readonly plan: ForwardPlan,
  ) {}

  start(): Promise<Coordinated> {
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.attempt();
    });
  }

  private get isWrite(): boolean {
    return this.plan.message.op !== 'get';
  }

  private attempt(): void {
    if (this.state !== 'forwarding') return;
    const remainingMs = this.plan.deadline.remainingMs();
    if (remainingMs <= 0) return this.settleIdle(new RequestTimeoutError(this.plan.deadline.timeoutMs));
    const candidate = this.nextCandidate();
    if (candidate === undefined) {
      if (!this.coordinatingHere) return this.coordinateHere(remainingMs);
      return this.settleIdle(new RequestTimeoutError(this.plan.deadline.timeoutMs));
    }
    const attemptMs = Math.min(this.deps.config.forwardTimeoutMs, remainingMs);
    // Whole milliseconds on the wire (clocks may be fractional, the protocol says integer).
    const timeoutMs = Math.max(1, Math.floor(attemptMs - Math.min(FORWARD_REPLY_MARGIN_MS, attemptMs / 4)));
    const message: ForwardMessage = { ...this.plan.message, timeoutMs };
    this.pending++;
    this.deps.peers.request(candidate, message, attemptMs).then(
      (reply) => this.answered(candidate, reply),
      (error: unknown) => this.attemptFailed(candidate, error),
    );
    this.armHedge(candidate, remainingMs);
  }

  private armHedge(candidate: string, remainingMs: number): void {
    if (this.hedges >= this.plan.candidates.length) return;
    const delayMs = this.isWrite ? writeHedgeDelayMs(this.deps.config, remainingMs) : hedgeDelayMs(this.deps.detector, this.deps.config, [candidate], remainingMs);
    if (delayMs === undefined) return;
    if (this.hedgeTimer !== undefined) this.deps.clock.clearTimer(this.hedgeTimer);
    this.hedgeTimer = this.deps.clock.setTimer(delayMs, () => this.hedgeDue(candidate));
  }

  /** The attempt is silent past its hedge delay: the next candidate is asked too. */
  private hedgeDue(candidate: string): void {
    this.hedgeTimer = undefined;
    if (this.state !== 'forwarding' || this.pending === 0) return;
    this.deps.detector.checkSilence(candidate);
    this.hedges++;
    emit(() => this.deps.events.onForward?.('hedged'));
    this.attempt();
  }

  private answered(candidate: string, reply: Reply): void {
    this.pending--;
    if (this.state !== 'forwarding') return;
    switch (reply.type) {
      case 'object':
        return this.succeeded(candidate, reply.object, reply.nextCoordinator);
      case 'error':
        // WRITE_DUPLICATE: a copy of this forward reached the receiver first and is being (or
        // was) coordinated there; its answer is lost, so the next candidate is asked (the
        // write id keeps a second application to one version).
        if (FINAL_CODES.has(reply.code)) {
          emit(() => this.deps.events.onForward?.('answered'));
          return this.finalAnswer(errorOf(reply));
        }
        return this.failedOver(candidate, reply);
      case 'ack':
      case 'pong':
        return this.failedOver(candidate, reply);
    }
  }

  private succeeded(candidate: string, bytes: Uint8Array | undefined, nextCoordinator: string | undefined): void {
    let object: StoredObject | undefined;
    try {
      object = bytes === undefined ? undefined : decodeObject(bytes);
    } catch (error) {
      return this.failedOver(candidate, error);
    }
    emit(() => this.deps.events.onForward?.('answered'));
    this.done();
    this.resolve({ object, nextCoordinator: nextCoordinator ?? candidate });
  }

  private attemptFailed(candidate: string, error: unknown): void {
    this.pending--;
    if (this.state !== 'forwarding') return;
    this.failedOver(candidate, error);
  }

  private failedOver(candidate: string, error: unknown): void {
    emit(() => this.deps.events.onForward?.('failed-over'));
    this.deps.logger.debug({ peer: candidate, reason: describeFailure(error) }, 'forward failed; trying the next primary');
    this.attempt();
  }

  private coordinateHere(remainingMs: number): void {
    this.coordinatingHere = true;
    this.pending++;
    emit(() => this.deps.events.onForward?.('coordinated-locally'));
    this.plan.coordinateLocally(remainingMs).then(
      (answer) => {
        this.pending--;
        if (this.state !== 'forwarding') return;
        this.done();
        this.resolve(answer);
      },
      (error: unknown) => {
        this.pending--;
        if (this.state === 'forwarding') this.finalAnswer(error);
      },
    );
  }

  /** A final answer ends the request, unless another attempt may still succeed. */
  private finalAnswer(error: unknown): void {
    this.finalError ??= error;
    if (this.pending === 0) this.finish(this.finalError);
  }

  /** Nothing left to try: ends the request once no attempt is pending. */
  private settleIdle(error: unknown): void {
    if (this.pending === 0) this.finish(this.finalError ?? error);
  }

  private finish(error: unknown): void {
    this.done();
    this.reject(error);
  }

  private done(): void {
    this.state = 'done';
    if (this.hedgeTimer !== undefined) this.deps.clock.clearTimer(this.hedgeTimer);
    this.hedgeTimer = undefined;
  }

  /** The next candidate the failure detector believes up. */
  private nextCandidate(): string | undefined {
    const { candidates } = this.plan;
    while (this.next < candidates.length) {
      const candidate = candidates[this.next++] as string;
      if (this.deps.detector.isUp(candidate)) return candidate;
    }
    return undefined;
  }
}

/** When a forwarded write is hedged, ms: the cap of the hedge delay (see the file comment); undefined when too late to help. */
function writeHedgeDelayMs(config: RoutingDeps['config'], remainingMs: number): number | undefined {
  const delayMs = Math.min(config.hedgeDelayMaxMs, remainingMs / 2);
  return delayMs < config.hedgeDelayMinMs ? undefined : delayMs;
}

/** The typed error a forwarded request's final error reply (a refusal, FINAL_CODES) stands for. */
function errorOf(reply: ErrorReply): RequestError {
  return new RequestError(reply.code as RequestErrorCode, reply.message);
}
