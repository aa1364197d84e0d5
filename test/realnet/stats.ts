/**
 * Per-window figures of the real-network fault test: how many requests were sent, how many
 * of those the rule of the test counts (`eligible`), the share of those that succeeded, and
 * latency percentiles; and the lost-write check over each key's PUTs.
 */
import { isSuccess, type Operation, type RequestRecord, type WriteAttempt } from './load.ts';

/** A time window of the run, ms since its origin: [startMs, endMs). */
export interface Window {
  readonly startMs: number;
  readonly endMs: number;
}

export interface WindowStats {
  readonly windowMs: number;
  readonly sent: number;
  /** Requests the reachability rule counts. */
  readonly eligible: number;
  readonly ok: number;
  /** ok / eligible (null when nothing was eligible). */
  readonly successShare: number | null;
  readonly put: { readonly eligible: number; readonly ok: number };
  readonly get: { readonly eligible: number; readonly ok: number };
  /** Statuses of the eligible requests; no answer is counted by its error (timeout, ECONNRESET…). */
  readonly statuses: Record<string, number>;
  /** Eligible requests, all outcomes (a timeout counts with the time it took to give up). */
  readonly latencyMs: { readonly p50: number | null; readonly p99: number | null; readonly p999: number | null };
  /** Requests the rule does not count (sent to a node that could not reach a quorum, or paused). */
  readonly excluded: number;
  readonly excludedOk: number;
  readonly excludedStatuses: Record<string, number>;
  /** Per node (by id): [requests sent, eligible, ok]. */
  readonly byNode: Record<string, [number, number, number]>;
}

export type Eligibility = (node: number, operation: Operation) => boolean;

export function inWindow(record: RequestRecord, window: Window): boolean {
  return record.sentMs >= window.startMs && record.sentMs < window.endMs;
}

export function windowStats(records: readonly RequestRecord[], window: Window, eligible: Eligibility, nodeIds: readonly string[]): WindowStats {
  const inside = records.filter((record) => inWindow(record, window));
  const counted = inside.filter((record) => eligible(record.node, record.operation));
  const excluded = inside.filter((record) => !eligible(record.node, record.operation));
  const ok = counted.filter(isSuccess).length;
  const byNode: Record<string, [number, number, number]> = {};
  for (const [index, id] of nodeIds.entries()) {
    const sent = inside.filter((record) => record.node === index);
    const ofNode = sent.filter((record) => eligible(record.node, record.operation));
    byNode[id] = [sent.length, ofNode.length, ofNode.filter(isSuccess).length];
  }
  const byOperation = (operation: Operation) => {
    const ofOperation = counted.filter((record) => record.operation === operation);
    return { eligible: ofOperation.length, ok: ofOperation.filter(isSuccess).length };
  };
  const latencies = counted.map((record) => record.answeredMs - record.sentMs).sort((a, b) => a - b);
  return {
    windowMs: Math.round(window.endMs - window.startMs),
    sent: inside.length,
    eligible: counted.length,
    ok,
    successShare: counted.length === 0 ? null : round(ok / counted.length, 4),
    put: byOperation('put'),
    get: byOperation('get'),
    statuses: statusCounts(counted),
    latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), p999: percentile(latencies, 0.999) },
    excluded: excluded.length,
    excludedOk: excluded.filter(isSuccess).length,
    excludedStatuses: statusCounts(excluded),
    byNode,
  };
}

/** Requests by status; those without an answer by their error (timeout, ECONNRESET…). */
function statusCounts(records: readonly RequestRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const record of records) {
    const label = record.status === 0 ? (record.error ?? 'no answer') : String(record.status);
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}

/** Nearest-rank percentile of sorted values, rounded to 0.1 ms. */
export function percentile(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil(fraction * sorted.length));
  return round(sorted[rank - 1] as number, 1);
}

function round(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

export type KeyVerdict =
  /** The last acknowledged value is among the siblings read. */
  | 'last-acknowledged-found'
  /** It is not, but a PUT sent after it (unacknowledged: a 503 or no answer, which may still land) is: it superseded it. */
  | 'superseded-by-later-put'
  /** Neither: an acknowledged write is lost (or not yet visible). */
  | 'missing';

/**
 * The verdict for one key from the values a read returned. `writes`: the key's PUTs in the
 * order sent, none in flight. Undefined when no PUT of the key was acknowledged.
 */
export function keyVerdict(writes: readonly WriteAttempt[], values: readonly string[]): KeyVerdict | undefined {
  let lastAcknowledged = -1;
  writes.forEach((write, index) => {
    if (write.acknowledged === true) lastAcknowledged = index;
  });
  if (lastAcknowledged === -1) return undefined;
  const present = new Set(values);
  if (present.has((writes[lastAcknowledged] as WriteAttempt).value)) return 'last-acknowledged-found';
  if (writes.slice(lastAcknowledged + 1).some((write) => present.has(write.value))) return 'superseded-by-later-put';
  return 'missing';
}
