/**
 * Writes a cluster's keys straight into each member's LMDB store before the nodes start,
 * exactly as the nodes store one PUT per key without a context: the object
 * core/object putObject makes for a first write (one sibling, dot `preload.0`:1),
 * encoded by the node's object codec, under the key's partition (MD5, core/hash), on each
 * of the key's N replicas in the ring the members found from their `--cluster` list
 * (node/cluster initialClusterState, the same function a node runs at its first start),
 * in the LMDB environment a node opens (`<data>/lmdb`, io/runtime).
 * Loading millions of keys this way takes seconds instead of the many minutes one HTTP
 * write per key takes on a small machine.
 *
 * The ring depends on the member ids, N and Q only (not on addresses), so the data can be
 * written before the ports are chosen; the caller should still compare `ringOwners` with
 * a node's `GET /admin/ring` once the nodes run.
 */
import { join } from 'node:path';
import { keyBytes, partitionOfKey } from '../../src/core/hash.ts';
import { replicasOf } from '../../src/core/membership/transfers.ts';
import { putObject } from '../../src/core/object.ts';
import { initialClusterState } from '../../src/node/cluster.ts';
import { nodeConfigFrom, objectLimitsOf } from '../../src/node/config.ts';
import type { WriteOp } from '../../src/ports/storage.ts';
import { encodeObject } from '../../src/storage/objectCodec.ts';
import { openLmdbEngine, type LmdbEngine } from '../../src/storage/lmdbEngine.ts';
import { LMDB_DIRECTORY } from '../../src/io/runtime.ts';

/** The actor of the preloaded versions: not a node's (`<id>.<epoch>`, epochs start at 1). */
export const PRELOAD_ACTOR = 'preload.0';

export interface PreloadOptions {
  /** Every founding member, with the data dir its node will be started with. */
  members: readonly { id: string; dataDir: string }[];
  keys: number;
  key: (i: number) => string;
  value: (i: number) => Uint8Array;
  contentType: string;
  /** The cluster's N and Q, as the nodes will be started with. */
  n: number;
  partitionCount: number;
  /** Keys per LMDB transaction. */
  batchKeys?: number;
  onProgress?: (line: string) => void;
}

export interface PreloadResult {
  elapsedS: number;
  keysPerS: number;
  /** Objects written into each member's store. */
  objects: Record<string, number>;
  /** Bytes (key + encoded object) written into each member's store. */
  bytes: Record<string, number>;
  /** Size of one encoded object (every key gets a value of the same size). */
  encodedObjectBytes: number;
  /** The ring the data was placed by: the owner of each partition. */
  ringOwners: string[];
  /** How many of the keys fall in each partition. */
  keysPerPartition: number[];
}

export async function preloadStores(options: PreloadOptions): Promise<PreloadResult> {
  const started = performance.now();
  const ids = options.members.map((m) => m.id);
  const cluster = options.members.map((m, i) => `${m.id}@127.0.0.1:${i + 1}`).join(',');
  const config = nodeConfigFrom({ id: ids[0], cluster, n: options.n, partitionCount: options.partitionCount });
  const state = initialClusterState(config);
  const replicas = Array.from({ length: options.partitionCount }, (_, p) => replicasOf(state.ring, p, state.replicas));
  const engines = new Map<string, LmdbEngine>(options.members.map((m) => [m.id, openLmdbEngine({ path: join(m.dataDir, LMDB_DIRECTORY) })]));
  const objects: Record<string, number> = Object.fromEntries(ids.map((id) => [id, 0]));
  const bytes: Record<string, number> = Object.fromEntries(ids.map((id) => [id, 0]));
  const keysPerPartition = new Array<number>(options.partitionCount).fill(0);
  const batchKeys = options.batchKeys ?? 20_000;
  const limits = objectLimitsOf(config);
  const nowMs = Date.now();
  let encodedObjectBytes = 0;
  let lastProgress = started;
  try {
    for (let from = 0; from < options.keys; from += batchKeys) {
      const ops = new Map<string, WriteOp[]>(ids.map((id) => [id, []]));
      for (let i = from; i < Math.min(options.keys, from + batchKeys); i++) {
        const key = keyBytes(options.key(i));
        const partition = partitionOfKey(key, options.partitionCount);
        keysPerPartition[partition] = (keysPerPartition[partition] ?? 0) + 1;
        const put = putObject(undefined, { context: [], actor: PRELOAD_ACTOR, value: options.value(i), contentType: options.contentType, deleted: false, nowMs }, limits);
        if (!put.ok) throw new Error(`preload: putObject refused key ${options.key(i)}`);
        const value = encodeObject(put.object);
        encodedObjectBytes = value.length;
        for (const id of replicas[partition] ?? []) {
          (ops.get(id) as WriteOp[]).push({ kind: 'put', partition, key, value });
          objects[id] = (objects[id] ?? 0) + 1;
          bytes[id] = (bytes[id] ?? 0) + key.length + value.length;
        }
      }
      await Promise.all([...engines].map(([id, engine]) => engine.writeBatch(ops.get(id) ?? [], { durable: false })));
      const now = performance.now();
      if (options.onProgress !== undefined && now - lastProgress >= 5000) {
        lastProgress = now;
        const done = Math.min(options.keys, from + batchKeys);
        options.onProgress(`t=${((now - started) / 1000).toFixed(0)}s ${done}/${options.keys} keys (${Math.round(done / ((now - started) / 1000))}/s)`);
      }
    }
  } finally {
    // Closing waits for every commit (and its fsync) before the nodes open the stores.
    await Promise.all([...engines.values()].map((engine) => engine.close()));
  }
  const elapsedS = (performance.now() - started) / 1000;
  return {
    elapsedS: Math.round(elapsedS * 100) / 100,
    keysPerS: Math.round(options.keys / elapsedS),
    objects,
    bytes,
    encodedObjectBytes,
    ringOwners: [...state.ring.owners],
    keysPerPartition,
  };
}
