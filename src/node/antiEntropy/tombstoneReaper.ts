/**
 * Tombstone reaping (core/antiEntropy/reaping.ts has the rules): after an anti-entropy
 * exchange found a partition in sync, the node looks through it for tombstones past the
 * grace period and markers past the retention, asks every other replica of the partition
 * for its digest of those keys, and only for the keys where every replica holds exactly
 * the same version does it take the next step — on the other replicas (an `ae-reap`
 * request) and here. Each replica takes the step only if its own copy still has that
 * digest, so a write that lands meanwhile is never reaped.
 *
 * Partial failures are safe: a replica that missed the request keeps the tombstone (or
 * marker), anti-entropy syncs it with the others' marker (the marker wins), and the next
 * round retries. Nothing is reaped while the cluster is changing or a replica is unknown.
 */
import { bytesEqual } from '../../core/bytes.ts';
import { objectDigest } from '../../core/antiEntropy/hashTree.ts';
import { reaped, reapStepDue, isReapedMarker, isTombstone, type ReapSettings } from '../../core/antiEntropy/reaping.ts';
import type { StoredObject } from '../../core/object.ts';
import { REMOVE_OBJECT, type Replica } from '../../ports/replica.ts';

/** The requests reaping makes of another replica (exchange.ts ExchangePeer has them). */
export interface ReapPeer {
  /** The peer's digest of each key (an empty byte string where it holds none). */
  digests(partition: number, keys: readonly Uint8Array[]): Promise<readonly Uint8Array[]>;
  /** Take the next reaping step on each key whose digest still matches. */
  reap(partition: number, keys: readonly Uint8Array[], digests: readonly Uint8Array[]): Promise<void>;
}

/** Keys considered per reaping round at most (the peers are asked about them in one request). */
export const REAP_KEYS_MAX = 256;

/** Reaping steps taken on one node. */
export interface ReapSteps {
  /** Tombstones that became markers. */
  readonly tombstonesReaped: number;
  /** Markers removed. */
  readonly markersRemoved: number;
}

export interface ReapOutcome extends ReapSteps {
  readonly candidates: number;
}

interface Candidate {
  readonly key: Uint8Array;
  readonly digest: Uint8Array;
}

/**
 * One reaping round over a partition. `peers` are the partition's other replicas — all of
 * them: the caller passes none when any is unknown or the replica set is changing.
 */
export async function reapPartition(
  partition: number,
  replica: Replica,
  peers: readonly ReapPeer[],
  settings: ReapSettings,
  nowMs: number,
  /** Told, right after the scan, how many tombstones and markers the partition holds. */
  onCounted?: (reapable: number) => void,
): Promise<ReapOutcome> {
  const { candidates, reapable } = dueForReaping(replica, partition, settings, nowMs);
  onCounted?.(reapable);
  if (candidates.length === 0) return { candidates: 0, tombstonesReaped: 0, markersRemoved: 0 };
  let agreed = candidates;
  for (const peer of peers) {
    const theirs = await peer.digests(partition, agreed.map((c) => c.key));
    agreed = agreed.filter((candidate, i) => {
      const digest = theirs[i];
      return digest !== undefined && bytesEqual(digest, candidate.digest);
    });
    if (agreed.length === 0) return { candidates: candidates.length, tombstonesReaped: 0, markersRemoved: 0 };
  }
  const keys = agreed.map((c) => c.key);
  const digests = agreed.map((c) => c.digest);
  // Every replica is asked; one that fails is caught up by anti-entropy, then a later round.
  await Promise.allSettled(peers.map((peer) => peer.reap(partition, keys, digests)));
  const steps = await applyReap(replica, partition, keys, digests);
  return { candidates: candidates.length, ...steps };
}

/** Tombstones and markers of the partition due for their next step, with their digests, and how many it holds. */
function dueForReaping(replica: Replica, partition: number, settings: ReapSettings, nowMs: number): { candidates: Candidate[]; reapable: number } {
  const candidates: Candidate[] = [];
  let reapable = 0;
  replica.forEachInPartition(partition, (key, object) => {
    if (!isTombstone(object) && !isReapedMarker(object)) return;
    reapable++;
    if (candidates.length < REAP_KEYS_MAX && reapStepDue(object, nowMs, settings) !== undefined) candidates.push({ key, digest: objectDigest(key, object) });
  });
  return { candidates, reapable };
}

/**
 * Takes the next reaping step on each key whose local copy still has the given digest: a
 * tombstone becomes its marker, a marker is removed. Anything else is left alone.
 */
export async function applyReap(
  replica: Replica,
  partition: number,
  keys: readonly Uint8Array[],
  digests: readonly Uint8Array[],
): Promise<ReapSteps> {
  let tombstonesReaped = 0;
  let markersRemoved = 0;
  const step = (key: Uint8Array, digest: Uint8Array) => (current: StoredObject | undefined) => {
    // undefined: leave the copy as it is.
    if (current === undefined || !bytesEqual(objectDigest(key, current), digest)) return undefined;
    if (isTombstone(current)) {
      tombstonesReaped++;
      return reaped(current, 'to-marker');
    }
    if (!isReapedMarker(current)) return undefined;
    markersRemoved++;
    return REMOVE_OBJECT;
  };
  await Promise.all(keys.map((key, i) => replica.change(partition, key, step(key, digests[i] as Uint8Array))));
  return { tombstonesReaped, markersRemoved };
}
