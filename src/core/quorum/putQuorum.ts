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
}

export function initPutQuorum(targets: readonly string[], w: number): PutQuorum {
  if (!Number.isInteger(w) || w < 1) throw new RangeError(`w must be a positive integer, got ${w}`);
  if (new Set(targets).size !== targets.length) throw new RangeError('put targets must be distinct');
  return { targets, w, acked: new Set(), failed: new Set() };
}

/** Records one replica's answer; a second answer from the same replica is ignored. */
export function addPutReply(quorum: PutQuorum, node: string, ok: boolean): PutQuorum {
  if (!quorum.targets.includes(node) || quorum.acked.has(node) || quorum.failed.has(node)) return quorum;
  if (ok) return { ...quorum, acked: withMember(quorum.acked, node) };
  return { ...quorum, failed: withMember(quorum.failed, node) };
}

/**
 * Adds a replica the write is now also sent to (a stand-in for a failed one, sloppy
 * quorum). Adding a node already targeted changes nothing.
 */
export function addPutTarget(quorum: PutQuorum, node: string): PutQuorum {
  if (quorum.targets.includes(node)) return quorum;
  return { ...quorum, targets: [...quorum.targets, node] };
}

export function putVerdict(quorum: PutQuorum): PutVerdict {
  if (quorum.acked.size >= quorum.w) return 'succeeded';
  const stillPossible = quorum.targets.length - quorum.failed.size;
  return stillPossible < quorum.w ? 'failed' : 'pending';
}

function withMember(set: ReadonlySet<string>, member: string): ReadonlySet<string> {
  const next = new Set(set);
  next.add(member);
  return next;
}
