/**
 * Quorum arithmetic of a put (paper 4.5), as a pure reducer: the coordinator's state
 * machine feeds it replies and asks it whether the write has succeeded or can no longer.
 */

export type PutVerdict = 'pending' | 'succeeded' | 'failed';

export interface PutQuorum {
  /** Replicas the write was sent to (the coordinator included). */
  readonly targets: readonly string[];
  readonly w: number;
  readonly acked: ReadonlySet<string>;
  readonly failed: ReadonlySet<string>;
  /**
   * Stand-ins and the replica each stands in for (sloppy quorum, hedged requests): a stand-in
   * and the replica it stands in for fill one place of the W, never two (a hedged target
   * that answers late and its stand-in both acknowledging are one copy plus a hint of it,
   * which goes to that very replica; found by the simulator, seed 7150).
   */
  readonly standIns: ReadonlyMap<string, string>;
}

export function initPutQuorum(targets: readonly string[], w: number): PutQuorum {
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`w must be a positive integer, got ${w}`);
  if (new Set(targets).size !== targets.length) throw new RangeError('put targets must be distinct');
  return { targets, w, acked: new Set(), failed: new Set(), standIns: NO_STAND_INS };
}

/** Records one replica's answer; a second answer from the same replica is ignored. */
export function addPutReply(quorum: PutQuorum, node: string, ok: boolean): PutQuorum {
  if (!quorum.targets.includes(node) || quorum.acked.has(node) || quorum.failed.has(node)) return quorum;
  if (ok) return { ...quorum, acked: withMember(quorum.acked, node) };
  return { ...quorum, failed: withMember(quorum.failed, node) };
}

/**
 * Adds a replica the write is now also sent to, standing in for `standsInFor` (a failed or
 * silent target: sloppy quorum, hedging). Adding a node already targeted changes nothing.
 */
export function addPutTarget(quorum: PutQuorum, node: string, standsInFor?: string): PutQuorum {
  if (quorum.targets.includes(node)) return quorum;
  const targets = [...quorum.targets, node];
  if (standsInFor === undefined) return { ...quorum, targets };
  const standIns = new Map(quorum.standIns);
  standIns.set(node, placeOf(quorum.standIns, standsInFor));
  return { ...quorum, targets, standIns };
}

export function putVerdict(quorum: PutQuorum): PutVerdict {
  const { acked, failed, targets, w, standIns } = quorum;
  if (standIns.size === 0) {
    if (acked.size >= w) return 'succeeded';
    return targets.length - failed.size < w ? 'failed' : 'pending';
  }
  if (placesOf(standIns, acked).size >= w) return 'succeeded';
  return placesOf(standIns, targets.filter((node) => !failed.has(node))).size < w ? 'failed' : 'pending';
}

const NO_STAND_INS: ReadonlyMap<string, string> = new Map();

/** The replica whose place `node` fills: itself, or the one it (transitively) stands in for. */
export function placeOf(standIns: ReadonlyMap<string, string>, node: string): string {
  return standIns.get(node) ?? node;
}

/** The distinct places `nodes` fill. */
export function placesOf(standIns: ReadonlyMap<string, string>, nodes: Iterable<string>): Set<string> {
  const places = new Set<string>();
  for (const node of nodes) places.add(placeOf(standIns, node));
  return places;
}

function withMember(set: ReadonlySet<string>, member: string): ReadonlySet<string> {
  const next = new Set(set);
  next.add(member);
  return next;
}
