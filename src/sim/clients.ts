/**
 * Simulated clients: each runs one operation at a time against a random node (a direct
 * method call, as if over a connection), waits a random think time, and goes again until
 * the safety phase ends.
 *
 * The workload is built to make conflicts: few keys, several clients. Every value a client
 * writes is unique (`c3-w17`). A client remembers, per key, the context and the values of
 * its last read (or of its last successful write) and usually writes with that context,
 * sometimes blindly (no context: the value joins the siblings). Deletes always carry a
 * context. Each call has a client-side deadline on the scheduler: past it the client
 * records a timeout and moves on (a reply that arrives later is still recorded as late).
 * A key may be retired at some time (`retireAtMs`): from then on clients only delete it
 * (with the context of their last read of it) or read it, so it stays deleted and its
 * tombstone ages enough to be reaped while the run goes on.
 */
import { encodeUtf8 } from '../core/bytes.ts';
import { decodeContext } from '../core/context.ts';
import type { VersionVector } from '../core/clock.ts';
import type { StoredObject } from '../core/object.ts';
import { resolveQuorum, type Quorum, type RequestOptions } from '../node/request.ts';
import type { History, OpKind, OpRecord } from './history.ts';
import type { Prng } from './prng.ts';
import type { Scheduler } from './scheduler.ts';
import type { SimCluster, SimNode } from './simCluster.ts';

export interface WorkloadOptions {
  readonly keys: readonly string[];
  readonly thinkMsMin: number;
  readonly thinkMsMax: number;
  /** How long a client waits for any one call. */
  readonly deadlineMs: number;
  /** Shares of gets and deletes; the rest are puts. */
  readonly getShare: number;
  readonly deleteShare: number;
  /** Probability that a put carries no context although the client has one. */
  readonly blindWriteRate: number;
  /** Probability that a request overrides the cluster's N, R or W. */
  readonly quorumOverrideRate: number;
  /** The cluster's N, R, W (overrides stay within its N). */
  readonly quorum: Quorum;
  /** Keys no longer written from this virtual time on: only deleted (when read before) or read. */
  readonly retireAtMs?: Readonly<Record<string, number>>;
}

export interface ClientDeps {
  readonly scheduler: Scheduler;
  readonly cluster: SimCluster;
  readonly history: History;
  readonly random: Prng;
  /** Contexts are decoded for the history (they are bound to the cluster name). */
  readonly clusterName: string;
  /** Called as the client receives a put's acknowledgement (in time). */
  readonly onPutAcknowledged?: (record: OpRecord) => void;
  /** The nodes a client may call now (default: every node of the cluster). */
  readonly targets?: () => readonly string[];
}

/** One operation as the client decided it. */
interface PlannedOp {
  readonly op: OpKind;
  readonly key: string;
  readonly node: string;
  readonly options: RequestOptions | undefined;
  /** The read whose context a put or delete carries (none: blind). */
  readonly seen?: Seen;
  /** put only. */
  readonly valueId?: string;
}

interface Seen {
  readonly context: string;
  readonly valueIds: readonly string[];
}

const CONTENT_TYPE = 'text/plain';

export class SimClient {
  private writes = 0;
  private untilMs = 0;
  private readonly lastSeen = new Map<string, Seen>();

  constructor(
    readonly name: string,
    private readonly deps: ClientDeps,
    private readonly workload: WorkloadOptions,
  ) {}

  /** Starts issuing operations; none starts at or after `untilMs`. */
  start(untilMs: number): void {
    this.untilMs = untilMs;
    this.scheduleNext();
  }

  private scheduleNext(): void {
    const { random, scheduler } = this.deps;
    const thinkMs = random.between(this.workload.thinkMsMin, this.workload.thinkMsMax);
    scheduler.schedule(thinkMs, `client ${this.name} step`, () => this.step());
  }

  private step(): void {
    const { random, scheduler, cluster } = this.deps;
    if (scheduler.nowMs >= this.untilMs) return;
    const key = random.pick(this.workload.keys);
    const targets = this.deps.targets?.() ?? cluster.ids;
    if (targets.length === 0) return this.scheduleNext();
    const node = random.pick(targets);
    const roll = random.next();
    const seen = this.lastSeen.get(key);
    const options = this.overrides();
    const retired = scheduler.nowMs >= (this.workload.retireAtMs?.[key] ?? Number.POSITIVE_INFINITY);
    // A retired key is deleted with the context of a read that still saw values (else read again).
    const deletable = seen !== undefined && (!retired || seen.valueIds.length > 0);
    if (roll < this.workload.getShare || (retired && !deletable)) return this.issue({ op: 'get', key, node, options }, (n, k) => n.get(k, options));
    if ((retired || roll < this.workload.getShare + this.workload.deleteShare) && seen !== undefined) {
      return this.issue({ op: 'delete', key, node, options, seen }, (n, k) => n.delete(k, seen.context, options));
    }
    const withContext = seen !== undefined && !random.chance(this.workload.blindWriteRate) ? seen : undefined;
    const valueId = `${this.name}-w${++this.writes}`;
    const input = { value: encodeUtf8(valueId), contentType: CONTENT_TYPE, ...(withContext === undefined ? {} : { context: withContext.context }) };
    this.issue({ op: 'put', key, node, options, seen: withContext, valueId }, (n, k) => n.put(k, input, options));
  }

  /** Sometimes a per-request N, R or W (valid ones: the node's validation is not under test here). */
  private overrides(): RequestOptions | undefined {
    const { random } = this.deps;
    if (!random.chance(this.workload.quorumOverrideRate)) return undefined;
    const n = random.chance(0.25) ? random.intBetween(1, this.workload.quorum.n) : undefined;
    const most = n ?? this.workload.quorum.n;
    return { ...(n === undefined ? {} : { n }), r: random.intBetween(1, most), w: random.intBetween(1, most) };
  }

  private issue(planned: PlannedOp, call: (node: SimNode, key: Uint8Array) => Promise<{ readonly object: StoredObject | undefined; readonly context: string }>): void {
    const { scheduler, cluster, history } = this.deps;
    const { op, key, node, options, seen, valueId } = planned;
    const record = history.begin({
      client: this.name,
      op,
      key,
      node,
      startMs: scheduler.nowMs,
      quorum: resolveQuorum(this.workload.quorum, options),
      options,
      valueId,
      context: seen === undefined ? undefined : this.vectorOf(seen.context),
      contextValueIds: seen?.valueIds ?? [],
    });
    const deadline = scheduler.schedule(this.workload.deadlineMs, `client ${this.name} deadline #${record.index}`, () => {
      history.timedOut(record, scheduler.nowMs);
      this.scheduleNext();
    });
    const keyBytes = encodeUtf8(key);
    cluster.call(node, (n) => call(n, keyBytes)).then(
      (result) => this.answered(record, deadline, result),
      (error: unknown) => this.refused(record, deadline, error),
    );
  }

  private answered(record: OpRecord, deadline: { readonly seq: number }, result: { readonly object: StoredObject | undefined; readonly context: string }): void {
    const { scheduler, history } = this.deps;
    const late = record.outcome === 'timeout';
    history.succeeded(record, scheduler.nowMs, result.object);
    if (late) return;
    scheduler.cancel(deadline);
    if (record.op === 'put') this.deps.onPutAcknowledged?.(record);
    const valueIds = (record.versions ?? []).filter((v) => !v.deleted).map((v) => v.valueId);
    this.lastSeen.set(record.key, { context: result.context, valueIds });
    this.scheduleNext();
  }

  private refused(record: OpRecord, deadline: { readonly seq: number }, error: unknown): void {
    const { scheduler, history } = this.deps;
    const late = record.outcome === 'timeout';
    history.failed(record, scheduler.nowMs, errorCode(error));
    if (late) return;
    scheduler.cancel(deadline);
    this.scheduleNext();
  }

  private vectorOf(context: string): VersionVector {
    const decoded = decodeContext(context, this.deps.clusterName);
    // A context the node itself handed out must decode; if not, the history says so.
    return decoded.ok ? decoded.vector : [{ actor: `(undecodable: ${decoded.reason})`, counter: 0, timeMs: 0 }];
  }
}

/** The error's code when it has one (RequestError, TransportError…), else its message. */
export function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof (error as { code: unknown }).code === 'string') {
    return (error as { code: string }).code;
  }
  return error instanceof Error ? error.message : String(error);
}
