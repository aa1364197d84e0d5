/**
 * Admission control for background work (paper 6.5): background tasks (anti-entropy, hint
 * delivery, partition transfers, tree rebuilds) get a share of the node that shrinks when
 * the foreground's recent p99 latency rises past a target and grows back when it falls.
 *
 * Pure: time comes in as arguments. The latency window is a ring of one-second buckets,
 * each a small log-scale histogram, so memory is fixed whatever the request rate and the
 * p99 over the window costs one pass over (window seconds x buckets) counters.
 */

export interface AdmissionSettings {
  /** The sliding window the foreground p99 is measured over. */
  readonly windowMs: number;
  /** Foreground p99 above this shrinks the background share. */
  readonly p99TargetMs: number;
  readonly shareMin: number;
  readonly shareMax: number;
  /** Multiplies the share when the p99 is over the target. */
  readonly decreaseFactor: number;
  /** Added to the share when the p99 is under the target. */
  readonly increaseStep: number;
}

export const ADMISSION_DEFAULTS: AdmissionSettings = Object.freeze({
  windowMs: 60_000,
  p99TargetMs: 50,
  shareMin: 0.05,
  shareMax: 1,
  decreaseFactor: 0.5,
  increaseStep: 0.1,
});

// Latency buckets: upper bounds growing by ~19% (2^(1/4)), from 0.05 ms to ~100 s.
const BUCKET_BASE_MS = 0.05;
const BUCKET_GROWTH = 2 ** 0.25;
const BUCKET_COUNT = 84;
const SLOT_MS = 1000;

/** The upper bound of bucket i, in ms. */
function bucketLimitMs(i: number): number {
  return BUCKET_BASE_MS * BUCKET_GROWTH ** i;
}

function bucketOf(latencyMs: number): number {
  if (!(latencyMs > BUCKET_BASE_MS)) return 0;
  return Math.min(BUCKET_COUNT - 1, Math.ceil(Math.log(latencyMs / BUCKET_BASE_MS) / Math.log(BUCKET_GROWTH)));
}

/** Foreground latencies over a sliding window, in one-second slots. */
export class LatencyWindow {
  private readonly slots: Uint32Array;
  private readonly slotStarts: Float64Array;
  private readonly slotCount: number;

  constructor(windowMs: number) {
    if (!(windowMs >= SLOT_MS)) throw new RangeError(`windowMs must be >= ${SLOT_MS}, got ${windowMs}`);
    this.slotCount = Math.ceil(windowMs / SLOT_MS);
    this.slots = new Uint32Array(this.slotCount * BUCKET_COUNT);
    this.slotStarts = new Float64Array(this.slotCount).fill(-Infinity);
  }

  record(nowMs: number, latencyMs: number): void {
    const slot = this.slotFor(nowMs);
    const index = slot * BUCKET_COUNT + bucketOf(latencyMs);
    this.slots[index] = (this.slots[index] as number) + 1;
  }

  /** Requests in the window. */
  count(nowMs: number): number {
    let total = 0;
    this.forLiveSlots(nowMs, (slot) => {
      for (let b = 0; b < BUCKET_COUNT; b++) total += this.slots[slot * BUCKET_COUNT + b] as number;
    });
    return total;
  }

  /** The latency under which `quantile` of the window's requests fell (a bucket's upper bound); 0 when empty. */
  quantileMs(nowMs: number, quantile: number): number {
    const counts = new Array<number>(BUCKET_COUNT).fill(0);
    let total = 0;
    this.forLiveSlots(nowMs, (slot) => {
      for (let b = 0; b < BUCKET_COUNT; b++) {
        const n = this.slots[slot * BUCKET_COUNT + b] as number;
        counts[b] = (counts[b] as number) + n;
        total += n;
      }
    });
    if (total === 0) return 0;
    const rank = Math.ceil(quantile * total);
    let seen = 0;
    for (let b = 0; b < BUCKET_COUNT; b++) {
      seen += counts[b] as number;
      if (seen >= rank) return bucketLimitMs(b);
    }
    return bucketLimitMs(BUCKET_COUNT - 1);
  }

  private slotFor(nowMs: number): number {
    const start = Math.floor(nowMs / SLOT_MS) * SLOT_MS;
    const slot = Math.floor(nowMs / SLOT_MS) % this.slotCount;
    if (this.slotStarts[slot] !== start) {
      this.slots.fill(0, slot * BUCKET_COUNT, (slot + 1) * BUCKET_COUNT);
      this.slotStarts[slot] = start;
    }
    return slot;
  }

  private forLiveSlots(nowMs: number, visit: (slot: number) => void): void {
    const oldest = Math.floor(nowMs / SLOT_MS) * SLOT_MS - (this.slotCount - 1) * SLOT_MS;
    for (let slot = 0; slot < this.slotCount; slot++) if ((this.slotStarts[slot] as number) >= oldest) visit(slot);
  }
}

/** The next background share, given the foreground p99 now (AIMD: halve when over the target, creep back up). */
export function nextShare(share: number, p99Ms: number, settings: AdmissionSettings = ADMISSION_DEFAULTS): number {
  const next = p99Ms > settings.p99TargetMs ? share * settings.decreaseFactor : share + settings.increaseStep;
  return Math.min(settings.shareMax, Math.max(settings.shareMin, next));
}

/**
 * How long background work that just took `workMs` should pause so that it uses about
 * `share` of the time: work / (work + pause) = share.
 */
export function pauseAfterMs(workMs: number, share: number): number {
  if (!(share > 0)) throw new RangeError(`share must be > 0, got ${share}`);
  return Math.max(0, workMs) * (1 - Math.min(1, share)) / Math.min(1, share);
}
