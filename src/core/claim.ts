/**
 * Token assignment, the paper's strategy 3 (section 6.2): Q equal partitions, each member
 * owning floor(Q/S) or ceil(Q/S) of them, and owners spread so that every `replicas`
 * consecutive partitions have distinct owners whenever a balanced ring allows it.
 *
 * `claimRing` builds a ring from scratch as a pure function of the member SET. The
 * incremental claims on join/leave (`claimJoin`, `claimLeave`, below) move few partitions
 * instead; they produce rings through `makeRing`, checked with the same targets.
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
import { compareStrings } from './bytes.ts';
import { validatePartitionCount } from './hash.ts';
import {
  makeRing,
  ownedPartitionCounts,
  repeatedOwnerWindows,
  RingError,
  sortedMembers,
  validateReplicas,
  type Ring,
} from './ring.ts';

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

/**
 * Incremental claims (paper 4.9): when the member set changes, move as few partitions as
 * balance requires and keep the distinct-owners property.
 *
 * Targets. The new members, ordered by how many partitions they own now (most first, ties
 * by id), take ceil(Q/S') for the first Q mod S' of them and floor(Q/S') for the rest, so the
 * members that already own more keep more. A member above its target is a donor of the
 * surplus (a departing member donates everything); a member below it receives the deficit.
 * Only surplus partitions change owner, so the move count is fixed by the targets:
 * a join moves exactly what the new member takes, a leave exactly the leaver's partitions
 * (for a balanced input ring).
 *
 * Placement, in order of preference (ClaimChange.method says which one produced the ring):
 * 1. 'minimal': only the surplus moves. When only departing members give, the freed
 *    partitions are matched to receivers exactly (bipartite matching); otherwise a
 *    depth-first walk in ring order decides keep-or-hand-off per partition, pruning any
 *    choice that repeats an owner within a window of `distinctWindowSize`, with hand-offs
 *    paced evenly and a node budget.
 * 2. 'periodic': with S' <= N every window must hold every member, so only a round robin is
 *    distinct; the round-robin order that keeps the most partitions in place.
 * 3. 'swapped': the surplus moves greedily, then swaps (and, failing those, 3-rotations) of
 *    owners remove the remaining repeats; each costs two or three extra moves.
 * 4. 'fresh': `claimRing`, distinct but moving most partitions.
 * When no balanced ring can be distinct, the greedy minimal placement (fewest new repeats per
 * step) is kept unless the periodic/fresh ring has fewer repeated windows.
 */
export interface ClaimChange {
  readonly ring: Ring;
  /**
   * 'minimal': only the surplus moved (the placement or the matching found a ring);
   * 'swapped': the surplus moved plus a few swaps that repair distinctness;
   * 'periodic': S' <= N, so the ring must be a round robin; the one closest to the old ring;
   * 'fresh': the claimRing ring, when neither of those is distinct.
   */
  readonly method: ClaimMethod;
}

export type ClaimMethod = 'minimal' | 'swapped' | 'periodic' | 'fresh';

/** The ring after `newMember` joins: it takes about Q/(S+1) partitions from the fullest members. */
export function claimJoin(ring: Ring, newMember: string, replicas: number): Ring {
  return claimJoinChange(ring, newMember, replicas).ring;
}

/** The ring after `member` leaves: its partitions go to the members that own the fewest. */
export function claimLeave(ring: Ring, member: string, replicas: number): Ring {
  return claimLeaveChange(ring, member, replicas).ring;
}

export function claimJoinChange(ring: Ring, newMember: string, replicas: number): ClaimChange {
  if (ring.members.includes(newMember)) {
    throw new RingError('duplicate-member', `member ${JSON.stringify(newMember)} is already in the ring`);
  }
  return claimMembers(ring, [...ring.members, newMember], replicas);
}

export function claimLeaveChange(ring: Ring, member: string, replicas: number): ClaimChange {
  if (!ring.members.includes(member)) {
    throw new RingError('invalid-member', `member ${JSON.stringify(member)} is not in the ring`);
  }
  return claimMembers(
    ring,
    ring.members.filter((m) => m !== member),
    replicas,
  );
}

/** The ring for a new member set, reached from `ring` with minimal movement (see above). */
export function claimMembers(ring: Ring, members: readonly string[], replicas: number): ClaimChange {
  validateReplicas(replicas);
  const sorted = sortedMembers(members);
  const q = ring.partitionCount;
  const windowSize = distinctWindowSize(q, sorted.length, replicas);
  const quotas = memberQuotas(ring, sorted);
  // With S <= N every window must hold every member, so a distinct ring (or, when S does
  // not divide Q, one with the fewest repeats) is a round robin: the closest one replaces
  // the fresh ring as the fallback.
  const periodic = sorted.length <= Math.min(replicas, periodicMembersMax);
  const fallback = (): ClaimChange =>
    periodic
      ? { ring: makeRing(sorted, closestPeriodicOwners(ring.owners, sorted)), method: 'periodic' }
      : { ring: claimRing(sorted, q, replicas), method: 'fresh' };
  if (!distinctOwnersAchievable(q, sorted.length, replicas)) {
    // No balanced ring is distinct: keep the minimal moves unless the fallback repeats less.
    const greedy: ClaimChange = {
      ring: makeRing(sorted, placeHandOffs(ring.owners, quotas, windowSize, false) as string[]),
      method: 'minimal',
    };
    const other = fallback();
    const repeats = (r: Ring): number => repeatedOwnerWindows(r, windowSize).length;
    return repeats(other.ring) < repeats(greedy.ring) ? other : greedy;
  }
  const staying = new Set(sorted);
  const onlyLeaversGive = [...quotas.surplus.keys()].every((member) => !staying.has(member));
  const minimal =
    (onlyLeaversGive ? matchFreedPartitions(ring.owners, staying, quotas, windowSize) : undefined) ??
    placeHandOffs(ring.owners, quotas, windowSize, true);
  if (minimal !== undefined) return { ring: makeRing(sorted, minimal), method: 'minimal' };
  if (periodic) return fallback();
  const swapped = repairBySwaps(ring.owners, placeHandOffs(ring.owners, quotas, windowSize, false) as string[], windowSize);
  return swapped === undefined ? fallback() : { ring: makeRing(sorted, swapped), method: 'swapped' };
}

// S! orders are tried; past this the fresh ring is used instead.
const periodicMembersMax = 6;

/** Round robin over `sorted` in the order that leaves the most partitions with their owner. */
function closestPeriodicOwners(current: readonly string[], sorted: readonly string[]): string[] {
  const period = sorted.length;
  // kept[m][r]: partitions p with p mod period = r that member m owns now.
  const kept = sorted.map((member) => {
    const row = new Array<number>(period).fill(0);
    current.forEach((owner, p) => {
      if (owner === member) row[p % period] = (row[p % period] as number) + 1;
    });
    return row;
  });
  let best: { order: number[]; score: number } | undefined;
  for (const order of permutations(period)) {
    const score = order.reduce((sum, member, residue) => sum + ((kept[member] as number[])[residue] as number), 0);
    if (best === undefined || score > best.score) best = { order, score };
  }
  const order = (best as { order: number[] }).order;
  return current.map((_, p) => sorted[order[p % period] as number] as string);
}

/** Every ordering of 0..count-1, in lexicographic order (so ties resolve deterministically). */
function permutations(count: number): number[][] {
  if (count === 0) return [[]];
  return permutations(count - 1).flatMap((rest) =>
    Array.from({ length: count }, (_, i) => [...rest.slice(0, i), count - 1, ...rest.slice(i)]),
  );
}

/** One move of ownership: `partition` passes from `from` to `to`. */
export interface PartitionTransfer {
  readonly partition: number;
  readonly from: string;
  readonly to: string;
}

/** The partitions whose owner differs between two rings of the same size, ascending. */
export function ringTransfers(from: Ring, to: Ring): PartitionTransfer[] {
  if (from.partitionCount !== to.partitionCount) {
    throw new RangeError(`rings differ in size: ${from.partitionCount} vs ${to.partitionCount}`);
  }
  const transfers: PartitionTransfer[] = [];
  from.owners.forEach((owner, partition) => {
    const next = to.owners[partition] as string;
    if (next !== owner) transfers.push({ partition, from: owner, to: next });
  });
  return transfers;
}

/** Surplus to give (> 0) or deficit to fill (< 0) per member; departing owners give all. */
interface Quotas {
  readonly surplus: Map<string, number>;
  readonly deficit: Map<string, number>;
}

function memberQuotas(ring: Ring, sorted: readonly string[]): Quotas {
  const counts = ownedPartitionCounts(ring);
  const { floor } = ownedPartitionTarget(ring.partitionCount, sorted.length);
  const heavyCount = ring.partitionCount % sorted.length;
  const byLoad = [...sorted].sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || compareStrings(a, b));
  const surplus = new Map<string, number>();
  const deficit = new Map<string, number>();
  byLoad.forEach((member, rank) => {
    const diff = (counts.get(member) ?? 0) - (floor + (rank < heavyCount ? 1 : 0));
    if (diff > 0) surplus.set(member, diff);
    if (diff < 0) deficit.set(member, -diff);
  });
  const staying = new Set(sorted);
  for (const [member, count] of counts) if (!staying.has(member) && count > 0) surplus.set(member, count);
  return { surplus, deficit };
}

// Enough for the first path plus local repair; past it the fresh ring is cheaper than search.
const searchNodesMax = 20_000;

/** The owners after the hand-offs, or undefined when the strict search finds none. */
function placeHandOffs(
  current: readonly string[],
  quotas: Quotas,
  windowSize: number,
  strict: boolean,
): string[] | undefined {
  const q = current.length;
  const totalMoves = sumValues(quotas.surplus);
  // How many partitions from p on belong to the same owner as p: a donor whose surplus
  // equals that count must give p.
  const sameOwnerFrom = new Array<number>(q);
  const seenFrom = new Map<string, number>();
  for (let p = q - 1; p >= 0; p--) {
    const owner = current[p] as string;
    const seen = (seenFrom.get(owner) ?? 0) + 1;
    seenFrom.set(owner, seen);
    sameOwnerFrom[p] = seen;
  }
  const owners = [...current];
  const surplus = new Map(quotas.surplus);
  const deficit = new Map(quotas.deficit);
  const receivers = [...deficit.keys()].sort(compareStrings);
  let nodes = 0;
  let moved = 0;

  const repeatsAt = (p: number, owner: string): number => {
    let repeats = 0;
    for (let back = 1; back < windowSize && back <= p; back++) if (owners[p - back] === owner) repeats++;
    // Near the end the window wraps onto partitions 0.. that are already decided.
    for (let ahead = Math.max(1, q - p); ahead < windowSize; ahead++) {
      if (p + ahead - q < p && owners[p + ahead - q] === owner) repeats++;
    }
    return repeats;
  };

  const choices = (p: number): string[] => {
    const owner = current[p] as string;
    const left = surplus.get(owner) ?? 0;
    const keep = left < (sameOwnerFrom[p] as number) ? [owner] : [];
    // Receivers with the most still to take first, so none is left with a run at the end.
    const give =
      left === 0
        ? []
        : receivers
            .filter((r) => (deficit.get(r) as number) > 0)
            .sort((a, b) => (deficit.get(b) as number) - (deficit.get(a) as number));
    // Pace hand-offs evenly around the ring: give first when behind schedule.
    const behind = moved * q < (p + 1) * totalMoves;
    const ordered = behind ? [...give, ...keep] : [...keep, ...give];
    if (strict) return ordered.filter((o) => repeatsAt(p, o) === 0);
    return ordered.map((o, i) => ({ o, i, r: repeatsAt(p, o) })).sort((a, b) => a.r - b.r || a.i - b.i).map((c) => c.o);
  };

  const assign = (p: number, owner: string, delta: 1 | -1): void => {
    const from = current[p] as string;
    if (owner === from) return;
    surplus.set(from, (surplus.get(from) as number) - delta);
    deficit.set(owner, (deficit.get(owner) as number) - delta);
    moved += delta;
  };

  const walk = (p: number): boolean => {
    if (p === q) return true;
    if (++nodes > searchNodesMax) return false;
    for (const owner of choices(p)) {
      owners[p] = owner;
      assign(p, owner, 1);
      if (walk(p + 1)) return true;
      assign(p, owner, -1);
      owners[p] = current[p] as string;
      if (!strict || nodes > searchNodesMax) return false;
    }
    return false;
  };
  return walk(0) ? owners : undefined;
}

/**
 * When only departing members give, the rest of the ring stays put and the freed
 * partitions are a bipartite b-matching: partition -> receiver (up to its deficit), allowed
 * when the receiver owns nothing within the window around it. Augmenting paths find one
 * whenever one exists, where the ring-order walk can get stuck. Two freed partitions closer
 * than the window could still clash, so the result is checked before it is used.
 */
function matchFreedPartitions(
  current: readonly string[],
  staying: ReadonlySet<string>,
  quotas: Quotas,
  windowSize: number,
): string[] | undefined {
  const q = current.length;
  const freed = current.flatMap((owner, p) => (staying.has(owner) ? [] : [p]));
  const slots = [...quotas.deficit.keys()]
    .sort(compareStrings)
    .flatMap((member) => Array.from({ length: quotas.deficit.get(member) as number }, () => member));
  const near = (p: number, member: string): boolean => {
    for (let d = 1; d < windowSize; d++) {
      if (current[(p + d) % q] === member || current[(p - d + q) % q] === member) return true;
    }
    return false;
  };
  const slotOf = new Map<number, number>();
  const holderOf = new Array<number | undefined>(slots.length).fill(undefined);
  const augment = (p: number, visited: Set<number>): boolean => {
    for (let slot = 0; slot < slots.length; slot++) {
      if (visited.has(slot) || near(p, slots[slot] as string)) continue;
      visited.add(slot);
      const holder = holderOf[slot];
      if (holder === undefined || augment(holder, visited)) {
        holderOf[slot] = p;
        slotOf.set(p, slot);
        return true;
      }
    }
    return false;
  };
  for (const p of freed) if (!augment(p, new Set())) return undefined;
  const owners = [...current];
  for (const p of freed) owners[p] = slots[slotOf.get(p) as number] as string;
  const candidate = makeRing([...staying], owners);
  return repeatedOwnerWindows(candidate, windowSize).length === 0 ? owners : undefined;
}

/**
 * Removes repeated owners within a window by swapping the owners of two partitions, which
 * keeps every member's count. Used when moving only the surplus cannot be distinct (e.g. a
 * leaver whose neighbours are always the same members): each swap moves at most two more
 * partitions, far fewer than a fresh ring. Greedy: the swap that removes the most clashing
 * pairs, preferring partitions that move anyway; when no swap helps, a rotation of three
 * owners near the clash. Undefined when neither helps any more.
 */
function repairBySwaps(current: readonly string[], start: readonly string[], windowSize: number): string[] | undefined {
  const q = start.length;
  const owners = [...start];
  const clashing = (): number[] =>
    owners.flatMap((owner, p) => {
      for (let d = 1; d < windowSize; d++) if (owners[(p + d) % q] === owner || owners[(p - d + q) % q] === owner) return [p];
      return [];
    });
  for (let round = 0; round < q; round++) {
    const clashes = clashing();
    if (clashes.length === 0) return owners;
    const swap = bestSwap(owners, current, clashes, windowSize);
    if (swap !== undefined) {
      swapOwners(owners, swap);
      continue;
    }
    const rotation = bestRotation(owners, clashes, windowSize);
    if (rotation === undefined) return undefined;
    rotateOwners(owners, rotation);
  }
  return undefined;
}

/** The swap [a, b], a clashing, that removes the most clashing pairs; ties: fewest extra moves, ring order. */
function bestSwap(
  owners: string[],
  current: readonly string[],
  clashes: readonly number[],
  windowSize: number,
): [number, number] | undefined {
  let best: { swap: [number, number]; gain: number; cost: number } | undefined;
  const moved = (p: number): number => (owners[p] === current[p] ? 0 : 1);
  for (const a of clashes) {
    for (let b = 0; b < owners.length; b++) {
      if (owners[a] === owners[b]) continue;
      const swap: [number, number] = [a, b];
      const before = clashingPairsNear(owners, swap, windowSize);
      const movedBefore = moved(a) + moved(b);
      swapOwners(owners, swap);
      const gain = before - clashingPairsNear(owners, swap, windowSize);
      const cost = moved(a) + moved(b) - movedBefore;
      swapOwners(owners, swap);
      if (gain > 0 && (best === undefined || gain > best.gain || (gain === best.gain && cost < best.cost))) {
        best = { swap, gain, cost };
      }
    }
  }
  return best?.swap;
}

function swapOwners(owners: string[], [a, b]: readonly [number, number]): void {
  [owners[a], owners[b]] = [owners[b] as string, owners[a] as string];
}

// A rotation's other two partitions are sought this close to the clash, which bounds the
// search at clashes * span^2 candidates.
const rotationSpan = 24;

/** The rotation [a, b, c] (a takes b's owner, b takes c's, c takes a's) removing the most clashing pairs. */
function bestRotation(owners: string[], clashes: readonly number[], windowSize: number): number[] | undefined {
  const q = owners.length;
  const span = Math.min(rotationSpan, Math.floor((q - 1) / 2));
  let best: { rotation: number[]; gain: number } | undefined;
  for (const a of clashes) {
    for (let i = -span; i <= span; i++) {
      for (let j = -span; j <= span; j++) {
        const rotation = [a, (a + i + q) % q, (a + j + q) % q];
        const [, b, c] = rotation as [number, number, number];
        if (b === a || c === a || b === c || owners[a] === owners[b] || owners[b] === owners[c] || owners[a] === owners[c]) continue;
        const before = clashingPairsNear(owners, rotation, windowSize);
        rotateOwners(owners, rotation);
        const gain = before - clashingPairsNear(owners, rotation, windowSize);
        rotateOwners(owners, [c, b, a]);
        if (gain > 0 && (best === undefined || gain > best.gain)) best = { rotation, gain };
      }
    }
  }
  return best?.rotation;
}

function rotateOwners(owners: string[], [a, b, c]: readonly number[]): void {
  const first = owners[a as number] as string;
  owners[a as number] = owners[b as number] as string;
  owners[b as number] = owners[c as number] as string;
  owners[c as number] = first;
}

/** Pairs closer than the window with the same owner, counting only pairs that touch `positions`. */
function clashingPairsNear(owners: readonly string[], positions: readonly number[], windowSize: number): number {
  const q = owners.length;
  const pairs = new Set<number>();
  for (const p of positions) {
    for (let d = 1; d < windowSize; d++) {
      for (const other of [(p + d) % q, (p - d + q) % q]) {
        if (other !== p && owners[other] === owners[p]) pairs.add(Math.min(p, other) * q + Math.max(p, other));
      }
    }
  }
  return pairs.size;
}

function sumValues(map: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const value of map.values()) sum += value;
  return sum;
}
