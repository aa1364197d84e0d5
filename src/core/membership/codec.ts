/**
 * The cluster state as plain data, for gossip messages and the node's persisted copy, and
 * its strict decoding: a state from a peer or from disk is checked in full (rings,
 * members, transfers) before it is merged, so a malformed one is refused, never merged.
 */
import { makeRing, RingError, validateReplicas, type Ring } from '../ring.ts';
import { makeMemberTable, MembershipError, type Member, type MemberStatus } from './member.ts';
import type { ChangeKind, ClusterState, MembershipChange, TransferState } from './state.ts';

/** A JSON-able form of ClusterState (what gossip carries and the MetaStore keeps). */
export interface WireState {
  readonly clusterName: string;
  readonly clusterId: string;
  readonly replicas: number;
  readonly members: readonly WireMember[];
  readonly ring: WireRing;
  readonly ringVersion: number;
  readonly change: WireChange | null;
}

interface WireMember {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly status: string;
  readonly version: number;
}

interface WireRing {
  readonly members: readonly string[];
  readonly owners: readonly string[];
}

interface WireChange {
  readonly kind: string;
  readonly member: string;
  readonly previousRing: WireRing;
  /** [partition, from, to, done] per transfer. */
  readonly transfers: readonly (readonly [number, string, string, boolean])[];
}

export function encodeState(state: ClusterState): WireState {
  const change = state.change;
  return {
    clusterName: state.clusterName,
    clusterId: state.clusterId,
    replicas: state.replicas,
    members: state.members.map((m) => ({ id: m.id, host: m.address.host, port: m.address.port, status: m.status, version: m.version })),
    ring: wireRing(state.ring),
    ringVersion: state.ringVersion,
    change:
      change === undefined
        ? null
        : {
            kind: change.kind,
            member: change.member,
            previousRing: wireRing(change.previousRing),
            transfers: change.transfers.map((t) => [t.partition, t.from, t.to, t.done] as const),
          },
  };
}

const statuses: readonly MemberStatus[] = ['joining', 'valid', 'leaving', 'down', 'removed'];
const kinds: readonly ChangeKind[] = ['join', 'leave', 'remove'];

/** Decodes and checks a state; throws MembershipError('invalid-state') naming what is wrong. */
export function decodeState(input: unknown): ClusterState {
  try {
    const wire = record(input, 'state');
    const replicas = wire.replicas;
    if (typeof replicas !== 'number') throw invalid('replicas must be a number');
    validateReplicas(replicas);
    const ring = decodeRing(wire.ring, 'ring');
    const state: ClusterState = {
      clusterName: text(wire.clusterName, 'clusterName'),
      clusterId: text(wire.clusterId, 'clusterId'),
      replicas,
      members: makeMemberTable(list(wire.members, 'members').map(decodeMember)),
      ring,
      ringVersion: counter(wire.ringVersion, 'ringVersion'),
      change: wire.change === null ? undefined : decodeChange(wire.change, ring),
    };
    return Object.freeze(state);
  } catch (error) {
    if (error instanceof MembershipError && error.code === 'invalid-state') throw error;
    if (error instanceof MembershipError || error instanceof RingError || error instanceof RangeError) throw invalid(error.message);
    throw error;
  }
}

function decodeMember(input: unknown): Member {
  const wire = record(input, 'member');
  const status = text(wire.status, 'member status') as MemberStatus;
  if (!statuses.includes(status)) throw invalid(`unknown member status ${JSON.stringify(status)}`);
  const port = wire.port;
  if (typeof port !== 'number') throw invalid('member port must be a number');
  return { id: text(wire.id, 'member id'), address: { host: text(wire.host, 'member host'), port }, status, version: counter(wire.version, 'member version') };
}

function decodeRing(input: unknown, name: string): Ring {
  const wire = record(input, name);
  return makeRing(list(wire.members, `${name}.members`).map((m) => text(m, `${name} member`)), list(wire.owners, `${name}.owners`).map((o) => text(o, `${name} owner`)));
}

function decodeChange(input: unknown, ring: Ring): MembershipChange {
  const wire = record(input, 'change');
  const kind = text(wire.kind, 'change kind') as ChangeKind;
  if (!kinds.includes(kind)) throw invalid(`unknown change kind ${JSON.stringify(kind)}`);
  const previousRing = decodeRing(wire.previousRing, 'change.previousRing');
  if (previousRing.partitionCount !== ring.partitionCount) throw invalid('change.previousRing has another partition count');
  const transfers = list(wire.transfers, 'change.transfers').map((t) => decodeTransfer(t, ring, previousRing));
  return Object.freeze({ kind, member: text(wire.member, 'change member'), previousRing, transfers: Object.freeze(transfers) });
}

function decodeTransfer(input: unknown, ring: Ring, previousRing: Ring): TransferState {
  const [partition, from, to, done] = list(input, 'transfer');
  if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0 || partition >= ring.partitionCount) {
    throw invalid(`transfer partition ${JSON.stringify(partition)} is not on the ring`);
  }
  const fromId = text(from, 'transfer from');
  const toId = text(to, 'transfer to');
  if (!previousRing.members.includes(fromId) || !ring.members.includes(toId) || typeof done !== 'boolean') {
    throw invalid(`transfer ${JSON.stringify(input)} names nodes outside the rings or has no done flag`);
  }
  return Object.freeze({ partition, from: fromId, to: toId, done });
}

function wireRing(ring: Ring): WireRing {
  return { members: ring.members, owners: ring.owners };
}

function record(input: unknown, name: string): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid(`${name} must be an object`);
  return input as Record<string, unknown>;
}

function list(input: unknown, name: string): readonly unknown[] {
  if (!Array.isArray(input)) throw invalid(`${name} must be an array`);
  return input;
}

function text(input: unknown, name: string): string {
  if (typeof input !== 'string' || input === '') throw invalid(`${name} must be a non-empty string`);
  return input;
}

function counter(input: unknown, name: string): number {
  if (typeof input !== 'number' || !Number.isSafeInteger(input) || input < 0) throw invalid(`${name} must be a non-negative integer`);
  return input;
}

function invalid(message: string): MembershipError {
  return new MembershipError('invalid-state', `invalid cluster state: ${message}`);
}
