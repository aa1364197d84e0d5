/**
 * The history of a sim run: every client operation with its virtual start and end time,
 * outcome, the values it saw and, for writes, the context it carried. The checker judges
 * the run from this (and the final state) alone.
 *
 * Values are identified by their text: every value a client writes is unique
 * (`c3-w17`: client 3's 17th write), so a value read names the write that made it.
 */
import { covers, type Dot, type VersionVector } from '../core/clock.ts';
import { decodeUtf8 } from '../core/bytes.ts';
import type { StoredObject } from '../core/object.ts';
import type { Quorum, RequestOptions } from '../node/request.ts';

export type OpKind = 'get' | 'put' | 'delete';
/** `timeout`: the client's deadline passed first (the operation may still take effect). */
export type OpOutcome = 'pending' | 'ok' | 'failed' | 'timeout';

/** One sibling as a client saw it. */
export interface SeenVersion {
  /** The value's text, or `?` and its hex when it is not a value any client could write. */
  readonly valueId: string;
  readonly dot: Dot;
  readonly deleted: boolean;
}

export interface OpRecord {
  readonly index: number;
  /** `c3`, or `final` for the checker's own reads after healing. */
  readonly client: string;
  readonly op: OpKind;
  readonly key: string;
  readonly node: string;
  readonly startMs: number;
  endMs: number | undefined;
  outcome: OpOutcome;
  /** The error code or message of a failure. */
  error: string | undefined;
  /** put: the value written. */
  readonly valueId: string | undefined;
  /** The N, R, W the request ran with (the cluster's unless the client overrode them). */
  readonly quorum: Quorum;
  /** The overrides the client passed, if any. */
  readonly options: RequestOptions | undefined;
  /** put/delete: the decoded context sent; undefined for a blind write. */
  readonly context: VersionVector | undefined;
  /** The values of the client's read (or write) that the context came from. */
  readonly contextValueIds: readonly string[];
  /** The versions a get returned, or the coordinator's copy after a put/delete. */
  versions: SeenVersion[] | undefined;
  /** When the node answered with `versions` (after endMs for a late reply). */
  answeredMs: number | undefined;
  /**
   * put: the dot the write got (found in the reply). delete: its tombstone's dot, when the
   * reply tells it (tombstoneDotOf).
   */
  dot: Dot | undefined;
  /** The reply that arrived after the client's deadline, if any. */
  lateOutcome: 'ok' | 'failed' | undefined;
  /**
   * The members (not removed) of the ring of `node`, the entry node, when the request
   * started, as the simulator saw it (History.onBegin); undefined when unknown (the node
   * was down). The availability check counts the reachable ones (availability.ts).
   */
  entryMembers: readonly string[] | undefined;
}

export interface OpStart {
  readonly client: string;
  readonly op: OpKind;
  readonly key: string;
  readonly node: string;
  readonly startMs: number;
  readonly quorum: Quorum;
  readonly options?: RequestOptions;
  readonly valueId?: string;
  readonly context?: VersionVector;
  readonly contextValueIds?: readonly string[];
}

export class History {
  readonly records: OpRecord[] = [];
  /** Told of every operation as it starts (the simulator's omniscient checks look at the cluster then). */
  onBegin: ((record: OpRecord) => void) | undefined;

  begin(start: OpStart): OpRecord {
    const record: OpRecord = {
      index: this.records.length,
      client: start.client,
      op: start.op,
      key: start.key,
      node: start.node,
      startMs: start.startMs,
      quorum: start.quorum,
      options: start.options,
      endMs: undefined,
      outcome: 'pending',
      error: undefined,
      valueId: start.valueId,
      context: start.context,
      contextValueIds: start.contextValueIds ?? [],
      versions: undefined,
      answeredMs: undefined,
      dot: undefined,
      lateOutcome: undefined,
      entryMembers: undefined,
    };
    this.records.push(record);
    this.onBegin?.(record);
    return record;
  }

  /** The node answered: `object` is what a get returned or the coordinator's copy after a write. */
  succeeded(record: OpRecord, nowMs: number, object: StoredObject | undefined): void {
    const versions = versionsOf(object);
    if (record.outcome === 'timeout') {
      record.lateOutcome = 'ok';
    } else {
      record.outcome = 'ok';
      record.endMs = nowMs;
    }
    record.versions = versions;
    record.answeredMs = nowMs;
    if (record.op === 'put') record.dot = versions.find((v) => v.valueId === record.valueId && !v.deleted)?.dot;
    if (record.op === 'delete') record.dot = tombstoneDotOf(record, versions);
  }

  failed(record: OpRecord, nowMs: number, error: string): void {
    if (record.outcome === 'timeout') {
      record.lateOutcome = 'failed';
      return;
    }
    record.outcome = 'failed';
    record.endMs = nowMs;
    record.error = error;
  }

  timedOut(record: OpRecord, nowMs: number): void {
    if (record.outcome !== 'pending') return;
    record.outcome = 'timeout';
    record.endMs = nowMs;
  }
}

/**
 * A delete's tombstone in the coordinator's copy it answered with: the tombstone its context
 * did not cover, or when concurrent deletes left several, the one whose actor is the called
 * node's (`n2.3` for n2); undefined when that still leaves more than one (or none).
 */
function tombstoneDotOf(record: OpRecord, versions: readonly SeenVersion[]): Dot | undefined {
  const fresh = versions.filter((v) => v.deleted && (record.context === undefined || !covers(record.context, v.dot)));
  if (fresh.length === 1) return fresh[0]?.dot;
  const own = fresh.filter((v) => v.dot.actor.startsWith(`${record.node}.`));
  return own.length === 1 ? own[0]?.dot : undefined;
}

/** Every sibling of the object as a SeenVersion. */
export function versionsOf(object: StoredObject | undefined): SeenVersion[] {
  if (object === undefined) return [];
  return object.siblings.map((sibling) => ({ valueId: valueIdOf(sibling.value, sibling.deleted), dot: sibling.dot, deleted: sibling.deleted }));
}

/** Matches the ids clients write: `c<client>-w<write>`. */
export const VALUE_ID_PATTERN = /^c[0-9]+-w[0-9]+$/;

/** The value's id: its text when it reads as one, else `?` and its hex (a phantom). */
export function valueIdOf(value: Uint8Array, deleted: boolean): string {
  if (deleted) return `(tombstone)`;
  const text = decodeUtf8(value);
  if (text !== undefined && VALUE_ID_PATTERN.test(text)) return text;
  return `?${Buffer.from(value).toString('hex').slice(0, 64)}`;
}

export function formatDot(dot: Dot | undefined): string {
  return dot === undefined ? '-' : `${dot.actor}:${dot.counter}`;
}

function formatVector(vector: VersionVector | undefined): string {
  if (vector === undefined) return 'blind';
  return `{${vector.map((entry) => `${entry.actor}:${entry.counter}`).join(',')}}`;
}

/** One history line, as printed with a violation. */
export function formatRecord(record: OpRecord): string {
  const time = `${record.startMs.toFixed(1)}..${record.endMs === undefined ? '?' : record.endMs.toFixed(1)}`;
  const { options } = record;
  const overrides = options === undefined ? '' : ` (${Object.entries(options).map(([k, v]) => `${k}=${String(v)}`).join(' ')})`;
  const head = `#${record.index} ${time} ${record.client} ${record.op} ${record.key} @${record.node}${overrides}`;
  const parts = [head];
  if (record.op === 'put') parts.push(`value=${record.valueId ?? '?'} dot=${formatDot(record.dot)}`);
  if (record.op === 'delete') parts.push(`tomb=${formatDot(record.dot)}`);
  if (record.op !== 'get') parts.push(`ctx=${formatVector(record.context)} (from read of [${record.contextValueIds.join(' ')}])`);
  let outcome: string = record.outcome;
  if (record.error !== undefined) outcome += ` (${record.error})`;
  if (record.lateOutcome !== undefined) outcome += ` late:${record.lateOutcome}`;
  parts.push(`-> ${outcome}`);
  if (record.versions !== undefined) {
    parts.push(`saw [${record.versions.map((v) => (v.deleted ? `tomb@${formatDot(v.dot)}` : `${v.valueId}@${formatDot(v.dot)}`)).join(' ')}]`);
  }
  return parts.join(' ');
}
