/**
 * Resurrection seen at the end, judged by an omniscient observer (checker.ts judges the
 * final state against the acknowledged writes' contexts): a version that is *dead* — no
 * node holds it any more (in memory, on its object disk or in a hint on its hint disk;
 * nodes crashed for good included, as one may be brought back), and every replica of its
 * key (in the current and the target ring of every live node's view) has superseded it
 * on disk and in memory (its copy's vector covers the version's dot) — can only come back
 * by a bug: any stray copy that surfaces later (a late hint, a delayed message, a transfer)
 * merges into the replicas' copies and vanishes, and a tombstone reaped to a marker keeps
 * its vector. So once dead, a version is in no replica's copy at the end of the
 * convergence phase and in no final read.
 *
 * Reads during the safety phase are not judged: a version can be dead as far as disks and
 * stores show while a node still carries a copy in flight (a hint it is handing on to the
 * current replicas, say), and a fallback's read merges in the hints it holds for others
 * (HintStore.getForAny), so such a read may legitimately show a superseded version; that
 * is a stale read, which Dynamo allows, not a resurrection. After healing nothing is in
 * flight any more (swarm.ts settles first).
 *
 * Whether a version is dead is looked at when an operation on its key starts (and at the
 * end of the convergence phase), for every version of the key seen so far that some
 * write's context covered; once dead it stays dead (markers are kept longer than any run:
 * swarmPlan.ts MARKER_RETENTION_MS).
 */
import { encodeUtf8 } from '../core/bytes.ts';
import { covers, type Dot } from '../core/clock.ts';
import { partitionOfKey } from '../core/hash.ts';
import type { StoredObject } from '../core/object.ts';
import { HINTS_PARTITION, hintKey } from '../storage/hintStore.ts';
import { decodeObject } from '../storage/objectCodec.ts';
import type { ReplicaCopy, Violation } from './checker.ts';
import { formatDot, formatRecord, type OpRecord } from './history.ts';
import type { SimCluster } from './simCluster.ts';

/** What the history shows of one key so far. */
interface KeyHistory {
  /** Operations on it that have not answered yet (their versions are still to be seen). */
  unanswered: OpRecord[];
  /** Every version some answer showed, by dot. */
  readonly seen: Map<string, { readonly valueId: string; readonly dot: Dot }>;
  /** Per actor, the highest counter some write's context covered (a version no context covers cannot have been superseded). */
  readonly covered: Map<string, number>;
}

interface Death {
  readonly valueId: string;
  readonly dot: Dot;
  readonly atMs: number;
}

/** Violations kept (the first ones tell the story). */
const VIOLATIONS_MAX = 10;

export class DeadVersions {
  readonly violations: Violation[] = [];
  /** Per key, per dot text: when the version was first seen dead. */
  private readonly deaths = new Map<string, Map<string, Death>>();
  /** Per key, what the history shows of it so far (see KeyHistory). */
  private readonly keys = new Map<string, KeyHistory>();
  /** Dots checked per key, to avoid reporting one twice. */
  private readonly reported = new Set<string>();
  /** Per node, a count of its disk writes (objects and hints): what it held is cached until the next. */
  private readonly diskEpochs = new Map<string, number>();
  private readonly diskCopies = new Map<string, { epoch: number; disk: StoredObject | undefined; hints: StoredObject[] }>();

  constructor(
    private readonly cluster: SimCluster,
    private readonly partitionCount: number,
    /** The key's replicas in the current and target ring of every live node's view. */
    private readonly replicasOf: (key: string) => ReadonlySet<string>,
  ) {}

  /** `node` is writing to one of its disks (call before and after each batch lands). */
  diskWritten(node: string): void {
    this.diskEpochs.set(node, (this.diskEpochs.get(node) ?? 0) + 1);
  }

  /** An operation starts (History.onBegin): first note which versions of its key are dead now. */
  operationStarted(record: OpRecord, nowMs: number): void {
    const history = this.historyOf(record.key);
    this.look(record.key, history, nowMs);
    history.unanswered.push(record);
    for (const entry of record.op === 'get' ? [] : (record.context ?? [])) {
      history.covered.set(entry.actor, Math.max(history.covered.get(entry.actor) ?? 0, entry.counter));
    }
  }

  private historyOf(key: string): KeyHistory {
    let history = this.keys.get(key);
    if (history === undefined) {
      history = { unanswered: [], seen: new Map(), covered: new Map() };
      this.keys.set(key, history);
    }
    return history;
  }

  /** The convergence phase ended: no replica may hold a dead version. */
  checkCopies(copies: ReadonlyMap<string, readonly ReplicaCopy[]>, nowMs: number): void {
    for (const [key, list] of copies) {
      this.look(key, this.historyOf(key), nowMs);
      for (const copy of list) {
        for (const sibling of copy.object?.siblings ?? []) {
          if (sibling.deleted) continue;
          const death = this.deaths.get(key)?.get(formatDot(sibling.dot));
          if (death !== undefined) this.report(key, death, `${copy.node} holds it at the end of the convergence phase (${nowMs.toFixed(1)} ms)`, []);
        }
      }
    }
  }

  /** After the run: every final read (client `final`) that started after a version died and saw it. */
  checkFinalReads(records: readonly OpRecord[]): void {
    for (const record of records) {
      if (record.client !== 'final') continue;
      for (const version of record.versions ?? []) {
        if (version.deleted) continue;
        const death = this.deaths.get(record.key)?.get(formatDot(version.dot));
        if (death === undefined || death.atMs >= record.startMs) continue;
        this.report(record.key, death, `${record.op} #${record.index}, which started at ${record.startMs.toFixed(1)} ms, saw it`, [record]);
      }
    }
  }

  private report(key: string, death: Death, how: string, records: readonly OpRecord[]): void {
    const id = `${key}|${formatDot(death.dot)}`;
    if (this.reported.has(id) || this.violations.length >= VIOLATIONS_MAX) return;
    this.reported.add(id);
    this.violations.push({
      kind: 'resurrected',
      key,
      valueIds: [death.valueId],
      message:
        `${death.valueId} (dot ${formatDot(death.dot)}) of ${key} was dead at ${death.atMs.toFixed(1)} ms ` +
        `(no node held it, every replica's copy had superseded it) but came back: ${how}` +
        (records.length === 0 ? '' : ` [${records.map(formatRecord).join('; ')}]`),
      records: [],
    });
  }

  /** Notes which versions of `key` seen so far (in the answers of operations on it) are dead now. */
  private look(key: string, history: KeyHistory, nowMs: number): void {
    const deaths = this.deaths.get(key) ?? new Map<string, Death>();
    this.deaths.set(key, deaths);
    history.unanswered = history.unanswered.filter((record) => {
      if (record.versions === undefined) return true;
      for (const version of record.versions) if (!version.deleted) history.seen.set(formatDot(version.dot), { valueId: version.valueId, dot: version.dot });
      return false;
    });
    // Only a write whose context covers a version can supersede it.
    const candidates = [...history.seen].filter(([text, { dot }]) => !deaths.has(text) && (history.covered.get(dot.actor) ?? 0) >= dot.counter);
    if (candidates.length === 0) return;
    const copies = this.copiesOf(key);
    for (const [text, { valueId, dot }] of candidates) {
      if (copies.held.some((object) => holds(object, dot))) continue;
      if (!copies.replicas.every((object) => object !== undefined && covers(object.vector, dot) && !holds(object, dot))) continue;
      deaths.set(text, { valueId, dot, atMs: nowMs });
    }
  }

  /**
   * Every copy of the key anywhere (`held`), and the copies of its replicas (`replicas`:
   * memory and disk of each, undefined where one lacks a copy; a node that is down has its
   * disk only).
   */
  private copiesOf(key: string): { held: StoredObject[]; replicas: (StoredObject | undefined)[] } {
    const keyBytes = encodeUtf8(key);
    const partition = partitionOfKey(keyBytes, this.partitionCount);
    const replicas = this.replicasOf(key);
    const held: StoredObject[] = [];
    const replicaCopies: (StoredObject | undefined)[] = [];
    for (const id of this.cluster.ids) {
      if (!this.cluster.started(id)) continue;
      const { disk, hints } = this.onDisks(id, key, keyBytes, partition);
      const node = this.cluster.node(id);
      const memory = node?.localVersions(keyBytes)?.object;
      held.push(...hints);
      if (disk !== undefined) held.push(disk);
      if (memory !== undefined) held.push(memory);
      if (replicas.has(id)) replicaCopies.push(disk, ...(node === undefined ? [] : [memory]));
    }
    return { held, replicas: replicaCopies };
  }

  /** What the node's disks hold of the key: its object, and the hints for anyone. */
  private onDisks(id: string, key: string, keyBytes: Uint8Array, partition: number): { disk: StoredObject | undefined; hints: StoredObject[] } {
    const epoch = this.diskEpochs.get(id) ?? 0;
    const cacheKey = `${id}|${key}`;
    const cached = this.diskCopies.get(cacheKey);
    if (cached !== undefined && cached.epoch === epoch) return cached;
    const disks = this.cluster.disks(id);
    const hints: StoredObject[] = [];
    for (const target of this.cluster.ids) {
      const hint = decoded(disks.hintEngine.get(HINTS_PARTITION, hintKey(target, partition, keyBytes)));
      if (hint !== undefined) hints.push(hint);
    }
    const copies = { epoch, disk: decoded(disks.engine.get(partition, keyBytes)), hints };
    this.diskCopies.set(cacheKey, copies);
    return copies;
  }
}

function holds(object: StoredObject, dot: Dot): boolean {
  return object.siblings.some((sibling) => !sibling.deleted && sibling.dot.actor === dot.actor && sibling.dot.counter === dot.counter);
}

function decoded(bytes: Uint8Array | undefined): StoredObject | undefined {
  return bytes === undefined ? undefined : decodeObject(bytes);
}
