/**
 * The ring: Q equal partitions and the member that owns each one. A ring is plain data;
 * how owners are chosen lives in claim.ts, so incremental claims can build rings too.
 */
import { compareStrings } from './bytes.ts';
import { validatePartitionCount } from './hash.ts';

export interface Ring {
  readonly partitionCount: number;
  /** The cluster's members, sorted and distinct; a member may own no partition. */
  readonly members: readonly string[];
  /** owners[p] is the member that owns partition p. */
  readonly owners: readonly string[];
}

export type RingErrorCode = 'no-members' | 'duplicate-member' | 'invalid-member' | 'unknown-owner';

export class RingError extends Error {
  override readonly name = 'RingError';
  constructor(
    readonly code: RingErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The members sorted and checked: non-empty, distinct, non-empty strings. */
export function sortedMembers(members: readonly string[]): string[] {
  if (members.length === 0) throw new RingError('no-members', 'a ring needs at least one member');
  const sorted = [...members].sort(compareStrings);
  for (let i = 0; i < sorted.length; i++) {
    const member = sorted[i] as string;
    if (typeof member !== 'string' || member === '') {
      throw new RingError('invalid-member', `member ids must be non-empty strings, got ${JSON.stringify(member)}`);
    }
    if (i > 0 && member === sorted[i - 1]) {
      throw new RingError('duplicate-member', `member ${JSON.stringify(member)} is listed twice`);
    }
  }
  return sorted;
}

/** A validated, frozen ring; the partition count is `owners.length`. */
export function makeRing(members: readonly string[], owners: readonly string[]): Ring {
  validatePartitionCount(owners.length);
  const sorted = sortedMembers(members);
  const memberSet = new Set(sorted);
  for (const owner of owners) {
    if (!memberSet.has(owner)) {
      throw new RingError('unknown-owner', `owner ${JSON.stringify(owner)} is not a member of the ring`);
    }
  }
  return Object.freeze({
    partitionCount: owners.length,
    members: Object.freeze(sorted),
    owners: Object.freeze([...owners]),
  });
}

/** Throws RangeError unless `replicas` (N) is a positive integer. */
export function validateReplicas(replicas: number): void {
  if (!Number.isSafeInteger(replicas) || replicas < 1) {
    throw new RangeError(`replicas must be a positive integer, got ${String(replicas)}`);
  }
}

/** Throws RangeError unless `partition` is a partition of the ring. */
export function validatePartition(ring: Ring, partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition >= ring.partitionCount) {
    throw new RangeError(`partition must be an integer in [0, ${ring.partitionCount}), got ${String(partition)}`);
  }
}

export function ownerOf(ring: Ring, partition: number): string {
  validatePartition(ring, partition);
  return ring.owners[partition] as string;
}

/** The partitions `node` owns, ascending (empty when it owns none or is no member). */
export function partitionsOwnedBy(ring: Ring, node: string): number[] {
  const owned: number[] = [];
  ring.owners.forEach((owner, partition) => {
    if (owner === node) owned.push(partition);
  });
  return owned;
}

/** How many partitions each member owns (members owning none included, with 0). */
export function ownedPartitionCounts(ring: Ring): Map<string, number> {
  const counts = new Map<string, number>(ring.members.map((member) => [member, 0]));
  for (const owner of ring.owners) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  return counts;
}

/**
 * The first partitions of every window of `windowSize` consecutive partitions
 * (cyclically, wrapping from Q-1 to 0) in which some member owns two partitions.
 */
export function repeatedOwnerWindows(ring: Ring, windowSize: number): number[] {
  if (!Number.isSafeInteger(windowSize) || windowSize < 1) {
    throw new RangeError(`windowSize must be a positive integer, got ${String(windowSize)}`);
  }
  const { owners, partitionCount } = ring;
  // Walk the ring unwrapped (Q + size - 1 steps). Two steps i' < i with the same owner
  // and i - i' < size spoil the windows starting in [i - size + 1, i']; mark those
  // ranges in a difference array.
  const spoiled = new Int32Array(partitionCount + 1);
  const lastSeen = new Map<string, number>();
  for (let step = 0; step < partitionCount + windowSize - 1; step++) {
    const owner = owners[step % partitionCount] as string;
    const previous = lastSeen.get(owner);
    lastSeen.set(owner, step);
    if (previous === undefined || step - previous >= windowSize) continue;
    const firstStart = Math.max(0, step - windowSize + 1);
    const lastStart = Math.min(previous, partitionCount - 1);
    if (firstStart > lastStart) continue;
    spoiled[firstStart] = (spoiled[firstStart] as number) + 1;
    spoiled[lastStart + 1] = (spoiled[lastStart + 1] as number) - 1;
  }
  const starts: number[] = [];
  let depth = 0;
  for (let start = 0; start < partitionCount; start++) {
    depth += spoiled[start] as number;
    if (depth > 0) starts.push(start);
  }
  return starts;
}
