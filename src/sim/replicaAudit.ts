/**
 * Checks only an omniscient observer can make, at the moment things happen: the simulator
 * sees every node's buffer, disks and hint store, so it can verify what each node claims.
 *
 * - under-replicated-ack: when a client gets the acknowledgement of a put, at least W
 *   live nodes have seen the write (hold its value, or a version whose vector covers its
 *   dot), in their object store or hint store; and at least as many *disks* have it as
 *   the config promises (disksPromised). W and N are the request's own. Skipped when a node crashed while the put ran (a replica that
 *   acknowledged and then crashed has legitimately forgotten its buffer).
 * - hint-dropped: when a fallback deletes a hint, the owner's disk has already seen every
 *   version in it (the owner fsyncs a handed-off hint before acknowledging it, and the
 *   hint may go only after that acknowledgement). The owner may itself pass it on as a
 *   hint (a partition it is handing over), so its hint disk counts too, and so do the
 *   disks of the partition's replicas as the owner sees them (the owner may already have
 *   handed its hint to the partition's new replica). A hint whose owner
 *   has left the cluster (as the fallback sees it) goes to the key's current replicas
 *   instead: then every one of their disks has seen it.
 *
 * - copy-dropped: when a former replica deletes its copy of a key (PartitionDrop, after a
 *   membership change settled), every node its transfer of that partition went to has
 *   seen the copy it held when it marked that transfer done, or the former replica still
 *   holds what is missing as a hint: a partition handed over is streamed before it is
 *   dropped (paper 4.9); before that transfer is done, what it drops must be at the
 *   receivers already. (Writes that reach it after it stopped holding the partition, by
 *   a stale view, go on to the current replicas as hints: redundancy-lost judges those.)
 * - redundancy-lost: once the cluster settled after healing (every hint handed back, every
 *   membership change done, former replicas' copies dropped), and before the final reads
 *   repair anything, every acknowledged put is still seen by at least W of its key's
 *   replicas under the final ring, less one per crash since the put started (a crash may
 *   lose the crashed node's buffered copy, which a transfer from it then passes on; a
 *   node crashed for good loses its copy even from disk), and for puts a later
 *   acknowledged write superseded. This is what shows a membership
 *   change that lost a copy while others still held it: a write not forwarded during a
 *   transfer, a copy dropped too early.
 *
 * It also notes, when a node is about to crash for good (to be removed), which puts only
 * that node had seen: losing them is the removal's doing (paper 4.7: a permanent failure
 * loses what only the failed node held), not a bug (exposedByRemoval). Other copies count
 * only where they will stay: in a hint for another node (a hint for the dying node may be
 * deleted still: its acknowledgement can be on the way), or in the store of a node that
 * replicates the key in the current or the target ring (a former replica drops its copy
 * once the change that handed the key over settled, trusting the new replica to keep it).
 *
 * Both catch bugs that the end-of-run checker cannot see while other replicas mask them.
 */
import { decodeUtf8, encodeUtf8 } from '../core/bytes.ts';
import { covers, dotsEqual, VECTOR_ENTRIES_HARD_MAX, type Dot } from '../core/clock.ts';
import { partitionOfKey } from '../core/hash.ts';
import { primaryNodes } from '../core/preflist.ts';
import { makeRing } from '../core/ring.ts';
import { decodeState } from '../core/membership/codec.ts';
import type { ClusterState } from '../core/membership/state.ts';
import { replicasOf } from '../core/membership/transfers.ts';
import { syncObjects, type StoredObject } from '../core/object.ts';
import { MEMBERSHIP_RECORD } from '../node/membership/membership.ts';
import type { Quorum } from '../node/request.ts';
import type { JsonValue, WriteOp } from '../ports/storage.ts';
import { HINTS_PARTITION, hintKey } from '../storage/hintStore.ts';
import { decodeObject } from '../storage/objectCodec.ts';
import type { Violation } from './checker.ts';
import { formatDot, valueIdOf, versionsOf, type OpRecord } from './history.ts';
import type { SimCluster } from './simCluster.ts';

export interface DurabilitySettings {
  readonly durableWrites: 'one' | 'all' | 'none';
  readonly bufferObjectsMax: number;
}

export interface AuditSettings extends DurabilitySettings {
  readonly partitionCount: number;
  /** The cluster's N. */
  readonly n: number;
}

/**
 * Disks that hold a put once it is acknowledged with this N and W: every acknowledging
 * replica's with durableWrites `all` or without a buffer; the one durable replica's when
 * all N must acknowledge; otherwise none (the fsync may still be under way, paper 6.1).
 */
export function disksPromised(settings: DurabilitySettings, quorum: Pick<Quorum, 'n' | 'w'>): number {
  if (settings.bufferObjectsMax === 0 || settings.durableWrites === 'all') return quorum.w;
  return settings.durableWrites === 'one' && quorum.w === quorum.n ? 1 : 0;
}

/** Where a node's transfers of the latest change it knows went. */
interface StreamedTo {
  readonly ringVersion: number;
  /** Per partition, the receivers. */
  readonly byPartition: Map<number, string[]>;
  /** Partitions whose transfer is not done yet. */
  readonly pending: ReadonlySet<number>;
  /** The state of that change. */
  readonly target: ClusterState | undefined;
}

interface HintEntry {
  readonly target: string;
  readonly key: string;
  readonly partition: number;
}

/** Violations kept per kind (the first ones tell the story). */
const VIOLATIONS_PER_KIND_MAX = 10;

export class ReplicaAudit {
  readonly violations: Violation[] = [];
  /** Per node and `ringVersion/partition`: its copies of the workload's keys when it marked its transfer of the partition done. */
  private readonly streamed = new Map<string, Map<string, Map<string, StoredObject>>>();
  private readonly keysByPartition = new Map<number, string[]>();
  /** Acknowledged puts checked (the rest were skipped because of a crash). */
  acksChecked = 0;
  /** Puts that only a node crashed for good had seen, when it crashed. */
  readonly exposedByRemoval = new Set<string>();
  private readonly hintEntries = new Map<string, HintEntry>();

  constructor(
    private readonly cluster: SimCluster,
    private readonly settings: AuditSettings,
    keys: readonly string[],
    /** The client's put of a value, if any (copy-dropped leaves out writes asked for fewer than N replicas). */
    private readonly putOf: (valueId: string) => OpRecord | undefined = () => undefined,
  ) {
    for (const key of keys) {
      const keyBytes = encodeUtf8(key);
      const partition = partitionOfKey(keyBytes, settings.partitionCount);
      this.keysByPartition.set(partition, [...(this.keysByPartition.get(partition) ?? []), key]);
      for (const target of cluster.ids) this.hintEntries.set(hexOf(hintKey(target, partition, keyBytes)), { target, key, partition });
    }
  }

  /** The client just received this put's acknowledgement. */
  putAcknowledged(record: OpRecord): void {
    if (record.valueId === undefined || record.dot === undefined || this.cluster.lastCrashMs >= record.startMs) return;
    this.acksChecked++;
    const { memory, disk } = this.holders(record.key, record.valueId, record.dot);
    const { w } = record.quorum;
    const disksRequired = disksPromised(this.settings, record.quorum);
    if (memory.length >= w && disk.length >= disksRequired) return;
    this.report({
      kind: 'under-replicated-ack',
      key: record.key,
      valueIds: [record.valueId],
      message:
        `put ${record.valueId} (dot ${formatDot(record.dot)}) was acknowledged with N=${record.quorum.n} W=${w} (disks required: ${disksRequired}) ` +
        `but only [${memory.join(' ')}] have seen it, on disk [${disk.join(' ')}]`,
      records: [record],
    });
  }

  /** After settling (see the file comment): every acknowledged put still seen by W of its final replicas. */
  checkRedundancy(records: readonly OpRecord[], replicasOf: (key: string) => readonly string[]): void {
    // A put an acknowledged write superseded may be gone, its actor even pruned from the vector.
    const superseding = records.filter((r) => r.op !== 'get' && r.outcome === 'ok' && r.context !== undefined);
    for (const record of records) {
      if (record.op !== 'put' || record.outcome !== 'ok' || record.valueId === undefined || record.dot === undefined) continue;
      const dot = record.dot;
      if (superseding.some((w) => w !== record && w.key === record.key && covers(w.context ?? [], dot))) continue;
      // Without a buffer, or with every acknowledgement fsynced, only a node crashed for good loses its copy.
      const buffersLost = this.settings.bufferObjectsMax > 0 && this.settings.durableWrites !== 'all';
      const crashes = this.cluster.crashLog.filter((crash) => crash.atMs >= record.startMs && (buffersLost || crash.retired)).length;
      const required = record.quorum.w - crashes;
      if (required <= 0) continue;
      const keyBytes = encodeUtf8(record.key);
      const replicas = replicasOf(record.key);
      const holding = replicas.filter((id) => {
        const copy = this.cluster.node(id)?.localVersions(keyBytes)?.object;
        return hasSeen(copy, record.valueId as string, dot) || this.pruned(id, copy, dot.actor);
      });
      if (holding.length >= required) continue;
      this.report({
        kind: 'redundancy-lost',
        key: record.key,
        valueIds: [record.valueId],
        message:
          `after settling, put ${record.valueId} (dot ${formatDot(record.dot)}, W=${record.quorum.w}) is seen by only [${holding.join(' ')}] ` +
          `of its replicas [${replicas.join(' ')}] (${crashes} crash(es) since it was written: at least ${required} expected)`,
        records: [record],
      });
    }
  }

  /**
   * `node` is about to crash for good: the puts only it has seen may be lost with it (see
   * the file comment); so may deletes (noted as `delete#<record index>`).
   */
  nodeRetiring(node: string, records: readonly OpRecord[], replicasOf: (key: string) => ReadonlySet<string>): void {
    for (const record of records) {
      const tombstone = record.op === 'delete' && record.dot !== undefined;
      if ((record.op !== 'put' || record.valueId === undefined) && !tombstone) continue;
      // A tombstone has no value of its own to look for: only its dot tells who saw it.
      const { memory, hinted } = this.holders(record.key, tombstone ? '' : (record.valueId as string), record.dot, node);
      if (!memory.includes(node)) continue;
      const replicas = replicasOf(record.key);
      // A node already crashed for good keeps nothing, whatever its disk still holds.
      const kept = memory.some((id) => id !== node && !this.cluster.isRetired(id) && (hinted.includes(id) || replicas.has(id)));
      if (!kept) this.exposedByRemoval.add(tombstone ? `delete#${record.index}` : (record.valueId as string));
    }
  }

  /** The workload key a hint-store key is for (undefined: not one of the workload's). */
  keyOfHint(key: Uint8Array): string | undefined {
    return this.hintEntries.get(hexOf(key))?.key;
  }

  /** `node` stored a metadata record: when it is its cluster state with a transfer of its newly done, note what it held. */
  metaWritten(node: string, name: string, value: JsonValue): void {
    if (name !== MEMBERSHIP_RECORD) return;
    const state = decodeState(value);
    const snapshots = this.streamed.get(node) ?? new Map<string, Map<string, StoredObject>>();
    this.streamed.set(node, snapshots);
    for (const transfer of state.change?.transfers ?? []) {
      const id = `${state.ringVersion}/${transfer.partition}`;
      if (transfer.from !== node || !transfer.done || snapshots.has(id)) continue;
      const copies = new Map<string, StoredObject>();
      for (const key of this.keysByPartition.get(transfer.partition) ?? []) {
        const keyBytes = encodeUtf8(key);
        const copy = syncObjects(this.cluster.node(node)?.localVersions(keyBytes)?.object, decoded(this.cluster.disks(node).engine.get(transfer.partition, keyBytes)));
        if (copy !== undefined) copies.set(key, copy);
      }
      snapshots.set(id, copies);
    }
  }

  /** `node` is about to write this batch to its object disk (deletions are dropped copies). */
  beforeObjectWrite(node: string, ops: readonly WriteOp[]): void {
    let streamedTo: StreamedTo | undefined;
    for (const op of ops) {
      if (op.kind !== 'delete') continue;
      const receivers = (streamedTo ??= this.receiversOf(node));
      const key = decodeUtf8(op.key) ?? '(not UTF-8)';
      // Dropped before its transfer was done: what it drops must be at the receivers already.
      const early = receivers.pending.has(op.partition);
      const removed = early ? decoded(this.cluster.disks(node).engine.get(op.partition, op.key)) : this.streamed.get(node)?.get(`${receivers.ringVersion}/${op.partition}`)?.get(key);
      if (removed === undefined) continue;
      // The values it held as a replica. (A value written for fewer than N replicas may sit in
      // its store only because it coordinated that write as a stand-in: its hint went on to
      // the intended replica. Tombstones name no write to ask.)
      const held = removed.siblings.filter((s) => !s.deleted && (this.putOf(valueIdOf(s.value, false))?.quorum.n ?? this.settings.n) >= this.settings.n);
      const hinted = this.hintsOn(node, op.partition, op.key);
      const seen = (id: string): boolean => {
        const copy = syncObjects(syncObjects(this.cluster.node(id)?.localVersions(op.key)?.object, this.diskCopy(id, op.partition, key)), hinted);
        return held.every((s) => hasSeen(copy, valueIdOf(s.value, false), s.dot) || this.pruned(id, copy, s.dot.actor));
      };
      // A receiver that has since handed the partition on (a later change) passed it to its successors.
      const missing = (receivers.byPartition.get(op.partition) ?? []).filter((to) => !seen(to) && !this.successorsOf(to, op.partition, receivers.target).some(seen));
      if (missing.length === 0) continue;
      const lost = held.map((s) => valueIdOf(s.value, false));
      this.report({
        kind: 'copy-dropped',
        key,
        valueIds: lost,
        message: early
          ? `${node} dropped its copy of ${key} holding [${lost.join(' ')}] before its transfer of partition ${op.partition} to [${missing.join(' ')}] was done`
          : `${node} dropped its copy of ${key}, which held [${lost.join(' ')}] when its transfer of partition ${op.partition} was done, before [${missing.join(' ')}], which that transfer went to, had seen it`,
        records: [],
      });
    }
  }

  /** Per partition, the nodes `node` streamed it to in the latest membership change it knows (its persisted state). */
  private receiversOf(node: string): StreamedTo {
    const byPartition = new Map<number, string[]>();
    const pending = new Set<number>();
    const stored = this.cluster.disks(node).meta.get(MEMBERSHIP_RECORD);
    if (stored === undefined) return { ringVersion: 0, byPartition, pending, target: undefined };
    const state = decodeState(stored);
    for (const transfer of state.change?.transfers ?? []) {
      if (transfer.from !== node) continue;
      byPartition.set(transfer.partition, [...(byPartition.get(transfer.partition) ?? []), transfer.to]);
      if (!transfer.done) pending.add(transfer.partition);
    }
    return { ringVersion: state.ringVersion, byPartition, pending, target: state };
  }

  /**
   * When `receiver` no longer replicates the partition in the newest cluster state any node
   * stored: the replicas that gained it since `since` (its successors); else none.
   */
  private successorsOf(receiver: string, partition: number, since: ClusterState | undefined): string[] {
    if (since === undefined) return [];
    let newest = since;
    for (const id of this.cluster.ids) {
      const stored = this.cluster.disks(id).meta.get(MEMBERSHIP_RECORD);
      if (stored === undefined) continue;
      const state = decodeState(stored);
      if (state.clusterId === since.clusterId && state.ringVersion > newest.ringVersion) newest = state;
    }
    const now = replicasOf(newest.ring, partition, newest.replicas);
    if (now.includes(receiver)) return [];
    const before = replicasOf(since.ring, partition, since.replicas);
    return now.filter((id) => !before.includes(id));
  }

  /** `node` is about to write this batch to its hint disk (the hints it deletes are still there). */
  beforeHintWrite(node: string, ops: readonly WriteOp[]): void {
    const disk = this.cluster.disks(node).hintEngine;
    for (const op of ops) {
      if (op.kind !== 'delete' || op.partition !== HINTS_PARTITION) continue;
      const entry = this.hintEntries.get(hexOf(op.key));
      const removed = decoded(disk.get(HINTS_PARTITION, op.key));
      if (entry === undefined || removed === undefined) continue;
      if (this.holdsAll(entry.target, this.diskCopy(entry.target, entry.partition, entry.key), removed)) continue;
      const replicas = this.replicasIfDeparted(node, entry.target, entry.partition);
      if (replicas !== undefined && replicas.every((id) => this.onDiskFor(id, entry.partition, entry.key, removed))) continue;
      const passedOn = this.replicasIn(entry.target, entry.partition) ?? [];
      if (passedOn.some((id) => id !== entry.target && this.holdsAll(id, this.diskCopy(id, entry.partition, entry.key), removed))) continue;
      const lost = versionsOf(removed).map((v) => (v.deleted ? `tomb@${formatDot(v.dot)}` : v.valueId));
      this.report({
        kind: 'hint-dropped',
        key: entry.key,
        valueIds: lost.filter((id) => !id.startsWith('tomb@')),
        message: `${node} deleted its hint for ${entry.target} of ${entry.key} holding [${lost.join(' ')}] before ${entry.target}'s disk had seen it`,
        records: [],
      });
    }
  }

  /**
   * Whether `copy` (node `id`'s) has seen every version of `object`: holds it, or covers its
   * dot, or pruned its actor from a full vector (vectorEntriesMax: a copy's vector can then
   * no longer show what it saw of that actor, while a hint's, merged from several writes,
   * may still list it).
   */
  private holdsAll(id: string, copy: StoredObject | undefined, object: StoredObject): boolean {
    return object.siblings.every(
      (s) => copy?.siblings.some((c) => dotsEqual(c.dot, s.dot)) === true || (copy !== undefined && covers(copy.vector, s.dot)) || this.pruned(id, copy, s.dot.actor),
    );
  }

  private pruned(id: string, copy: StoredObject | undefined, actor: string): boolean {
    const config = this.cluster.configOf(id);
    // Entries younger than vectorPruneAgeMs are pruned only past the hard limit; a run's virtual time is far shorter than any age above 0.
    const full = config.vectorPruneAgeMs === 0 ? config.vectorEntriesMax : Math.max(config.vectorEntriesMax, VECTOR_ENTRIES_HARD_MAX);
    return copy !== undefined && copy.vector.length >= full && !copy.vector.some((e) => e.actor === actor);
  }

  /**
   * Whether `id`'s disks have seen every version of `object`, or some node's hint disk holds
   * them for `id` (a replica that streams the partition to `id` keeps the writes it takes
   * meanwhile as hints for it: seed 300397 delivered a departed owner's hint there).
   */
  private onDiskFor(id: string, partition: number, key: string, object: StoredObject): boolean {
    if (this.holdsAll(id, this.diskCopy(id, partition, key), object)) return true;
    const hint = hintKey(id, partition, encodeUtf8(key));
    return this.cluster.ids.some((holder) => this.holdsAll(id, decoded(this.cluster.disks(holder).hintEngine.get(HINTS_PARTITION, hint)), object));
  }

  /** What the node's disks hold of the key: its object, merged with the hints it keeps for anyone. */
  private diskCopy(node: string, partition: number, key: string): StoredObject | undefined {
    const keyBytes = encodeUtf8(key);
    return syncObjects(decoded(this.cluster.disks(node).engine.get(partition, keyBytes)), this.hintsOn(node, partition, keyBytes));
  }

  /** The hints the node's disk holds for the key, for anyone, merged. */
  private hintsOn(node: string, partition: number, key: Uint8Array): StoredObject | undefined {
    const disk = this.cluster.disks(node).hintEngine;
    let merged: StoredObject | undefined;
    for (const target of this.cluster.ids) merged = syncObjects(merged, decoded(disk.get(HINTS_PARTITION, hintKey(target, partition, key))));
    return merged;
  }

  /** When `target` is no longer a member as `node` sees it: the partition's replicas in `node`'s serving ring. */
  private replicasIfDeparted(node: string, target: string, partition: number): string[] | undefined {
    const status = this.cluster.node(node)?.membership?.ring().members.find((m) => m.id === target)?.status;
    return status === undefined || status === 'removed' ? this.replicasIn(node, partition) : undefined;
  }

  /** The partition's replicas in `node`'s serving ring (undefined: no view to ask). */
  private replicasIn(node: string, partition: number): string[] | undefined {
    const view = this.cluster.node(node)?.membership?.ring();
    if (view === undefined) return undefined;
    const owners = new Set(view.owners);
    return primaryNodes(makeRing([...owners], view.owners), partition, Math.min(this.settings.n, owners.size));
  }

  /** Live nodes that have seen the write (store, buffer included, or hints), and disks that have. */
  /** `hinted`: the nodes holding it in a hint for anyone but `notFor`. */
  private holders(key: string, valueId: string, dot: Dot | undefined, notFor?: string): { memory: string[]; disk: string[]; hinted: string[] } {
    const keyBytes = encodeUtf8(key);
    const partition = partitionOfKey(keyBytes, this.settings.partitionCount);
    const memory: string[] = [];
    const disk: string[] = [];
    const hinted: string[] = [];
    for (const id of this.cluster.ids) {
      const disks = this.cluster.disks(id);
      const hintsFor = this.cluster.ids.filter((target) => hasSeen(decoded(disks.hintEngine.get(HINTS_PARTITION, hintKey(target, partition, keyBytes))), valueId, dot));
      const inHints = hintsFor.length > 0;
      if (hintsFor.some((target) => target !== notFor)) hinted.push(id);
      const onDisk = inHints || hasSeen(decoded(disks.engine.get(partition, keyBytes)), valueId, dot);
      if (onDisk) disk.push(id);
      const node = this.cluster.node(id);
      if (onDisk || (node !== undefined && hasSeen(node.localVersions(keyBytes)?.object, valueId, dot))) memory.push(id);
    }
    return { memory, disk, hinted };
  }

  private report(violation: Violation): void {
    if (this.violations.filter((v) => v.kind === violation.kind).length < VIOLATIONS_PER_KIND_MAX) this.violations.push(violation);
  }
}

/** The object holds the value, or has seen its dot (a later version superseded it). */
function hasSeen(object: StoredObject | undefined, valueId: string, dot: Dot | undefined): boolean {
  if (object === undefined) return false;
  return (dot !== undefined && covers(object.vector, dot)) || object.siblings.some((sibling) => !sibling.deleted && valueIdOf(sibling.value, false) === valueId);
}

function decoded(bytes: Uint8Array | undefined): StoredObject | undefined {
  return bytes === undefined ? undefined : decodeObject(bytes);
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
