/**
 * The replica side of a listing page: answers a `list-keys` request (a peer's, a client's,
 * or this node's own coordinator's) from this node's partitions.
 *
 * Listing is a long scan, paced as background work (paper 6.5): after each answer the
 * node owes the rest the admission controller asks for that work, and the next listing
 * answer waits for it (at most LIST_WAIT_MS_MAX, so a page still answers in its time).
 * Every listing on the node shares the one debt, so together they take about the
 * background share of its time, and much less while client requests suffer.
 */
import type { Clock } from '../../ports/clock.ts';
import type { PartitionReader } from '../../ports/replica.ts';
import { RequestError } from '../errors.ts';
import { BadMessageError, type KeyListsReply, type ListKeysMessage } from '../protocol.ts';
import { listPartitionKeys } from './partitionKeys.ts';

/** Stored objects (live or deleted) one partition's answer looks at, at most. */
export const LIST_SCAN_OBJECTS_MAX = 4096;
/**
 * Stored objects one answer looks at over all its partitions, at most: the partitions share
 * it (each gets LIST_SCAN_OBJECTS_MIN at least, so each moves on), which bounds the time an
 * answer holds the event loop whatever a request asks.
 */
export const LIST_SCAN_OBJECTS_PER_ANSWER_MAX = 65_536;
const LIST_SCAN_OBJECTS_MIN = 16;
/** The longest a listing answer waits for the rest owed by the ones before it. */
export const LIST_WAIT_MS_MAX = 500;

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

export class ListingService {
  /** When the rest owed by the listing answers so far ends (monotonic ms). */
  private restedAtMs = 0;

  constructor(private readonly deps: ListingServiceDeps) {}

  async serve(message: ListKeysMessage): Promise<KeyListsReply> {
    const { deps } = this;
    checkListKeys(deps, message);
    const waitMs = Math.min(LIST_WAIT_MS_MAX, this.restedAtMs - deps.clock.monotonicMs());
    if (waitMs > 0) await new Promise<void>((resolve) => deps.clock.setTimer(waitMs, resolve));
    const startedMs = deps.clock.monotonicMs();
    const reply = listPartitions(deps, message);
    const endedMs = deps.clock.monotonicMs();
    this.restedAtMs = endedMs + deps.pauseAfterMs(endedMs - startedMs);
    return reply;
  }
}

/** Every asked partition's answer, synchronously (a consistent view of each). */
function listPartitions(deps: ListingServiceDeps, message: ListKeysMessage): KeyListsReply {
  const range = { prefix: message.prefix, after: message.after };
  const shareOfAnswer = Math.floor(LIST_SCAN_OBJECTS_PER_ANSWER_MAX / Math.max(1, message.partitions.length));
  const scanObjectsMax = Math.max(LIST_SCAN_OBJECTS_MIN, Math.min(LIST_SCAN_OBJECTS_MAX, shareOfAnswer));
  const limits = { keysMax: message.keysMax, scanObjectsMax, keyBytesMax: deps.keyBytesMax };
  const keys: Uint8Array[] = [];
  const counts: number[] = [];
  const through: Uint8Array[] = [];
  for (const partition of message.partitions) {
    if (!deps.holds(partition)) throw new RequestError('PARTITION_NOT_HELD', `this node holds no copy of partition ${partition}`);
    const answer = listPartitionKeys(deps.reader, partition, range, limits);
    for (const key of answer.keys) keys.push(key);
    counts.push(answer.keys.length);
    through.push(answer.through ?? NO_KEYS);
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
