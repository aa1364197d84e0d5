/**
 * One outbound request from `request()` until it settles: its packed payload, its timer,
 * and where it waits (a peer link before a connection is open, then that connection's
 * table of pending ids). Settling is idempotent, so a reply racing a timeout or a close
 * settles it exactly once and always releases its timer and its in-flight slot.
 */
import type { Clock, TimerHandle } from '../ports/clock.ts';
import { TransportError } from '../ports/transport.ts';

/** Where a request waits; a request that settles early (timeout) removes itself. */
export interface RequestHome {
  forget(request: OutboundRequest): void;
}

/** A peer's count of unsettled requests, held against inflightRequestsMax. */
export interface InflightCounter {
  inflightRequests: number;
}

export class OutboundRequest {
  /** The request id on its connection; 0 until written to one. */
  id = 0;
  home: RequestHome | undefined = undefined;
  private timer: TimerHandle | undefined = undefined;
  private settled = false;

  constructor(
    readonly peerId: string,
    /** The packed message (msgpack), without frame header. */
    readonly payload: Buffer,
    private readonly counter: InflightCounter,
    private readonly clock: Clock,
    private readonly resolveFn: (value: unknown) => void,
    private readonly rejectFn: (error: TransportError) => void,
  ) {
    counter.inflightRequests++;
  }

  startTimer(timeoutMs: number): void {
    this.timer = this.clock.setTimer(timeoutMs, () => this.expire(timeoutMs));
  }

  resolve(value: unknown): void {
    if (this.finish()) this.resolveFn(value);
  }

  reject(error: TransportError): void {
    if (this.finish()) this.rejectFn(error);
  }

  private expire(timeoutMs: number): void {
    this.timer = undefined;
    this.home?.forget(this);
    this.reject(new TransportError('TIMEOUT', `request to ${this.peerId} timed out after ${timeoutMs} ms`));
  }

  /** True the first time only: the caller then delivers the outcome. */
  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.home = undefined;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.counter.inflightRequests--;
    return true;
  }
}
