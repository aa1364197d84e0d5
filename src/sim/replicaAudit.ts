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
 *   hint may go only after that acknowledgement).
 *
 * Both catch bugs that the end-of-run checker cannot see while other replicas mask them.
 */
import { encodeUtf8 } from '../core/bytes.ts';
import { covers, type Dot } from '../core/clock.ts';
import { partitionOfKey } from '../core/hash.ts';
import { objectDescends, type StoredObject } from '../core/object.ts';
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

  /** `node` is about to write this batch to its hint disk (the hints it deletes are still there). */
  beforeHintWrite(node: string, ops: readonly WriteOp[]): void {
    const disk = this.cluster.disks(node).hintEngine;
    for (const op of ops) {
      if (op.kind !== 'delete' || op.partition !== HINTS_PARTITION) continue;
      const entry = this.hintEntries.get(hexOf(op.key));
      const removed = decoded(disk.get(HINTS_PARTITION, op.key));
      if (entry === undefined || removed === undefined) continue;
      const ownerDisk = decoded(this.cluster.disks(entry.target).engine.get(entry.partition, encodeUtf8(entry.key)));
      if (objectDescends(ownerDisk, removed)) continue;
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

  /** Live nodes that have seen the write (store, buffer included, or hints), and disks that have. */
  private holders(key: string, valueId: string, dot: Dot): { memory: string[]; disk: string[] } {
    const keyBytes = encodeUtf8(key);
    const partition = partitionOfKey(keyBytes, this.settings.partitionCount);
    const memory: string[] = [];
    const disk: string[] = [];
    for (const id of this.cluster.ids) {
      const disks = this.cluster.disks(id);
      const hinted = this.cluster.ids.some((target) => hasSeen(decoded(disks.hintEngine.get(HINTS_PARTITION, hintKey(target, partition, keyBytes))), valueId, dot));
      const onDisk = hinted || hasSeen(decoded(disks.engine.get(partition, keyBytes)), valueId, dot);
      if (onDisk) disk.push(id);
      const node = this.cluster.node(id);
      if (onDisk || (node !== undefined && hasSeen(node.localVersions(keyBytes)?.object, valueId, dot))) memory.push(id);
    }
    return { memory, disk };
  }

  private report(violation: Violation): void {
    if (this.violations.filter((v) => v.kind === violation.kind).length < VIOLATIONS_PER_KIND_MAX) this.violations.push(violation);
  }
}

/** The object holds the value, or has seen its dot (a later version superseded it). */
function hasSeen(object: StoredObject | undefined, valueId: string, dot: Dot): boolean {
  if (object === undefined) return false;
  return covers(object.vector, dot) || object.siblings.some((sibling) => !sibling.deleted && valueIdOf(sibling.value, false) === valueId);
}

function decoded(bytes: Uint8Array | undefined): StoredObject | undefined {
  return bytes === undefined ? undefined : decodeObject(bytes);
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
