/**
 * Quorum arithmetic of a put (paper 4.5), as a pure reducer: the coordinator's state
 * machine feeds it replies and asks it whether the write has succeeded or can no longer.
 */

import { NO_STAND_INS, placeVerdict, withStandIn, type QuorumVerdict, type StandIns } from './places.ts';

export type PutVerdict = QuorumVerdict;

export interface PutQuorum {
  /** Replicas the write was sent to (the coordinator included). */
  readonly targets: readonly string[];
  readonly w: number;
  readonly acked: ReadonlySet<string>;
  readonly failed: ReadonlySet<string>;
  /** Stand-ins and the replica whose place each fills (places.ts). */
  readonly standIns: StandIns;
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
  return { ...quorum, targets, standIns: withStandIn(quorum.standIns, node, standsInFor) };
}

export function putVerdict(quorum: PutQuorum): PutVerdict {
  return placeVerdict(quorum.acked, quorum.failed, quorum.targets, quorum.w, quorum.standIns);
}

function withMember(set: ReadonlySet<string>, member: string): ReadonlySet<string> {
  const next = new Set(set);
  next.add(member);
  return next;
}
