/**
 * Token assignment, the paper's strategy 3 (section 6.2): Q equal partitions, each member
 * owning floor(Q/S) or ceil(Q/S) of them, and owners spread so that every `replicas`
 * consecutive partitions have distinct owners whenever a balanced ring allows it.
 *
 * `claimRing` builds a ring from scratch as a pure function of the member SET. Incremental
 * claims on join/leave (moving few partitions) can be added beside it: they produce rings
 * through `makeRing` and can be checked with `repeatedOwnerWindows` and the targets here.
 *
 * Which windows can be distinct. Let S members, Q partitions, N replicas, and
 * w = min(N, S, Q) (a window can never hold more distinct owners than that). A member that
 * owns c partitions needs its c occurrences pairwise at least w apart around the ring, so
 * c * w <= Q. Balance forces some member to own ceil(Q/S), hence:
 *
 *   every window of w is distinct  is achievable  iff  w * ceil(Q/S) <= Q.
 *
 * - S <= N (w = S): achievable iff S divides Q. Otherwise every window of S must hold all
 *   S members, which forces period S; we use plain round robin, which confines the
 *   repeats to the S - 1 windows that cross the wrap-around from Q-1 to 0 (an exhaustive
 *   search over all balanced rings with Q in {8, 16} found no ring with fewer).
 *   Every member is in every preference list anyway, so only the order of it changes.
 * - S > N: achievable except for small rings with large N, e.g. Q = 8, N = 5, S in
 *   {6, 7}: two members must own 2 of the 8 partitions, and two occurrences cannot be 5
 *   apart both ways round a ring of 8. The preference list still yields N distinct nodes,
 *   because it skips repeated owners.
 *
 * The construction (`interleavedOwners`) reaches the bound whenever it is achievable:
 * the r = Q mod S "heavy" members own q + 1 = ceil(Q/S) partitions and the S - r "light"
 * members own q = floor(Q/S). The A = r(q+1) heavy slots are spread evenly (slot p is heavy
 * iff floor((p+1)A/Q) > floor(pA/Q)) and filled round robin with the heavy members; the
 * other slots are filled round robin with the light members. Any w consecutive slots then
 * hold at most ceil(wA/Q) heavy slots, which is <= r exactly when w(q+1) <= Q, and at most
 * ceil(w(Q-A)/Q) <= S - r light slots; consecutive heavy (light) slots carry distinct heavy
 * (light) members up to r (S - r) of them, so the window is distinct. It does not depend
 * on N, so one ring serves every N for which distinctness is achievable.
 */
import { makeRing, sortedMembers, validateReplicas, type Ring } from './ring.ts';
import { validatePartitionCount } from './hash.ts';

/** The longest window that can have distinct owners: min(replicas, members, partitions). */
export function distinctWindowSize(partitionCount: number, memberCount: number, replicas: number): number {
  return Math.min(replicas, memberCount, partitionCount);
}

/** True when a balanced ring can give every window of `distinctWindowSize` distinct owners. */
export function distinctOwnersAchievable(partitionCount: number, memberCount: number, replicas: number): boolean {
  const windowSize = distinctWindowSize(partitionCount, memberCount, replicas);
  return windowSize * Math.ceil(partitionCount / memberCount) <= partitionCount;
}

/** The balanced share: every member owns `floor` or `ceil` partitions. */
export function ownedPartitionTarget(partitionCount: number, memberCount: number): { floor: number; ceil: number } {
  return { floor: Math.floor(partitionCount / memberCount), ceil: Math.ceil(partitionCount / memberCount) };
}

/**
 * The strategy-3 ring for this member set (input order irrelevant; duplicates and empty
 * ids throw RingError). Balanced; every `replicas` consecutive partitions have distinct
 * owners whenever `distinctOwnersAchievable` says a balanced ring can have them.
 */
export function claimRing(members: readonly string[], partitionCount: number, replicas: number): Ring {
  validatePartitionCount(partitionCount);
  validateReplicas(replicas);
  const sorted = sortedMembers(members);
  const owners =
    sorted.length <= replicas && !distinctOwnersAchievable(partitionCount, sorted.length, replicas)
      ? roundRobinOwners(sorted, partitionCount)
      : interleavedOwners(sorted, partitionCount);
  return makeRing(sorted, owners);
}

/** members[p mod S]: repeats only in the windows that cross the wrap-around. */
function roundRobinOwners(sorted: readonly string[], partitionCount: number): string[] {
  return Array.from({ length: partitionCount }, (_, partition) => sorted[partition % sorted.length] as string);
}

/** The heavy/light interleaving described at the top of this file. */
function interleavedOwners(sorted: readonly string[], partitionCount: number): string[] {
  const perMember = Math.floor(partitionCount / sorted.length);
  const heavyCount = partitionCount % sorted.length;
  const heavy = sorted.slice(0, heavyCount);
  const light = sorted.slice(heavyCount);
  const heavySlots = heavyCount * (perMember + 1);
  const owners = new Array<string>(partitionCount);
  let heavyUsed = 0;
  let lightUsed = 0;
  // Bresenham: `phase` is (p * heavySlots) mod Q, so slot p is heavy exactly when
  // floor((p + 1) * heavySlots / Q) > floor(p * heavySlots / Q).
  let phase = 0;
  for (let partition = 0; partition < partitionCount; partition++) {
    phase += heavySlots;
    if (phase >= partitionCount) {
      phase -= partitionCount;
      owners[partition] = heavy[heavyUsed++ % heavyCount] as string;
    } else {
      owners[partition] = light[lightUsed++ % light.length] as string;
    }
  }
  return owners;
}
