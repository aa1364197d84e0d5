/**
 * Backup and restore, the node's side (the `shoal backup` and `shoal restore` commands drive
 * it over the HTTP API, api/backupRoutes.ts).
 *
 * Backup: a page of a partition is read from every owner of it this node believes up (the
 * first N of the serving ring; this node's own copy directly when it is one), each owner's
 * page in key order, and merged key by key (core/backup/mergePages.ts; copies that differ are
 * joined with syncObjects), so the page holds every version any reachable owner holds. No
 * owner reachable, or one believed up that fails its page: QUORUM_UNREACHABLE (503), and the
 * caller asks again (the failure detector leaves a dead owner out by then).
 *
 * Restore: every object of a request is checked first (key, object codec) and nothing is
 * written unless all are good (RESTORE_INVALID); then each partition's objects are merged, in
 * batches, into the owners of the serving ring believed up, durably (as a partition transfer
 * writes: a merge never supersedes a newer version). A batch succeeds once W owners have
 * acknowledged it; the owners that missed it catch up by anti-entropy. Fewer than W:
 * QUORUM_UNREACHABLE, and the caller sends the request again (merges are idempotent).
 *
 * Both are background work: each owner rests after reading its page, and this node after
 * a restore request, for as long as the admission controller says (capped at PAUSE_MS_MAX).
 */
import { partitionOfKey } from '../../core/hash.ts';
import { bytesEqual, compareBytes } from '../../core/bytes.ts';
import { syncObjects, type StoredObject } from '../../core/object.ts';
import { mergeOwnerPages, type MergedPage, type OwnerPage } from '../../core/backup/mergePages.ts';
import type { KeyedBytes } from '../../core/backup/entries.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Replica } from '../../ports/replica.ts';
import type { NodeId } from '../../ports/transport.ts';
import { CorruptObjectError, decodeObject, encodeObject } from '../../storage/objectCodec.ts';
import type { BackgroundPacer } from '../admission.ts';
import { primariesOf, type ClusterView } from '../cluster.ts';
import { RequestError } from '../errors.ts';
import { readBoundedPage, type BoundedPage } from '../partitionPage.ts';
import { describeFailure, type PeerClient } from '../peerClient.ts';
import { BadMessageError, TRANSFER_BATCH_OBJECTS_MAX, type PartitionPageReply, type PartitionScanMessage, type TransferBatchMessage } from '../protocol.ts';

/** Objects in one backup page at most (the limit a client may ask for). */
export const BACKUP_PAGE_OBJECTS_MAX = TRANSFER_BATCH_OBJECTS_MAX;
/** Key and object bytes asked of each owner for one page (the first object always, however large). */
export const OWNER_PAGE_BYTES_MAX = 1024 * 1024;
/** The longest rest after a unit of backup or restore work: a page must still answer within its timeout. */
export const PAUSE_MS_MAX = 1000;

export interface BackupDeps {
  readonly self: NodeId;
  readonly view: () => ClusterView;
  readonly replica: Replica;
  readonly isUp: (node: NodeId) => boolean;
  readonly peers: Pick<PeerClient, 'request'>;
  readonly clock: Clock;
  readonly pacer: BackgroundPacer;
  readonly keyBytesMax: number;
  /** How long an owner gets to answer (its rest comes on top). */
  readonly timeoutMs: number;
  /** A restore's batches, as a partition transfer's. */
  readonly batchObjectsMax: number;
  readonly batchBytesMax: number;
}

export interface RestoreResult {
  readonly objects: number;
  readonly partitions: number;
}

interface Batch {
  readonly keys: Uint8Array[];
  readonly encoded: Uint8Array[];
  readonly objects: StoredObject[];
  bytes: number;
}

export class BackupService {
  constructor(private readonly deps: BackupDeps) {}

  /** The partition's objects after `afterKey` that every reachable owner holds, merged, and where the next page starts. */
  async page(partition: number, afterKey: Uint8Array | undefined, objectsMax: number): Promise<MergedPage> {
    const view = this.deps.view();
    checkPartition(view, partition);
    const owners = primariesOf(view, partition, view.quorum.n);
    const reachable = owners.filter((owner) => owner === this.deps.self || this.deps.isUp(owner));
    if (reachable.length === 0) {
      throw new RequestError('QUORUM_UNREACHABLE', `no owner of partition ${partition} is reachable (${owners.join(', ')} down): a backup would miss it`);
    }
    const scan: PartitionScanMessage = { type: 'partition-scan', partition, objectsMax, bytesMax: OWNER_PAGE_BYTES_MAX, ...(afterKey === undefined ? {} : { afterKey }) };
    const pages = await Promise.all(reachable.map((owner) => this.ownerPage(owner, scan)));
    return mergeOwnerPages(pages, (key, copies) => joinCopies(partition, key, copies));
  }

  /** An owner's answer to a partition-scan: its own page, read after a rest (an owner serves it, locally or for a peer). */
  async servePartitionScan(message: PartitionScanMessage): Promise<PartitionPageReply> {
    const view = this.deps.view();
    const { partition } = message;
    if (partition >= view.ring.partitionCount) throw new BadMessageError(`partition ${partition} is not on the ring of ${view.ring.partitionCount}`);
    if (view.holds[partition] !== true) throw new RequestError('EXCHANGE_REFUSED', `${this.deps.self} holds no copy of partition ${partition}`);
    const startedMs = this.deps.clock.monotonicMs();
    const page = readBoundedPage(this.deps.replica, partition, message.afterKey, message.objectsMax, message.bytesMax);
    await this.rest(this.deps.clock.monotonicMs() - startedMs);
    return pageReply(page);
  }

  /** Merges every entry into W or more owners of its partition; nothing is written unless every entry is valid. */
  async restore(entries: readonly KeyedBytes[]): Promise<RestoreResult> {
    const startedMs = this.deps.clock.monotonicMs();
    const view = this.deps.view();
    const partitions = this.checkedBatches(view, entries);
    for (const [partition, batches] of partitions) for (const batch of batches) await this.writeBatch(view, partition, batch);
    // The owners' merges are the work, and they do not pace transfer batches themselves.
    await this.rest(this.deps.clock.monotonicMs() - startedMs);
    return { objects: entries.length, partitions: partitions.size };
  }

  private async ownerPage(owner: NodeId, scan: PartitionScanMessage): Promise<OwnerPage> {
    const reply = owner === this.deps.self ? await this.servePartitionScan(scan) : await this.askOwner(owner, scan);
    const view = this.deps.view();
    const { keys, objects, resumeAfter } = reply;
    const first = keys[0];
    if (first !== undefined && scan.afterKey !== undefined && compareBytes(first, scan.afterKey) <= 0) throw ownerFailed(owner, scan.partition, 'its page starts before the cursor');
    for (const key of keys) {
      if (key.length === 0 || key.length > this.deps.keyBytesMax || partitionOfKey(key, view.ring.partitionCount) !== scan.partition) throw ownerFailed(owner, scan.partition, 'its page holds a key of another partition');
    }
    return { entries: keys.map((key, i) => ({ key, bytes: objects[i] as Uint8Array })), resumeAfter };
  }

  private async askOwner(owner: NodeId, scan: PartitionScanMessage): Promise<PartitionPageReply> {
    let reply;
    try {
      reply = await this.deps.peers.request(owner, scan, this.deps.timeoutMs + PAUSE_MS_MAX);
    } catch (error) {
      throw ownerFailed(owner, scan.partition, describeFailure(error));
    }
    if (reply.type !== 'partition-page') throw ownerFailed(owner, scan.partition, describeFailure(reply));
    return reply;
  }

  /** Every entry checked and decoded, grouped by partition, in batches of a partition transfer's size. */
  private checkedBatches(view: ClusterView, entries: readonly KeyedBytes[]): Map<number, Batch[]> {
    const { keyBytesMax, batchObjectsMax, batchBytesMax } = this.deps;
    const partitions = new Map<number, Batch[]>();
    entries.forEach(({ key, bytes }, index) => {
      if (key.length === 0 || key.length > keyBytesMax) throw new RequestError('RESTORE_INVALID', `entry ${index}: key of ${key.length} bytes (1-${keyBytesMax})`);
      const object = decodeEntry(index, bytes);
      const partition = partitionOfKey(key, view.ring.partitionCount);
      const batches = partitions.get(partition) ?? [];
      if (batches.length === 0) partitions.set(partition, batches);
      let batch = batches[batches.length - 1];
      if (batch === undefined || batch.keys.length >= batchObjectsMax || batch.bytes + key.length + bytes.length > batchBytesMax) {
        batch = { keys: [], encoded: [], objects: [], bytes: 0 };
        batches.push(batch);
      }
      batch.keys.push(key);
      batch.encoded.push(bytes);
      batch.objects.push(object);
      batch.bytes += key.length + bytes.length;
    });
    return partitions;
  }

  private async writeBatch(view: ClusterView, partition: number, batch: Batch): Promise<void> {
    const { w } = view.quorum;
    const owners = primariesOf(view, partition, view.quorum.n);
    const reachable = owners.filter((owner) => owner === this.deps.self || this.deps.isUp(owner));
    if (reachable.length < w) {
      throw new RequestError('QUORUM_UNREACHABLE', `restoring partition ${partition} needs ${w} of its owners (${owners.join(', ')}), only ${reachable.length} reachable; nothing of this batch was written`);
    }
    const message: TransferBatchMessage = { type: 'transfer-batch', partition, keys: batch.keys, objects: batch.encoded };
    const outcomes = await Promise.allSettled(reachable.map((owner) => (owner === this.deps.self ? this.deps.replica.mergeBatch(partition, batch.keys, batch.objects) : this.sendBatch(owner, message))));
    const failures = outcomes.flatMap((outcome, i) => (outcome.status === 'rejected' ? [`${reachable[i]}: ${describeFailure(outcome.reason)}`] : []));
    if (reachable.length - failures.length < w) {
      throw new RequestError('QUORUM_UNREACHABLE', `restoring partition ${partition} needs ${w} acknowledgements, got ${reachable.length - failures.length} (${failures.join('; ')}); send it again: merges are idempotent`);
    }
  }

  private async sendBatch(owner: NodeId, message: TransferBatchMessage): Promise<void> {
    const reply = await this.deps.peers.request(owner, message, this.deps.timeoutMs);
    if (reply.type !== 'ack') throw new Error(describeFailure(reply));
  }

  private rest(workMs: number): Promise<void> {
    const ms = Math.min(PAUSE_MS_MAX, this.deps.pacer.pauseAfterMs(workMs));
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.deps.clock.setTimer(ms, resolve));
  }
}

function checkPartition(view: ClusterView, partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= view.ring.partitionCount) {
    throw new RequestError('REQUEST_OPTION_INVALID', `partition must be an integer 0-${view.ring.partitionCount - 1}, got ${partition}`);
  }
}

function pageReply(page: BoundedPage): PartitionPageReply {
  const keys = page.entries.map((entry) => entry.key);
  const objects = page.entries.map((entry) => entry.bytes);
  return page.resumeAfter === undefined ? { type: 'partition-page', keys, objects } : { type: 'partition-page', keys, objects, resumeAfter: page.resumeAfter };
}

/** The owners' copies of one key as one: the same bytes as they are, else every version of them joined. */
function joinCopies(partition: number, key: Uint8Array, copies: readonly Uint8Array[]): Uint8Array {
  const first = copies[0] as Uint8Array;
  if (copies.every((copy) => bytesEqual(copy, first))) return first;
  let joined: StoredObject | undefined;
  for (const copy of copies) {
    try {
      joined = syncObjects(joined, decodeObject(copy));
    } catch (error) {
      if (error instanceof CorruptObjectError) throw new RequestError('STORAGE_ERROR', `a copy of a key of partition ${partition} (${key.length} bytes) does not decode: ${error.reason}`);
      throw error;
    }
  }
  return encodeObject(joined as StoredObject);
}

function decodeEntry(index: number, bytes: Uint8Array): StoredObject {
  try {
    return decodeObject(bytes);
  } catch (error) {
    if (error instanceof CorruptObjectError) throw new RequestError('RESTORE_INVALID', `entry ${index}: ${error.reason}`);
    throw error;
  }
}

function ownerFailed(owner: NodeId, partition: number, reason: string): RequestError {
  return new RequestError('QUORUM_UNREACHABLE', `owner ${owner} of partition ${partition} failed its backup page (${reason}); ask again: a page holds every reachable owner's versions`);
}
