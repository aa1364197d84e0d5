/**
 * Explicit membership changes (paper 4.8.1, 4.9) as pure planners: each takes the cluster
 * state and returns either a refusal with a reason, or the next state and the partition
 * transfers it starts. The caller shows the plan, applies it on confirmation, and gossips
 * the new state; nothing here does I/O.
 *
 * One change at a time: a plan is refused while transfers of the previous one are pending,
 * so claims always start from a settled ring.
 */
import { claimJoin, claimLeave, ringTransfers, type PartitionTransfer } from '../claim.ts';
import type { Ring } from '../ring.ts';
import { findMember, withMember, type Member, type MemberAddress } from './member.ts';
import type { ClusterState } from './state.ts';

export type PlanRefusalCode =
  | 'transfers-pending'
  | 'already-member'
  | 'unknown-member'
  | 'not-valid'
  | 'too-few-members';

export type PlanResult =
  | { readonly ok: true; readonly state: ClusterState; readonly transfers: readonly PartitionTransfer[] }
  | { readonly ok: false; readonly code: PlanRefusalCode; readonly reason: string };

/** A new member joins as `joining` and is given about Q/(S+1) partitions. */
export function planJoin(state: ClusterState, member: { readonly id: string; readonly address: MemberAddress }): PlanResult {
  const { id, address } = member;
  const busy = refuseWhilePending(state);
  if (busy !== undefined) return busy;
  // Removed ids stay as tombstones, so a returning machine needs a fresh id.
  if (findMember(state.members, id) !== undefined) {
    return refuse('already-member', `${JSON.stringify(id)} is already in the member table; use a new id`);
  }
  const entry: Member = { id, address, status: 'joining', version: 1 };
  return applyClaim(state, entry, claimJoin(state.ring, id, state.replicas));
}

/** A valid member hands its partitions to the others and is marked `leaving`. */
export function planLeave(state: ClusterState, id: string): PlanResult {
  return planDeparture(state, id, 'leaving');
}

/**
 * A dead member is marked `removed` and its partitions reassigned; the transfers name it as
 * the sender, and the receivers rebuild them from the surviving replicas instead. Whether the
 * member is really dead (the `--force` check) is the caller's knowledge, not the core's.
 */
export function planRemove(state: ClusterState, id: string): PlanResult {
  return planDeparture(state, id, 'removed');
}

function planDeparture(state: ClusterState, id: string, status: 'leaving' | 'removed'): PlanResult {
  const busy = refuseWhilePending(state);
  if (busy !== undefined) return busy;
  const member = findMember(state.members, id);
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
  return applyClaim(state, entry, claimLeave(state.ring, id, state.replicas));
}

function applyClaim(state: ClusterState, entry: Member, ring: Ring): PlanResult {
  const transfers = Object.freeze(ringTransfers(state.ring, ring));
  const next: ClusterState = Object.freeze({
    ...state,
    members: withMember(state.members, entry),
    ring,
    ringVersion: state.ringVersion + 1,
    pendingTransfers: transfers,
  });
  return { ok: true, state: next, transfers };
}

function refuseWhilePending(state: ClusterState): PlanResult | undefined {
  const count = state.pendingTransfers.length;
  if (count === 0) return undefined;
  return refuse('transfers-pending', `${count} partition transfer(s) of the previous change are still pending`);
}

function refuse(code: PlanRefusalCode, reason: string): PlanResult {
  return { ok: false, code, reason };
}
