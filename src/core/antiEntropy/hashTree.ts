/**
 * A hash tree of fixed shape over one partition's objects (paper 4.7), maintained
 * incrementally: every object has a digest of (key, version), a key falls in one of
 * `segments` leaves by its hash, and every node of the tree is the XOR of the digests
 * below it. A write changes one object's digest, so it XORs the old digest out and the new
 * one in along one leaf-to-root path: O(depth), without rereading the partition.
 *
 * Two replicas with equal roots hold the same versions (up to an XOR collision, which
 * honest data does not produce); where the roots differ, comparing level by level finds
 * the differing segments while exchanging only the hashes of differing subtrees.
 */
import { md5 } from '../md5.ts';
import { encodeUtf8 } from '../bytes.ts';
import { actorBytes, compareActors, compareDots, type Dot } from '../clock.ts';
import type { StoredObject } from '../object.ts';

export const DIGEST_BYTES = 16;
export const SEGMENTS_DEFAULT = 1024;
export const BRANCHING_DEFAULT = 32;

export interface TreeShape {
  /** Leaves; a power of the branching factor. */
  readonly segments: number;
  /** Children per inner node. */
  readonly branching: number;
  /** The objectDigest format of the leaves (DIGEST_VERSION: the only one this code computes). */
  readonly digestVersion: number;
}

/** Throws RangeError unless segments = branching^k with branching >= 2, segments <= 65536, and the digests are this code's. */
export function validateShape(shape: TreeShape): void {
  const { segments, branching } = shape;
  if (shape.digestVersion !== DIGEST_VERSION) throw new RangeError(`a tree of digest version ${shape.digestVersion} cannot be kept here (this code computes version ${DIGEST_VERSION})`);
  const ok = Number.isInteger(segments) && Number.isInteger(branching) && branching >= 2 && segments >= branching && segments <= 65536;
  let size = 1;
  while (ok && size < segments) size *= branching;
  if (!ok || size !== segments) throw new RangeError(`a tree needs segments = branching^k (branching >= 2, segments <= 65536), got ${segments}/${branching}`);
}

/** Levels below the root: 1 (the root's children) .. depth (the segments). */
export function treeDepth(shape: TreeShape): number {
  let depth = 0;
  for (let size = 1; size < shape.segments; size *= shape.branching) depth++;
  return depth;
}

/**
 * The segment of a key: bits of its MD5 that the partition does not use (the partition
 * takes the top bits; these come from bytes 4-5), so segments split a partition evenly.
 */
export function segmentOf(key: Uint8Array, shape: TreeShape): number {
  const hash = md5(key);
  return (((hash[4] as number) << 8) | (hash[5] as number)) % shape.segments;
}

/**
 * The format of objectDigest. Trees of different formats never agree, so it is saved with
 * the trees and checked in exchanges, like the shape. 1 hashed a sorted text of
 * "actor:counter" strings; 2 hashes the same facts as binary, without building strings;
 * 3 adds the superseded write ids (core/object.ts), so replicas that differ only in those
 * exchange them.
 */
export const DIGEST_VERSION = 3;

export const SHAPE_DEFAULT: TreeShape = Object.freeze({ segments: SEGMENTS_DEFAULT, branching: BRANCHING_DEFAULT, digestVersion: DIGEST_VERSION });

let scratch = new Uint8Array(256);
const NO_STRINGS: readonly Uint8Array[] = [];
let scratchView = new DataView(scratch.buffer);

/**
 * The digest of a key's version: MD5 over the key, the vector's (actor, counter) entries,
 * the siblings' dots and the superseded write ids, each list in its canonical order
 * (core/clock.ts; the ids sorted as stored), lengths
 * prefixed so no two inputs share an encoding. Times are left out: replicas that hold the
 * same versions have the same digest however they came by them. Runs on every write (a
 * tree update hashes the version replaced and the new one), so it reuses one scratch
 * buffer instead of allocating.
 */
export function objectDigest(key: Uint8Array, object: StoredObject): Uint8Array {
  const vector = inOrder(object.vector, compareEntries);
  const dots = inOrder(
    object.siblings.map((s) => s.dot),
    compareDots,
  );
  let size = 4 + key.length + 8;
  for (const entry of vector) size += 10 + actorBytes(entry.actor).length;
  for (const dot of dots) size += 10 + actorBytes(dot.actor).length;
  // Write ids are many and short-lived: encoded here, not through actorBytes's cache.
  const writeIds = object.supersededWrites === undefined ? NO_STRINGS : object.supersededWrites.map((entry) => encodeUtf8(entry.writeId));
  size += 4;
  for (const id of writeIds) size += 2 + id.length;
  if (size > scratch.length) {
    scratch = new Uint8Array(Math.max(size, scratch.length * 2));
    scratchView = new DataView(scratch.buffer);
  }
  scratchView.setUint32(0, key.length);
  scratch.set(key, 4);
  let at = writeDots(vector, 4 + key.length);
  at = writeDots(dots, at);
  at = writeStrings(writeIds, at);
  return md5(scratch.subarray(0, at));
}

/** Writes a count and each (actor, counter) pair at `at`; returns the end. */
function writeDots(dots: readonly Dot[], start: number): number {
  scratchView.setUint32(start, dots.length);
  let at = start + 4;
  for (const dot of dots) {
    const actor = actorBytes(dot.actor);
    scratchView.setUint16(at, actor.length);
    scratch.set(actor, at + 2);
    at += 2 + actor.length;
    scratchView.setFloat64(at, dot.counter);
    at += 8;
  }
  return at;
}

/** Writes a count and each length-prefixed string at `at`; returns the end. */
function writeStrings(strings: readonly Uint8Array[], start: number): number {
  scratchView.setUint32(start, strings.length);
  let at = start + 4;
  for (const bytes of strings) {
    scratchView.setUint16(at, bytes.length);
    scratch.set(bytes, at + 2);
    at += 2 + bytes.length;
  }
  return at;
}

function compareEntries(a: Dot, b: Dot): number {
  return compareActors(a.actor, b.actor);
}

/** `items` when already sorted (stored objects always are), else a sorted copy. */
function inOrder<T>(items: readonly T[], compare: (a: T, b: T) => number): readonly T[] {
  for (let i = 1; i < items.length; i++) {
    if (compare(items[i - 1] as T, items[i] as T) > 0) return [...items].sort(compare);
  }
  return items;
}

export class HashTree {
  readonly shape: TreeShape;
  readonly depth: number;
  /** levels[d]: branching^d digests of 16 bytes; levels[0] is the root, levels[depth] the segments. */
  private readonly levels: Uint8Array[];

  constructor(shape: TreeShape = SHAPE_DEFAULT) {
    validateShape(shape);
    this.shape = shape;
    this.depth = treeDepth(shape);
    this.levels = Array.from({ length: this.depth + 1 }, (_, d) => new Uint8Array(shape.branching ** d * DIGEST_BYTES));
  }

  /** XORs `digest` into `segment` and its ancestors (adds an object's digest, or removes it). */
  toggle(segment: number, digest: Uint8Array): void {
    if (!Number.isInteger(segment) || segment < 0 || segment >= this.shape.segments) throw new RangeError(`segment ${segment} is not in the tree`);
    let index = segment;
    for (let d = this.depth; d >= 0; d--) {
      xorInto(this.levels[d] as Uint8Array, index * DIGEST_BYTES, digest);
      index = Math.floor(index / this.shape.branching);
    }
  }

  /** Replaces an object's version: its old digest (if any) out, its new one (if any) in. */
  replace(key: Uint8Array, before: StoredObject | undefined, after: StoredObject | undefined): void {
    if (before === undefined && after === undefined) return;
    const segment = segmentOf(key, this.shape);
    if (before !== undefined) this.toggle(segment, objectDigest(key, before));
    if (after !== undefined) this.toggle(segment, objectDigest(key, after));
  }

  root(): Uint8Array {
    return (this.levels[0] as Uint8Array).slice();
  }

  /** The digests of the children of `parents` (nodes at depth - 1), concatenated in order. */
  children(depth: number, parents: readonly number[]): Uint8Array {
    this.checkDepth(depth);
    const { branching } = this.shape;
    const level = this.levels[depth] as Uint8Array;
    const out = new Uint8Array(parents.length * branching * DIGEST_BYTES);
    parents.forEach((parent, i) => {
      const start = parent * branching * DIGEST_BYTES;
      if (!Number.isInteger(parent) || parent < 0 || start >= level.length) throw new RangeError(`node ${parent} is not at depth ${depth - 1}`);
      out.set(level.subarray(start, start + branching * DIGEST_BYTES), i * branching * DIGEST_BYTES);
    });
    return out;
  }

  /**
   * The children of `parents` at `depth` whose digests differ from `theirs` (the other
   * replica's children of the same parents, as `children` returns them).
   */
  differingChildren(depth: number, parents: readonly number[], theirs: Uint8Array): number[] {
    const mine = this.children(depth, parents);
    if (theirs.length !== mine.length) throw new RangeError(`expected ${mine.length} bytes of digests, got ${theirs.length}`);
    const { branching } = this.shape;
    const differing: number[] = [];
    parents.forEach((parent, i) => {
      for (let c = 0; c < branching; c++) {
        const offset = (i * branching + c) * DIGEST_BYTES;
        if (!equalAt(mine, theirs, offset)) differing.push(parent * branching + c);
      }
    });
    return differing;
  }

  /** The segment digests (the leaves), to persist the tree. */
  leaves(): Uint8Array {
    return (this.levels[this.depth] as Uint8Array).slice();
  }

  /** A tree from persisted leaves: the inner levels are recomputed. */
  static fromLeaves(shape: TreeShape, leaves: Uint8Array): HashTree {
    const tree = new HashTree(shape);
    if (leaves.length !== shape.segments * DIGEST_BYTES) throw new RangeError(`expected ${shape.segments * DIGEST_BYTES} bytes of leaves, got ${leaves.length}`);
    for (let segment = 0; segment < shape.segments; segment++) tree.toggle(segment, leaves.subarray(segment * DIGEST_BYTES, (segment + 1) * DIGEST_BYTES));
    return tree;
  }

  /** True when both trees have the same root. */
  sameRoot(theirs: Uint8Array): boolean {
    return theirs.length === DIGEST_BYTES && equalAt(this.levels[0] as Uint8Array, theirs, 0);
  }

  private checkDepth(depth: number): void {
    if (!Number.isInteger(depth) || depth < 1 || depth > this.depth) throw new RangeError(`depth ${depth} is not 1..${this.depth}`);
  }
}

function xorInto(target: Uint8Array, offset: number, digest: Uint8Array): void {
  for (let i = 0; i < DIGEST_BYTES; i++) target[offset + i] = (target[offset + i] as number) ^ (digest[i] as number);
}

function equalAt(a: Uint8Array, b: Uint8Array, offset: number): boolean {
  for (let i = offset; i < offset + DIGEST_BYTES; i++) if (a[i] !== b[i]) return false;
  return true;
}
