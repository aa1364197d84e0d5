/**
 * Partition transfers (and anti-entropy pushes), receiving side: every object of a batch is checked (key in the
 * named partition, well-formed object) before any is stored, then merged into the local
 * copy like any replica write (syncObjects: no version is ever lost by a transfer), and
 * the batch is acknowledged only once it is persisted and fsynced, so the sender may
 * advance its cursor.
 */
import { partitionOfKey } from '../../core/hash.ts';
import type { StoredObject } from '../../core/object.ts';
import { CorruptObjectError, decodeObject } from '../../storage/objectCodec.ts';
import type { Replica } from '../../ports/replica.ts';
import { ACK, BadMessageError, type Reply, type TransferBatchMessage } from '../protocol.ts';

export interface TransferReceiverDeps {
  readonly replica: Replica;
  readonly partitionCount: number;
  readonly keyBytesMax: number;
}

export async function receiveTransferBatch(deps: TransferReceiverDeps, message: TransferBatchMessage): Promise<Reply> {
  await mergeBatch(deps, message.partition, message.keys, message.objects);
  return ACK;
}

/** Checks every (key, object) of a batch, then merges them all and waits for the fsync. */
export async function mergeBatch(
  deps: TransferReceiverDeps,
  partition: number,
  keys: readonly Uint8Array[],
  encoded: readonly Uint8Array[],
): Promise<void> {
  if (keys.length !== encoded.length) throw new BadMessageError(`a batch of ${keys.length} keys carries ${encoded.length} objects`);
  const objects = keys.map((key, i) => checkedEntry(deps, partition, key, encoded[i] as Uint8Array));
  await deps.replica.mergeBatch(partition, keys, objects);
}

function checkedEntry(deps: TransferReceiverDeps, partition: number, key: Uint8Array, bytes: Uint8Array): StoredObject {
  if (key.length === 0 || key.length > deps.keyBytesMax) throw new BadMessageError(`key must be 1-${deps.keyBytesMax} bytes, got ${key.length}`);
  const expected = partitionOfKey(key, deps.partitionCount);
  if (expected !== partition) throw new BadMessageError(`transfer batch for partition ${partition} holds a key of partition ${expected}`);
  try {
    return decodeObject(bytes);
  } catch (error) {
    if (error instanceof CorruptObjectError) throw new BadMessageError(`object: ${error.reason}`);
    throw error;
  }
}
