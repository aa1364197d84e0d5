/**
 * Places of a quorum (sloppy quorum, hedged requests): a stand-in and the replica it stands
 * in for fill one place of the W or R between them, never two. A hedged target that answers
 * late and its stand-in both acknowledging are one copy plus a hint of it, which goes to that
 * very replica (found by the simulator, seed 7150: a W = 3 write held by two nodes).
 */

/** Each stand-in and the replica whose place it fills. */
export type StandIns = ReadonlyMap<string, string>;

export type QuorumVerdict = 'pending' | 'succeeded' | 'failed';

export const NO_STAND_INS: StandIns = new Map();

/** `node` now stands in for `standsInFor` (itself perhaps a stand-in: the place is resolved once, here). */
export function withStandIn(standIns: StandIns, node: string, standsInFor: string): StandIns {
  const next = new Map(standIns);
  next.set(node, standIns.get(standsInFor) ?? standsInFor);
  return next;
}

/**
 * Succeeded once the nodes that `answered` fill `needed` places; failed once the targets not
 * `failed` cannot. Without stand-ins every node is its own place (no set built: the common case).
 */
export function placeVerdict(answered: ReadonlySet<string> | ReadonlyMap<string, unknown>, failed: ReadonlySet<string>, targets: readonly string[], needed: number, standIns: StandIns): QuorumVerdict {
  if (standIns.size === 0) {
    if (answered.size >= needed) return 'succeeded';
    return targets.length - failed.size < needed ? 'failed' : 'pending';
  }
  if (placesOf(standIns, answered.keys()).size >= needed) return 'succeeded';
  return placesOf(standIns, targets.filter((node) => !failed.has(node))).size < needed ? 'failed' : 'pending';
}

function placesOf(standIns: StandIns, nodes: Iterable<string>): Set<string> {
  const places = new Set<string>();
  for (const node of nodes) places.add(standIns.get(node) ?? node);
  return places;
}
