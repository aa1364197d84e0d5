/**
 * What one node's own traffic shows of one peer's responsiveness: the evidence behind the
 * failure detector's latency-based suspicion (failureDetector.ts) and the coordinators'
 * hedge delays (coordinator/hedge.ts).
 *
 * - Round-trip estimate: the smoothed round trip and its mean deviation, updated per answer
 *   with the gains of RFC 6298 (1/8 and 1/4, after Jacobson and Karels 1988). An answer
 *   is expected within `srtt + 4 * rttvar` (RFC 6298's retransmission timeout, before its
 *   one-second floor).
 * - Silence: how long requests have been waiting on the peer with no answer at all: from
 *   the later of its last answer and the first request sent after it. A peer that is slow
 *   still answers something now and then; a peer that cannot hear us (a one-way partition,
 *   a paused process) answers nothing, and its silence grows.
 * - Suspicion: the silence in units of the expected round trip (an accrual level, in the
 *   spirit of Hayashibara et al.'s phi detector, 2004, and Cassandra's use of it): 0 while
 *   nothing waits, growing without bound while requests go unanswered.
 *
 * Times are the Clock port's monotonic milliseconds. Mutable, one per peer, owned by the
 * FailureDetector: this runs for every internode request, so nothing is allocated per call.
 */

/** RFC 6298's gains: the new sample's weight in the smoothed round trip and in its deviation. */
const SRTT_GAIN = 1 / 8;
const RTTVAR_GAIN = 1 / 4;
/** RFC 6298's multiplier of the deviation in the expected reply time. */
const RTTVAR_WEIGHT = 4;

export interface PeerEvidence {
  /** Smoothed round trip, ms (undefined before the first answer). */
  readonly rttMs: number | undefined;
  /** Mean deviation of the round trip, ms. */
  readonly rttVarMs: number | undefined;
  /** Answers measured. */
  readonly samples: number;
  /** Requests sent and not yet answered or failed. */
  readonly inFlight: number;
  /** How long requests have waited on it with no answer, ms (0 when nothing waits). */
  readonly silentMs: number;
  /** silentMs in units of the expected reply time (0 when nothing waits). */
  readonly suspicion: number;
}

export class PeerTraffic {
  private srttMs = 0;
  private rttVarMs = 0;
  private samples = 0;
  private inFlight = 0;
  /** Monotonic ms since which requests have waited with no answer (-1: nothing waits). */
  private quietSinceMs = -1;

  /** A request was sent to the peer at `nowMs`. */
  sent(nowMs: number): void {
    this.inFlight++;
    if (this.quietSinceMs < 0) this.quietSinceMs = nowMs;
  }

  /** The peer answered, `rttMs` after the request was sent (undefined: not measured). */
  answered(nowMs: number, rttMs: number | undefined): void {
    this.settle();
    this.quietSinceMs = this.inFlight > 0 ? nowMs : -1;
    if (rttMs !== undefined) this.addSample(Math.max(0, rttMs));
  }

  /** A request ended without an answer (it failed, or timed out). The silence goes on. */
  unanswered(): void {
    this.settle();
    if (this.inFlight === 0) this.quietSinceMs = -1;
  }

  /** When an answer is due: srtt + 4 rttvar, or `fallbackMs` before the first answer. */
  expectedReplyMs(fallbackMs: number): number {
    return this.samples === 0 ? fallbackMs : this.srttMs + RTTVAR_WEIGHT * this.rttVarMs;
  }

  silentMs(nowMs: number): number {
    return this.quietSinceMs < 0 ? 0 : Math.max(0, nowMs - this.quietSinceMs);
  }

  /** The silence in expected reply times; `floorMs` keeps a sub-millisecond estimate from making every pause look long. */
  suspicion(nowMs: number, floorMs: number): number {
    return this.silentMs(nowMs) / Math.max(floorMs, this.expectedReplyMs(floorMs));
  }

  evidence(nowMs: number, floorMs: number): PeerEvidence {
    const measured = this.samples > 0;
    return {
      rttMs: measured ? round(this.srttMs) : undefined,
      rttVarMs: measured ? round(this.rttVarMs) : undefined,
      samples: this.samples,
      inFlight: this.inFlight,
      silentMs: round(this.silentMs(nowMs)),
      suspicion: round(this.suspicion(nowMs, floorMs)),
    };
  }

  private settle(): void {
    if (this.inFlight > 0) this.inFlight--;
  }

  private addSample(rttMs: number): void {
    if (this.samples === 0) {
      this.srttMs = rttMs;
      this.rttVarMs = rttMs / 2;
    } else {
      this.rttVarMs += RTTVAR_GAIN * (Math.abs(this.srttMs - rttMs) - this.rttVarMs);
      this.srttMs += SRTT_GAIN * (rttMs - this.srttMs);
    }
    this.samples++;
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
