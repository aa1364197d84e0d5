/**
 * Preference lists (paper 4.3, 4.6): walking clockwise from a key's partition, the
 * distinct owners in ring order. The first n are the key's primaries; the rest are the
 * fallbacks that stand in (sloppy quorum) for primaries that are down. Pure: the ring and
 * the set of up nodes are arguments (riak_core_apl's get_apl/4).
 */
import { validatePartition, validateReplicas, type Ring } from './ring.ts';

export interface PreflistEntry {
  readonly node: string;
  /** The key's partition (the one the list was computed for). */
  readonly partition: number;
  /** True for the first n distinct owners, false for fallbacks. */
  readonly primary: boolean;
}

/** The first n distinct owners clockwise from `partition` (fewer if the ring has fewer). */
export function primaryNodes(ring: Ring, partition: number, n: number): string[] {
  validateReplicas(n);
  return distinctOwnersFrom(ring, partition, n);
}

/**
 * Every distinct owner clockwise from `partition`, keeping only the up ones: first the
 * up primaries (the first n distinct owners), then the up fallbacks, each in ring order.
 */
export function preferenceList(
  ring: Ring,
  partition: number,
  upNodes: ReadonlySet<string>,
  n: number,
): PreflistEntry[] {
  validateReplicas(n);
  const owners = distinctOwnersFrom(ring, partition, ring.members.length);
  const entries: PreflistEntry[] = [];
  owners.forEach((node, index) => {
    if (upNodes.has(node)) entries.push({ node, partition, primary: index < n });
  });
  // forEach visits in ring order and primaries come first, so the order is already right.
  return entries;
}

/** The first `limit` distinct owners walking clockwise from `partition`. */
function distinctOwnersFrom(ring: Ring, partition: number, limit: number): string[] {
  validatePartition(ring, partition);
  const found: string[] = [];
  const seen = new Set<string>();
  const wanted = Math.min(limit, distinctOwnerCount(ring));
  for (let step = 0; step < ring.partitionCount && found.length < wanted; step++) {
    const owner = ring.owners[(partition + step) % ring.partitionCount] as string;
    if (!seen.has(owner)) {
      seen.add(owner);
      found.push(owner);
    }
  }
  return found;
}

// Memoised per ring (rings are immutable), so a walk stops as soon as it has every owner
// even when some members own no partition.
const distinctOwnerCounts = new WeakMap<Ring, number>();

function distinctOwnerCount(ring: Ring): number {
  let count = distinctOwnerCounts.get(ring);
  if (count === undefined) {
    count = new Set(ring.owners).size;
    distinctOwnerCounts.set(ring, count);
  }
  return count;
}
