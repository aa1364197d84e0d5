/**
 * Listing keys in byte order across the cluster, pure.
 *
 * Keys are spread over partitions by hash, so one page of the global order is a merge of
 * every partition's next keys. A coverage plan picks one replica per partition (as Riak's
 * coverage queries do); each replica reads its partition in key order after the page's
 * start and answers a few keys more than the page's share, and `through`: the key up to
 * which it looked at everything (none when it reached the end of the range). The page is
 * then exact up to the smallest `through`: no partition can hold an unseen key before it.
 */
import { decodeBase64Url, encodeBase64Url } from './base64url.ts';
import { compareBytes } from './bytes.ts';
import { pushTo } from './collections.ts';

/** Keys one listing page holds at most. */
export const LIST_PAGE_KEYS_MAX = 1000;
/** Keys on a page when the client names no limit. */
export const LIST_PAGE_KEYS_DEFAULT = 100;

/** One partition's answer to a listing page. */
export interface PartitionKeys {
  /** Live keys after the page's start, in byte order. */
  readonly keys: readonly Uint8Array[];
  /** Every key up to this one was looked at; undefined: the partition's range was read to its end. */
  readonly through: Uint8Array | undefined;
}

export interface ListingPage {
  readonly keys: Uint8Array[];
  /** Where the next page starts (exclusive); undefined once the listing is complete. */
  readonly next: Uint8Array | undefined;
}

/**
 * How many keys to ask each partition for, so that the page's `limit` keys usually come
 * back in one round: about twice a partition's share of the page, plus a margin for the
 * spread of a hash over few keys.
 */
export function keysPerPartition(limit: number, partitions: number): number {
  return Math.ceil((2 * limit) / partitions) + 8;
}

/** Merges the partitions' answers into a page of at most `limit` keys, exact up to its `next`. */
export function mergePartitionKeys(answers: readonly PartitionKeys[], limit: number): ListingPage {
  let bound: Uint8Array | undefined;
  for (const answer of answers) {
    if (answer.through !== undefined && (bound === undefined || compareBytes(answer.through, bound) < 0)) bound = answer.through;
  }
  const keys: Uint8Array[] = [];
  for (const answer of answers) {
    for (const key of answer.keys) {
      if (bound !== undefined && compareBytes(key, bound) > 0) break;
      keys.push(key);
    }
  }
  keys.sort(compareBytes);
  if (keys.length > limit) {
    keys.length = limit;
    return { keys, next: keys[limit - 1] };
  }
  return { keys, next: bound };
}

/** The format byte of a continuation token: a later format can change its meaning. */
const TOKEN_FORMAT = 1;

/** A page's continuation as clients carry it: opaque base64url text naming the key it follows. */
export function encodeListToken(after: Uint8Array): string {
  const bytes = new Uint8Array(after.length + 1);
  bytes[0] = TOKEN_FORMAT;
  bytes.set(after, 1);
  return encodeBase64Url(bytes);
}

/** The key a continuation token names, or the reason it is not one (`keyBytesMax` bounds it). */
export function decodeListToken(token: string, keyBytesMax: number): { readonly after: Uint8Array } | { readonly reason: string } {
  const bytes = decodeBase64Url(token);
  if (bytes === undefined) return { reason: 'not base64url text' };
  if (bytes[0] !== TOKEN_FORMAT) return { reason: 'not a token of this listing format' };
  if (bytes.length < 2 || bytes.length > keyBytesMax + 1) return { reason: `it names a key outside 1-${keyBytesMax} bytes` };
  return { after: bytes.subarray(1) };
}

/** Whether `key` starts with `prefix`. */
export function hasPrefix(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

/**
 * The greatest byte string of at most `lengthMax` bytes that sorts before `key`, so that
 * "after keyBefore(p)" starts a scan at p itself; undefined when nothing sorts before it
 * (the empty key). Keys are bounded, so no key lies strictly between the two.
 */
export function keyBefore(key: Uint8Array, lengthMax: number): Uint8Array | undefined {
  if (key.length === 0) return undefined;
  const last = key[key.length - 1] as number;
  if (last === 0) return key.subarray(0, key.length - 1);
  const before = new Uint8Array(Math.max(lengthMax, key.length)).fill(0xff);
  before.set(key.subarray(0, key.length - 1));
  before[key.length - 1] = last - 1;
  return before;
}

/**
 * The coverage plan of a listing: for each of `partitions`, one of its replicas believed up.
 * `self` is taken when it is one (no hop), otherwise the replica with the fewest
 * partitions so far, so the work spreads. Partitions with no replica up are `unreachable`.
 */
export function coveragePlan(
  partitions: readonly number[],
  replicasOf: (partition: number) => readonly string[],
  isUp: (node: string) => boolean,
  self: string | undefined,
  avoid: ReadonlySet<string> = NO_NODES,
): CoveragePlan {
  const byNode = new Map<string, number[]>();
  const unreachable: number[] = [];
  for (const partition of partitions) {
    const chosen = chooseReplica(replicasOf(partition), isUp, self, avoid, byNode);
    if (chosen === undefined) {
      unreachable.push(partition);
      continue;
    }
    pushTo(byNode, chosen, partition);
  }
  return { byNode, unreachable };
}

export interface CoveragePlan {
  /** The partitions each chosen node is asked for. */
  readonly byNode: Map<string, number[]>;
  /** Partitions none of whose replicas is up (and not avoided). */
  readonly unreachable: number[];
}

const NO_NODES: ReadonlySet<string> = new Set();

function chooseReplica(
  replicas: readonly string[],
  isUp: (node: string) => boolean,
  self: string | undefined,
  avoid: ReadonlySet<string>,
  byNode: ReadonlyMap<string, readonly number[]>,
): string | undefined {
  let chosen: string | undefined;
  for (const node of replicas) {
    if (avoid.has(node) || !(node === self || isUp(node))) continue;
    if (node === self) return node;
    if (chosen === undefined || (byNode.get(node)?.length ?? 0) < (byNode.get(chosen)?.length ?? 0)) chosen = node;
  }
  return chosen;
}
