/**
 * The stored object: siblings under one version vector, and syntactic reconciliation.
 */
import type { Dot, VersionVector } from './clock.ts';

export interface Sibling {
  readonly value: Uint8Array;
  readonly contentType: string;
  /** A tombstone: the sibling records a delete. */
  readonly deleted: boolean;
  readonly dot: Dot;
  /** Wall-clock milliseconds at the coordinator when the write was made. */
  readonly timeMs: number;
}

export interface StoredObject {
  readonly vector: VersionVector;
  /** Sorted by (dot.actor, dot.counter) so equal objects encode identically. */
  readonly siblings: readonly Sibling[];
}
