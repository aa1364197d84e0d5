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
import { bytesEqual, encodeUtf8 } from '../bytes.ts';
import type { StoredObject } from '../object.ts';

export const DIGEST_BYTES = 16;
export const SEGMENTS_DEFAULT = 1024;
export const BRANCHING_DEFAULT = 32;

export interface TreeShape {
  /** Leaves; a power of the branching factor. */
  readonly segments: number;
  /** Children per inner node. */
  readonly branching: number;
}

export const SHAPE_DEFAULT: TreeShape = Object.freeze({ segments: SEGMENTS_DEFAULT, branching: BRANCHING_DEFAULT });

/** Throws RangeError unless segments = branching^k with branching >= 2, segments <= 65536. */
export function validateShape(shape: TreeShape): void {
  const { segments, branching } = shape;
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
 * The digest of a key's version: the key, the vector's (actor, counter) entries and the
 * siblings' dots, in a canonical order. Times are left out: replicas that hold the same
 * versions have the same digest however they came by them.
 */
export function objectDigest(key: Uint8Array, object: StoredObject): Uint8Array {
  const vector = object.vector.map((e) => `${e.actor}:${e.counter}`).sort();
  const dots = object.siblings.map((s) => `${s.dot.actor}:${s.dot.counter}`).sort();
  const text = `${vector.join(',')}|${dots.join(',')}`;
  const body = encodeUtf8(text);
  const bytes = new Uint8Array(4 + key.length + body.length);
  new DataView(bytes.buffer).setUint32(0, key.length);
  bytes.set(key, 4);
  bytes.set(body, 4 + key.length);
  return md5(bytes);
}

/**
 * Digests of the objects trees saw last, by object: a write's `before` is most often the
 * very object its previous write left in the buffer, whose digest is then not computed
 * again. Checked against the key, as one object may be stored under several keys.
 */
const digestsSeen = new WeakMap<StoredObject, { readonly key: Uint8Array; readonly digest: Uint8Array }>();

function rememberedDigest(key: Uint8Array, object: StoredObject): Uint8Array {
  const seen = digestsSeen.get(object);
  if (seen !== undefined && bytesEqual(seen.key, key)) return seen.digest;
  const digest = objectDigest(key, object);
  digestsSeen.set(object, { key: key.slice(), digest });
  return digest;
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
    if (before !== undefined) this.toggle(segment, rememberedDigest(key, before));
    if (after !== undefined) this.toggle(segment, rememberedDigest(key, after));
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
