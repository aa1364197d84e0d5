/**
 * One anti-entropy exchange (paper 4.7) between this node and one other replica of a
 * partition, both sides answering from their incrementally kept hash trees:
 *
 *   1. compare roots; equal roots end the exchange (the common case: one round trip);
 *   2. walk down level by level, asking only for the children of differing nodes;
 *   3. for the differing segments (at most SEGMENTS_PER_EXCHANGE_MAX per exchange; the rest
 *      wait for the next one), exchange (key, digest) lists;
 *   4. send the objects whose versions differ or the peer lacks (it merges them durably, as
 *      a transfer batch), and fetch the ones this node lacks or holds differently, merging
 *      them here.
 *
 * Both sides reconcile syntactically (syncObjects), so repair never loses a version; bytes
 * exchanged grow with the number of differing keys, not with the partition.
 */
import { objectDigest, segmentOf, type TreeShape } from '../../core/antiEntropy/hashTree.ts';
import { bytesEqual } from '../../core/bytes.ts';
import type { StoredObject } from '../../core/object.ts';
import type { Replica } from '../../ports/replica.ts';
import { decodeObject } from '../../storage/objectCodec.ts';
import { RequestError } from '../errors.ts';
import { applyReap, type ReapPeer, type ReapSteps } from './tombstoneReaper.ts';
import type { PartitionTrees } from './partitionTrees.ts';

/** Keys of a partition hashed per step of a segment listing (between steps, other work runs). */
const LISTING_PAGE_KEYS = 1000;

/** Waits before the next page of a long scan: lets client requests in. */
export type BetweenPages = () => Promise<void>;
const NO_PAUSE: BetweenPages = () => Promise.resolve();

/** Partitions whose roots one sweep request asks for at most. */
export const ROOTS_PER_MESSAGE_MAX = 4096;
/** Differing segments repaired per exchange at most. */
export const SEGMENTS_PER_EXCHANGE_MAX = 64;
/** Keys listed or objects carried per message at most. */
export const KEYS_PER_MESSAGE_MAX = 1024;
/**
 * (key, digest) pairs per `keys` reply at most: whole segments, at least one, and a segment
 * past this bound is listed only in part (partitions of more than ~4M keys want a larger Q).
 */
export const KEY_DIGESTS_PER_REPLY_MAX = 4096;
/** Object bytes per push or fetch reply at most (one object always goes, whatever its size). */
export const OBJECT_BYTES_PER_MESSAGE_MAX = 4 * 1024 * 1024;

/** The requests an exchange makes of the peer (the node sends them over the transport). */
export interface ExchangePeer extends ReapPeer {
  root(partition: number, shape: TreeShape): Promise<Uint8Array>;
  /** The roots of many partitions at once; an empty byte string for one the peer does not exchange now. */
  roots(partitions: readonly number[], shape: TreeShape): Promise<readonly Uint8Array[]>;
  children(partition: number, depth: number, parents: readonly number[]): Promise<Uint8Array>;
  keys(partition: number, segments: readonly number[]): Promise<KeyDigests>;
  /** The objects of a prefix of `keys` (at least one), within OBJECT_BYTES_PER_MESSAGE_MAX; empty bytes where none is held. */
  fetch(partition: number, keys: readonly Uint8Array[]): Promise<readonly Uint8Array[]>;
  push(partition: number, keys: readonly Uint8Array[], objects: readonly Uint8Array[]): Promise<void>;
}

export interface KeyDigests {
  readonly keys: readonly Uint8Array[];
  readonly digests: readonly Uint8Array[];
  /** How many of the asked segments (a prefix) the lists cover whole. */
  readonly covered: number;
}

export interface ExchangeOutcome {
  readonly inSync: boolean;
  readonly segmentsCompared: number;
  readonly keysPushed: number;
  readonly keysFetched: number;
  /** Digests, key lists and objects sent and received. */
  readonly bytes: number;
}

export async function exchangePartition(
  partition: number,
  trees: PartitionTrees,
  replica: Replica,
  peer: ExchangePeer,
  betweenPages: BetweenPages = NO_PAUSE,
): Promise<ExchangeOutcome> {
  const tree = trees.tree(partition);
  if (tree === undefined) throw new Error(`partition ${partition} has no trusted tree`);
  const theirRoot = await peer.root(partition, tree.shape);
  let bytes = theirRoot.length;
  if (tree.sameRoot(theirRoot)) return { inSync: true, segmentsCompared: 0, keysPushed: 0, keysFetched: 0, bytes };
  let parents = [0];
  for (let depth = 1; depth <= tree.depth && parents.length > 0; depth++) {
    const theirs = await peer.children(partition, depth, parents);
    bytes += theirs.length;
    parents = tree.differingChildren(depth, parents, theirs).slice(0, depth === tree.depth ? SEGMENTS_PER_EXCHANGE_MAX : KEYS_PER_MESSAGE_MAX);
  }
  const theirs = await peer.keys(partition, parents);
  bytes += sizeOf(theirs.keys) + sizeOf(theirs.digests);
  // The peer lists whole segments up to its key bound: compare those only (the rest next time).
  const segments = parents.slice(0, Math.max(1, Math.min(parents.length, theirs.covered)));
  const mine = await segmentKeyDigests(replica, partition, new Set(segments), tree.shape, betweenPages);
  const theirDigests = new Map(theirs.keys.map((key, i) => [keyId(key), theirs.digests[i] as Uint8Array]));
  const toFetch = theirs.keys.filter((key, i) => !sameDigest(mine.get(keyId(key))?.digest, theirs.digests[i] as Uint8Array));
  bytes += await fetchObjects(partition, replica, peer, toFetch);
  // After merging theirs, only where this node's version still differs from the peer's (it
  // lacks the key, or the merge kept something of ours) is anything sent back.
  const toPush = [...mine.values()].map((entry) => entry.key).filter((key) => {
    const object = replica.readOwn(partition, key);
    return object !== undefined && !sameDigest(theirDigests.get(keyId(key)), objectDigest(key, object));
  });
  bytes += await pushObjects(partition, replica, peer, toPush);
  return { inSync: false, segmentsCompared: segments.length, keysPushed: toPush.length, keysFetched: toFetch.length, bytes };
}

interface KeyDigest {
  readonly key: Uint8Array;
  readonly digest: Uint8Array;
}

/** This node's (key, digest) pairs in the given segments, by key. */
export async function segmentKeyDigests(
  replica: Replica,
  partition: number,
  segments: ReadonlySet<number>,
  shape: TreeShape,
  betweenPages: BetweenPages = NO_PAUSE,
): Promise<Map<string, KeyDigest>> {
  const found = new Map<string, KeyDigest>();
  for (const entries of (await keyDigestsBySegment(replica, partition, segments, shape, betweenPages)).values()) {
    for (const entry of entries) found.set(keyId(entry.key), entry);
  }
  return found;
}

/**
 * Finding a segment's keys means hashing every key of the partition: done a page at a
 * time, with `betweenPages` letting client requests in between. Writes landing meanwhile
 * may make a listed digest stale; the next exchange sees it.
 */
async function keyDigestsBySegment(
  replica: Replica,
  partition: number,
  segments: ReadonlySet<number>,
  shape: TreeShape,
  betweenPages: BetweenPages,
): Promise<Map<number, KeyDigest[]>> {
  const bySegment = new Map<number, KeyDigest[]>();
  const visit = (key: Uint8Array, object: StoredObject): void => {
    const segment = segmentOf(key, shape);
    let entries = bySegment.get(segment);
    if (entries === undefined) bySegment.set(segment, (entries = []));
    entries.push({ key, digest: objectDigest(key, object) });
  };
  const wanted = (key: Uint8Array): boolean => segments.has(segmentOf(key, shape));
  let afterKey: Uint8Array | undefined;
  for (;;) {
    afterKey = replica.visitPartitionPage(partition, afterKey, LISTING_PAGE_KEYS, visit, wanted);
    if (afterKey === undefined) return bySegment;
    await betweenPages();
  }
}

/**
 * The answer to a peer's `keys`: the (key, digest) pairs of the asked segments, whole
 * segments in the order asked, as many as fit in KEY_DIGESTS_PER_REPLY_MAX (one at least).
 */
async function listSegments(replica: Replica, partition: number, segments: readonly number[], shape: TreeShape, betweenPages: BetweenPages): Promise<KeyDigests> {
  const bySegment = await keyDigestsBySegment(replica, partition, new Set(segments), shape, betweenPages);
  const listed: KeyDigest[] = [];
  let covered = 0;
  for (const segment of segments) {
    const entries = bySegment.get(segment) ?? [];
    if (covered > 0 && listed.length + entries.length > KEY_DIGESTS_PER_REPLY_MAX) break;
    listed.push(...entries.slice(0, KEY_DIGESTS_PER_REPLY_MAX));
    covered++;
  }
  return { keys: listed.map((e) => e.key), digests: listed.map((e) => e.digest), covered };
}

/** Sends this node's objects of `keys` in messages of at most KEYS_PER_MESSAGE_MAX keys and about OBJECT_BYTES_PER_MESSAGE_MAX bytes. */
async function pushObjects(partition: number, replica: Replica, peer: ExchangePeer, keys: readonly Uint8Array[]): Promise<number> {
  let bytes = 0;
  let chunk: Uint8Array[] = [];
  let objects: Uint8Array[] = [];
  let chunkBytes = 0;
  const send = async (): Promise<void> => {
    if (chunk.length === 0) return;
    await peer.push(partition, chunk, objects);
    bytes += sizeOf(chunk) + chunkBytes;
    chunk = [];
    objects = [];
    chunkBytes = 0;
  };
  for (const key of keys) {
    const encoded = replica.readOwnBytes(partition, key);
    if (encoded === undefined) continue;
    if (chunk.length > 0 && (chunk.length >= KEYS_PER_MESSAGE_MAX || chunkBytes + encoded.length > OBJECT_BYTES_PER_MESSAGE_MAX)) await send();
    chunk.push(key);
    objects.push(encoded);
    chunkBytes += encoded.length;
  }
  await send();
  return bytes;
}

/** Fetches the peer's objects of `keys` and merges them here; the peer answers a prefix of each request. */
async function fetchObjects(partition: number, replica: Replica, peer: ExchangePeer, keys: readonly Uint8Array[]): Promise<number> {
  let bytes = 0;
  let start = 0;
  while (start < keys.length) {
    const chunk = keys.slice(start, start + KEYS_PER_MESSAGE_MAX);
    const objects = await peer.fetch(partition, chunk);
    if (objects.length === 0 || objects.length > chunk.length) throw new Error(`asked for ${chunk.length} objects, got ${objects.length}`);
    bytes += sizeOf(objects);
    // An empty answer: the peer no longer holds the key (removed meanwhile).
    const held = objects.flatMap((bytesOfObject, i) => (bytesOfObject.length === 0 ? [] : [i]));
    await replica.mergeBatch(partition, held.map((i) => chunk[i] as Uint8Array), held.map((i) => decodeObject(objects[i] as Uint8Array)));
    start += objects.length;
  }
  return bytes;
}

function sameDigest(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && bytesEqual(a, b);
}

function keyId(key: Uint8Array): string {
  return Buffer.from(key).toString('latin1');
}

function sizeOf(items: readonly Uint8Array[]): number {
  return items.reduce((sum, item) => sum + item.length, 0);
}

/** Why a peer refuses an exchange request (the exchange is dropped, the node carries on). */
export class ExchangeRefusedError extends RequestError {
  constructor(reason: string) {
    super('EXCHANGE_REFUSED', reason);
    this.name = 'ExchangeRefusedError';
  }
}

/**
 * The answering side: this node's trees and store, as an ExchangePeer (pushed objects are
 * merged by `mergeBatch`: the transfer receiver, which checks every key and object), for
 * the partitions `exchangeable` allows (antiEntropy.ts exchangeablePartition). The
 * message handlers answer peers with it; tests pair two nodes with it directly.
 */
export function answeringPeer(
  trees: PartitionTrees,
  replica: Replica,
  mergeBatch: ExchangePeer['push'],
  options: {
    readonly exchangeable?: (partition: number) => boolean;
    /** Counts the reaping steps taken here at a peer's request. */
    readonly onReaped?: (steps: ReapSteps) => void;
    /** Lets other work run between the pages of a key listing (the node: a timer of 0 ms). */
    readonly betweenPages?: BetweenPages;
  } = {},
): ExchangePeer {
  const exchangeable = options.exchangeable ?? (() => true);
  const treeOf = (partition: number) => {
    if (!exchangeable(partition)) throw new ExchangeRefusedError(`partition ${partition} is not exchanged here now (not held, or being handed over)`);
    const tree = trees.tree(partition);
    if (tree === undefined) throw new ExchangeRefusedError(`no trusted hash tree for partition ${partition} here`);
    return tree;
  };
  const checkShape = (shape: TreeShape): void => {
    if (shape.segments !== trees.shape.segments || shape.branching !== trees.shape.branching) {
      throw new ExchangeRefusedError(`tree shape ${shape.segments}/${shape.branching} differs from this node's ${trees.shape.segments}/${trees.shape.branching}`);
    }
    if (shape.digestVersion !== trees.shape.digestVersion) {
      throw new ExchangeRefusedError(`tree digest version ${shape.digestVersion} differs from this node's ${trees.shape.digestVersion}`);
    }
  };
  return {
    root: async (partition, shape) => {
      const tree = treeOf(partition);
      checkShape(shape);
      return tree.root();
    },
    roots: async (partitions, shape) => {
      checkShape(shape);
      if (partitions.length > ROOTS_PER_MESSAGE_MAX) throw new ExchangeRefusedError(`at most ${ROOTS_PER_MESSAGE_MAX} partitions per request`);
      return partitions.map((partition) => (exchangeable(partition) ? trees.tree(partition)?.root() : undefined) ?? new Uint8Array(0));
    },
    children: async (partition, depth, parents) => {
      if (parents.length > KEYS_PER_MESSAGE_MAX) throw new ExchangeRefusedError(`at most ${KEYS_PER_MESSAGE_MAX} parents per request`);
      try {
        return treeOf(partition).children(depth, parents);
      } catch (error) {
        if (error instanceof RangeError) throw new ExchangeRefusedError(error.message);
        throw error;
      }
    },
    keys: async (partition, segments) => {
      const tree = treeOf(partition);
      if (segments.length > SEGMENTS_PER_EXCHANGE_MAX || segments.some((s) => !Number.isInteger(s) || s < 0 || s >= tree.shape.segments)) {
        throw new ExchangeRefusedError(`segments must be at most ${SEGMENTS_PER_EXCHANGE_MAX} of 0..${tree.shape.segments - 1}`);
      }
      return listSegments(replica, partition, segments, tree.shape, options.betweenPages ?? NO_PAUSE);
    },
    fetch: async (partition, keys) => {
      treeOf(partition);
      if (keys.length > KEYS_PER_MESSAGE_MAX) throw new ExchangeRefusedError(`at most ${KEYS_PER_MESSAGE_MAX} keys per request`);
      const objects: Uint8Array[] = [];
      let bytes = 0;
      for (const key of keys) {
        const encoded = replica.readOwnBytes(partition, key) ?? new Uint8Array(0);
        if (objects.length > 0 && bytes + encoded.length > OBJECT_BYTES_PER_MESSAGE_MAX) break;
        objects.push(encoded);
        bytes += encoded.length;
      }
      return objects;
    },
    push: mergeBatch,
    digests: async (partition, keys) => {
      treeOf(partition);
      if (keys.length > KEYS_PER_MESSAGE_MAX) throw new ExchangeRefusedError(`at most ${KEYS_PER_MESSAGE_MAX} keys per request`);
      return keys.map((key) => {
        const object = replica.readOwn(partition, key);
        return object === undefined ? new Uint8Array(0) : objectDigest(key, object);
      });
    },
    reap: async (partition, keys, digests) => {
      treeOf(partition);
      if (keys.length > KEYS_PER_MESSAGE_MAX) throw new ExchangeRefusedError(`at most ${KEYS_PER_MESSAGE_MAX} keys per request`);
      const steps = await applyReap(replica, partition, keys, digests);
      options.onReaped?.(steps);
    },
  };
}
