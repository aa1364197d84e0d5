/**
 * Explicit membership changes (paper 4.8.1, 4.9) as pure planners: each takes the cluster
 * state and returns either a refusal with a reason, or the next state and the partition
 * transfers it starts. The caller shows the plan, applies it on confirmation, and gossips
 * the new state; nothing here does I/O.
 *
 * One change at a time: a plan is refused while transfers of the previous one are pending,
 * so claims always start from a settled ring.
 */
import { claimJoin, claimLeave } from '../claim.ts';
import type { Ring } from '../ring.ts';
import { findMember, withMember, type Member, type MemberAddress } from './member.ts';
import { currentMembers, pendingTransfers, type ChangeKind, type ClusterState, type TransferState } from './state.ts';
import { replicaTransfers } from './transfers.ts';

export type PlanRefusalCode =
  | 'transfers-pending'
  | 'already-member'
  | 'unknown-member'
  | 'not-valid'
  | 'too-few-members';

export type PlanResult =
  | { readonly ok: true; readonly state: ClusterState; readonly transfers: readonly TransferState[] }
  | { readonly ok: false; readonly code: PlanRefusalCode; readonly reason: string };

/** A new member joins as `joining` and is given about Q/(S+1) partitions. */
export function planJoin(state: ClusterState, member: { readonly id: string; readonly address: MemberAddress }): PlanResult {
  const { id, address } = member;
  const busy = refuseWhilePending(state);
  if (busy !== undefined) return busy;
  const known = findMember(currentMembers(state), id);
  // Removed ids stay as tombstones, so a returning machine needs a fresh id. A joiner whose
  // plan lost a race with another planner (never in the ring) may try again.
  const orphaned = known?.status === 'joining' && !state.ring.members.includes(id);
  if (known !== undefined && !orphaned) {
    return refuse('already-member', `${JSON.stringify(id)} is already in the member table (${known.status}); use a new id`);
  }
  const entry: Member = { id, address, status: 'joining', version: (known?.version ?? 0) + 1 };
  return applyClaim(state, 'join', entry, claimJoin(state.ring, id, state.replicas));
}

/** A valid member hands its partitions to the others and is marked `leaving`. */
export function planLeave(state: ClusterState, id: string): PlanResult {
  return planDeparture(state, id, 'leaving');
}

/**
 * A dead member is marked `removed` and its partitions reassigned; the surviving replicas
 * send its copies to the new ones (transfers.ts). Whether the
 * member is really dead (the `--force` check) is the caller's knowledge, not the core's.
 */
export function planRemove(state: ClusterState, id: string): PlanResult {
  return planDeparture(state, id, 'removed');
}

function planDeparture(state: ClusterState, id: string, status: 'leaving' | 'removed'): PlanResult {
  const busy = refuseWhilePending(state);
  if (busy !== undefined) return busy;
  const member = findMember(currentMembers(state), id);
  if (member === undefined) return refuse('unknown-member', `no member ${JSON.stringify(id)} in the cluster`);
  if (!state.ring.members.includes(id)) {
    return refuse('not-valid', `${JSON.stringify(id)} is ${member.status} and owns no part of the ring`);
  }
  // The ring's members are the valid ones plus any joiner whose transfers have settled.
  const remaining = state.ring.members.length - 1;
  if (remaining < state.replicas) {
    return refuse(
      'too-few-members',
      `${status === 'leaving' ? 'leaving' : 'removing'} ${JSON.stringify(id)} would leave ${remaining} ` +
        `member(s), fewer than N=${state.replicas}`,
    );
  }
  const entry: Member = { ...member, status, version: member.version + 1 };
  return applyClaim(state, status === 'leaving' ? 'leave' : 'remove', entry, claimLeave(state.ring, id, state.replicas));
}

function applyClaim(state: ClusterState, kind: ChangeKind, entry: Member, ring: Ring): PlanResult {
  const gone = kind === 'remove' ? entry.id : undefined;
  const transfers: readonly TransferState[] = Object.freeze(
    replicaTransfers(state.ring, ring, state.replicas, gone).map((t) => Object.freeze({ ...t, done: false })),
  );
  const next: ClusterState = Object.freeze({
    ...state,
    members: withMember(currentMembers(state), entry),
    ring,
    ringVersion: state.ringVersion + 1,
    change: Object.freeze({ kind, member: entry.id, previousRing: state.ring, transfers }),
  });
  return { ok: true, state: next, transfers };
}

function refuseWhilePending(state: ClusterState): PlanResult | undefined {
  const count = pendingTransfers(state).length;
  if (count === 0) return undefined;
  return refuse('transfers-pending', `${count} partition transfer(s) of the previous change are still pending`);
}

function refuse(code: PlanRefusalCode, reason: string): PlanResult {
  return { ok: false, code, reason };
}
