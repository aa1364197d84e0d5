/**
 * Quorum arithmetic of a get (paper 4.5, Riak's get_core): replies are folded into one
 * reconciled object; the reducer says when R replies are in, and which replicas answered
 * with a stale or missing version and so need read repair.
 */
import { objectsEqual, syncObjects, type StoredObject } from '../object.ts';
import { NO_STAND_INS, placeVerdict, withStandIn, type QuorumVerdict, type StandIns } from './places.ts';

export type GetVerdict = QuorumVerdict;

export interface GetQuorum {
  readonly targets: readonly string[];
  readonly r: number;
  /** What each replica answered: its object, or undefined when it holds none. */
  readonly replies: ReadonlyMap<string, StoredObject | undefined>;
  readonly failed: ReadonlySet<string>;
  /** Every reply reconciled: the versions no reply has superseded. */
  readonly merged: StoredObject | undefined;
  /** Stand-ins and the replica whose place each fills (places.ts). */
  readonly standIns: StandIns;
}

export function initGetQuorum(targets: readonly string[], r: number): GetQuorum {
  if (!Number.isInteger(r) || r < 1) throw new RangeError(`r must be a positive integer, got ${r}`);
  if (new Set(targets).size !== targets.length) throw new RangeError('get targets must be distinct');
  return { targets, r, replies: new Map(), failed: new Set(), merged: undefined, standIns: NO_STAND_INS };
}

/** Records one replica's object (undefined = not found); repeats and strangers are ignored. */
export function addGetReply(quorum: GetQuorum, node: string, object: StoredObject | undefined): GetQuorum {
  if (!isAwaited(quorum, node)) return quorum;
  const replies = new Map(quorum.replies);
  replies.set(node, object);
  return { ...quorum, replies, merged: syncObjects(quorum.merged, object) };
}

/** Records that a replica could not answer (error or timeout). */
export function addGetFailure(quorum: GetQuorum, node: string): GetQuorum {
  if (!isAwaited(quorum, node)) return quorum;
  const failed = new Set(quorum.failed);
  failed.add(node);
  return { ...quorum, failed };
}

/**
 * Adds a replica the read is now also sent to (a stand-in for a failed one, sloppy
 * quorum). Adding a node already targeted changes nothing.
 */
export function addGetTarget(quorum: GetQuorum, node: string, standsInFor?: string): GetQuorum {
  if (quorum.targets.includes(node)) return quorum;
  const targets = [...quorum.targets, node];
  if (standsInFor === undefined) return { ...quorum, targets };
  return { ...quorum, targets, standIns: withStandIn(quorum.standIns, node, standsInFor) };
}

export function getVerdict(quorum: GetQuorum): GetVerdict {
  return placeVerdict(quorum.replies, quorum.failed, quorum.targets, quorum.r, quorum.standIns);
}

/** True once every target has answered or failed: nothing more will arrive. */
export function getSettled(quorum: GetQuorum): boolean {
  return quorum.replies.size + quorum.failed.size === quorum.targets.length;
}

/** The replicas that answered with something other than the reconciled object. */
export function readRepairTargets(quorum: GetQuorum): string[] {
  const { merged } = quorum;
  if (merged === undefined) return [];
  const stale: string[] = [];
  for (const [node, object] of quorum.replies) {
    if (!objectsEqual(object, merged)) stale.push(node);
  }
  return stale;
}

function isAwaited(quorum: GetQuorum, node: string): boolean {
  return quorum.targets.includes(node) && !quorum.replies.has(node) && !quorum.failed.has(node);
}
