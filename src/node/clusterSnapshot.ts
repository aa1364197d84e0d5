/**
 * What a partition-aware client routes by (paper 6.4): the cluster state as gossip carries
 * it (members with their internode addresses, the ring, the change in progress), and the
 * node's read and write quorums and size limits. `GET /admin/cluster` answers it; the
 * client (src/client/) decodes it strictly, since a bad snapshot must never be routed by.
 */
import { decodeState, encodeState, type WireState } from '../core/membership/codec.ts';
import type { ClusterState } from '../core/membership/state.ts';
import type { NodeConfig } from './config.ts';

export interface ClusterSnapshot {
  /** The node that answered. */
  readonly nodeId: string;
  readonly clusterName: string;
  readonly r: number;
  readonly w: number;
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;
  readonly state: WireState;
}

export interface DecodedSnapshot extends Omit<ClusterSnapshot, 'state'> {
  readonly state: ClusterState;
}

export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

export function clusterSnapshotOf(config: NodeConfig, state: ClusterState): ClusterSnapshot {
  return {
    nodeId: config.id,
    clusterName: config.clusterName,
    r: config.r,
    w: config.w,
    keyBytesMax: config.keyBytesMax,
    valueBytesMax: config.valueBytesMax,
    state: encodeState(state),
  };
}

/** The snapshot in `input` (parsed JSON), checked in full; throws SnapshotError saying what is wrong. */
export function decodeClusterSnapshot(input: unknown): DecodedSnapshot {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new SnapshotError('a cluster snapshot must be a JSON object');
  const fields = input as Record<string, unknown>;
  const text = (name: string): string => {
    const value = fields[name];
    if (typeof value !== 'string' || value === '') throw new SnapshotError(`snapshot field ${name} must be a non-empty string`);
    return value;
  };
  const count = (name: string): number => {
    const value = fields[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new SnapshotError(`snapshot field ${name} must be a positive integer`);
    return value;
  };
  let state: ClusterState;
  try {
    state = decodeState(fields.state);
  } catch (error) {
    throw new SnapshotError(`snapshot state is invalid: ${(error as Error).message}`);
  }
  const clusterName = text('clusterName');
  if (state.clusterName !== clusterName) throw new SnapshotError(`snapshot of cluster ${JSON.stringify(clusterName)} holds the state of ${JSON.stringify(state.clusterName)}`);
  return { nodeId: text('nodeId'), clusterName, r: count('r'), w: count('w'), keyBytesMax: count('keyBytesMax'), valueBytesMax: count('valueBytesMax'), state };
}
