/**
 * The replica side of a listing page: answers a `list-keys` request (a peer's, a client's,
 * or this node's own coordinator's) from this node's partitions, one partition after the
 * other, pausing between them as the admission controller says (paper 6.5): a listing is
 * a long scan, and it yields to the requests of clients when they suffer.
 */
import type { Clock } from '../../ports/clock.ts';
import type { PartitionReader } from '../../ports/replica.ts';
import { RequestError } from '../errors.ts';
import { BadMessageError, type KeyListsReply, type ListKeysMessage } from '../protocol.ts';
import { listPartitionKeys } from './partitionKeys.ts';

/** Stored objects (live or deleted) one partition's answer looks at, at most. */
export const LIST_SCAN_OBJECTS_MAX = 4096;

export interface ListingServiceDeps {
  readonly reader: PartitionReader;
  readonly clock: Clock;
  readonly partitionCount: number;
  readonly keyBytesMax: number;
  /** Whether this node keeps a copy of the partition (it answers only for those). */
  readonly holds: (partition: number) => boolean;
  /** How long to rest after `workMs` of scanning (the admission controller's pauseAfterMs). */
  readonly pauseAfterMs: (workMs: number) => number;
}

const NO_KEYS = new Uint8Array(0);

export async function serveListKeys(deps: ListingServiceDeps, message: ListKeysMessage): Promise<KeyListsReply> {
  checkListKeys(deps, message);
  const range = { prefix: message.prefix, after: message.after };
  const limits = { keysMax: message.keysMax, scanObjectsMax: LIST_SCAN_OBJECTS_MAX, keyBytesMax: deps.keyBytesMax };
  const keys: Uint8Array[] = [];
  const counts: number[] = [];
  const through: Uint8Array[] = [];
  for (const partition of message.partitions) {
    if (!deps.holds(partition)) throw new RequestError('PARTITION_NOT_HELD', `this node holds no copy of partition ${partition}`);
    const startedMs = deps.clock.monotonicMs();
    const answer = listPartitionKeys(deps.reader, partition, range, limits);
    keys.push(...answer.keys);
    counts.push(answer.keys.length);
    through.push(answer.through ?? NO_KEYS);
    await rest(deps, deps.pauseAfterMs(deps.clock.monotonicMs() - startedMs));
  }
  return { type: 'key-lists', keys, counts, through };
}

function checkListKeys(deps: ListingServiceDeps, message: ListKeysMessage): void {
  for (const partition of message.partitions) {
    if (partition >= deps.partitionCount) throw new BadMessageError(`partition ${partition} is not on a ring of ${deps.partitionCount}`);
  }
  if (message.prefix.length > deps.keyBytesMax) throw new BadMessageError(`prefix is ${message.prefix.length} bytes, over keyBytesMax ${deps.keyBytesMax}`);
  const after = message.after;
  if (after !== undefined && (after.length === 0 || after.length > deps.keyBytesMax)) {
    throw new BadMessageError(`after must be a key of 1-${deps.keyBytesMax} bytes, got ${after.length}`);
  }
}

function rest(deps: ListingServiceDeps, pauseMs: number): Promise<void> | undefined {
  if (!(pauseMs > 0)) return undefined;
  return new Promise((resolve) => deps.clock.setTimer(pauseMs, resolve));
}
