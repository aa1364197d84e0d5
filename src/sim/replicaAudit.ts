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
 *   seen that copy, or the former replica still holds what is missing as a hint (for the
 *   receiver, or for another replica: a write it coordinated by a stale view after it
 *   stopped holding the partition): a partition handed over is streamed before it is
 *   dropped (paper 4.9).
 * - redundancy-lost: once the cluster settled after healing (every hint handed back, every
 *   membership change done, former replicas' copies dropped), and before the final reads
 *   repair anything, every acknowledged put is still seen by at least W of its key's
 *   replicas under the final ring, less one per crash since the put started (a crash may
 *   lose the crashed node's buffered copy, which a transfer from it then passes on; a
 *   node crashed for good loses its copy even from disk). This is what shows a membership
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
import { covers, type Dot } from '../core/clock.ts';
import { partitionOfKey } from '../core/hash.ts';
import { primaryNodes } from '../core/preflist.ts';
import { makeRing } from '../core/ring.ts';
import { decodeState } from '../core/membership/codec.ts';
import { objectDescends, syncObjects, type StoredObject } from '../core/object.ts';
import { MEMBERSHIP_RECORD } from '../node/membership/membership.ts';
import type { Quorum } from '../node/request.ts';
import type { WriteOp } from '../ports/storage.ts';
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

interface HintEntry {
  readonly target: string;
  readonly key: string;
  readonly partition: number;
}

/** Violations kept per kind (the first ones tell the story). */
const VIOLATIONS_PER_KIND_MAX = 10;

export class ReplicaAudit {
  readonly violations: Violation[] = [];
  /** Acknowledged puts checked (the rest were skipped because of a crash). */
  acksChecked = 0;
  /** Puts that only a node crashed for good had seen, when it crashed. */
  readonly exposedByRemoval = new Set<string>();
  private readonly hintEntries = new Map<string, HintEntry>();

  constructor(
    private readonly cluster: SimCluster,
    private readonly settings: AuditSettings,
    keys: readonly string[],
  ) {
    for (const key of keys) {
      const keyBytes = encodeUtf8(key);
      const partition = partitionOfKey(keyBytes, settings.partitionCount);
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
    for (const record of records) {
      if (record.op !== 'put' || record.outcome !== 'ok' || record.valueId === undefined || record.dot === undefined) continue;
      // Without a buffer, or with every acknowledgement fsynced, only a node crashed for good loses its copy.
      const buffersLost = this.settings.bufferObjectsMax > 0 && this.settings.durableWrites !== 'all';
      const crashes = this.cluster.crashLog.filter((crash) => crash.atMs >= record.startMs && (buffersLost || crash.retired)).length;
      const required = record.quorum.w - crashes;
      if (required <= 0) continue;
      const keyBytes = encodeUtf8(record.key);
      const replicas = replicasOf(record.key);
      const holding = replicas.filter((id) => hasSeen(this.cluster.node(id)?.localVersions(keyBytes)?.object, record.valueId as string, record.dot));
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

  /** `node` is about to crash for good: the puts only it has seen may be lost with it (see the file comment). */
  nodeRetiring(node: string, records: readonly OpRecord[], replicasOf: (key: string) => ReadonlySet<string>): void {
    for (const record of records) {
      if (record.op !== 'put' || record.valueId === undefined) continue;
      const { memory, hinted } = this.holders(record.key, record.valueId, record.dot, node);
      if (!memory.includes(node)) continue;
      const replicas = replicasOf(record.key);
      const kept = memory.some((id) => id !== node && (hinted.includes(id) || replicas.has(id)));
      if (!kept) this.exposedByRemoval.add(record.valueId);
    }
  }

  /** `node` is about to write this batch to its object disk (deletions are dropped copies). */
  beforeObjectWrite(node: string, ops: readonly WriteOp[]): void {
    let receivers: Map<number, string[]> | undefined;
    for (const op of ops) {
      if (op.kind !== 'delete') continue;
      const removed = decoded(this.cluster.disks(node).engine.get(op.partition, op.key));
      if (removed === undefined) continue;
      receivers ??= this.receiversOf(node);
      const key = decodeUtf8(op.key) ?? '(not UTF-8)';
      const hinted = this.hintsOn(node, op.partition, op.key);
      const missing = (receivers.get(op.partition) ?? []).filter((to) => {
        const live = this.cluster.node(to)?.localVersions(op.key)?.object;
        return !objectDescends(syncObjects(syncObjects(live, this.diskCopy(to, op.partition, key)), hinted), removed);
      });
      if (missing.length === 0) continue;
      const lost = versionsOf(removed).map((v) => (v.deleted ? `tomb@${formatDot(v.dot)}` : v.valueId));
      this.report({
        kind: 'copy-dropped',
        key,
        valueIds: lost.filter((id) => !id.startsWith('tomb@')),
        message: `${node} dropped its copy of ${key} holding [${lost.join(' ')}] before [${missing.join(' ')}], which its transfer of partition ${op.partition} went to, had seen it`,
        records: [],
      });
    }
  }

  /** Per partition, the nodes `node` streamed it to in the latest membership change it knows (its persisted state). */
  private receiversOf(node: string): Map<number, string[]> {
    const receivers = new Map<number, string[]>();
    const stored = this.cluster.disks(node).meta.get(MEMBERSHIP_RECORD);
    if (stored === undefined) return receivers;
    for (const transfer of decodeState(stored).change?.transfers ?? []) {
      if (transfer.from !== node) continue;
      receivers.set(transfer.partition, [...(receivers.get(transfer.partition) ?? []), transfer.to]);
    }
    return receivers;
  }

  /** `node` is about to write this batch to its hint disk (the hints it deletes are still there). */
  beforeHintWrite(node: string, ops: readonly WriteOp[]): void {
    const disk = this.cluster.disks(node).hintEngine;
    for (const op of ops) {
      if (op.kind !== 'delete' || op.partition !== HINTS_PARTITION) continue;
      const entry = this.hintEntries.get(hexOf(op.key));
      const removed = decoded(disk.get(HINTS_PARTITION, op.key));
      if (entry === undefined || removed === undefined) continue;
      if (objectDescends(this.diskCopy(entry.target, entry.partition, entry.key), removed)) continue;
      const replicas = this.replicasIfDeparted(node, entry.target, entry.partition);
      if (replicas !== undefined && replicas.every((id) => objectDescends(this.diskCopy(id, entry.partition, entry.key), removed))) continue;
      const passedOn = this.replicasIn(entry.target, entry.partition) ?? [];
      if (passedOn.some((id) => id !== entry.target && objectDescends(this.diskCopy(id, entry.partition, entry.key), removed))) continue;
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
