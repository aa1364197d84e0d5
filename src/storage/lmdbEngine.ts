/**
 * The production StorageEngine over LMDB (the `lmdb` package, lmdb-js).
 *
 * Layout: one LMDB environment (a directory) with two named databases:
 *   "objects"  binary keys [partition: 2 bytes big-endian][key bytes], binary values, no
 *              compression; each partition is one contiguous key range.
 *   "meta"     small JSON records for the node itself (start epoch, membership), exposed
 *              as `engine.meta` (a MetaStore).
 *   "hints"    the hint store's entries (storage/hintStore.ts), laid out like "objects",
 *              exposed as `engine.hints`, a StorageEngine of its own.
 * Later stores get their own named database in the same environment (maxDbs leaves room).
 * Closing `engine` closes the environment (meta and hints included); closing `engine.hints`
 * only waits for its writes, so the node closes the hints first.
 *
 * Durability. lmdb-js commits asynchronously on its own thread, batching every write of an
 * event turn into one transaction. On Linux and macOS it opens the environment with
 * `overlappingSync` (the default we keep): a transaction is committed (visible to readers,
 * and safe against a process crash because the OS holds its pages) and its fsync runs
 * after the commit, off the write lock. The database object's `flushed` thenable resolves
 * once every previous commit is also fsynced. So:
 *   - writeBatch puts every op inside one `db.batch(callback)` (one transaction, atomic and
 *     in order) and awaits its commit promise;
 *   - a durable batch then also awaits `root.flushed` (fsync done for that commit or a
 *     later one). Without overlappingSync (Windows) the commit itself syncs, and `flushed`
 *     resolves with the commit.
 * Non-durable batches therefore resolve at commit without waiting for their fsync (lmdb-js
 * still syncs them in the background). We deliberately do not use `noSync`: with
 * MDB_NOSYNC an OS crash can corrupt the whole environment, acknowledged durable writes
 * included, which would break the durable-write guarantee.
 */
import { open } from 'lmdb';
import type { Database, RootDatabase } from 'lmdb';
import type { JsonValue, MetaStore, ScanEntry, StorageEngine, WriteOp } from '../ports/storage.ts';
import { StorageError } from '../ports/storage.ts';
import { PARTITION_MAX, asUint8Array, checkKey, checkLimit, checkPartition } from './keys.ts';

export interface LmdbEngineOptions {
  /** The environment's directory (created when missing). */
  readonly path: string;
  /** Initial map size; lmdb-js grows the map as the data grows. */
  readonly mapSizeBytes?: number;
}

/** The LMDB engine, with the node's metadata store in the same environment. */
export interface LmdbEngine extends StorageEngine {
  readonly meta: MetaStore;
  readonly path: string;
  /** The hint store's engine: the "hints" database of the same environment. */
  readonly hints: StorageEngine;
}

const OBJECTS_DB = 'objects';
const META_DB = 'meta';
const HINTS_DB = 'hints';
const MAX_DBS = 8;

type BinaryDb = Database<Uint8Array, Uint8Array>;

export function openLmdbEngine(options: LmdbEngineOptions): LmdbEngine {
  try {
    const root = open({
      path: options.path,
      maxDbs: MAX_DBS,
      compression: false,
      ...(options.mapSizeBytes === undefined ? {} : { mapSize: options.mapSizeBytes }),
    });
    const objects = root.openDB<Uint8Array, Uint8Array>(OBJECTS_DB, {
      keyEncoding: 'binary',
      encoding: 'binary',
      compression: false,
    });
    const meta = root.openDB<JsonValue, string>(META_DB, { encoding: 'json', compression: false });
    const hints = root.openDB<Uint8Array, Uint8Array>(HINTS_DB, { keyEncoding: 'binary', encoding: 'binary', compression: false });
    const environment = new SharedEnvironment(root);
    const hintsEngine = new LmdbObjectsEngine(options.path, root, hints, environment, false);
    return Object.assign(new LmdbObjectsEngine(options.path, root, objects, environment, true), {
      meta: new LmdbMetaStore(root, meta, () => {
        if (environment.closed) throw new StorageError('LMDB engine is closed');
      }),
      hints: hintsEngine as StorageEngine,
    });
  } catch (error) {
    throw storageError(`cannot open LMDB at ${options.path}`, error);
  }
}

/** The environment shared by the engines of one LMDB directory. */
class SharedEnvironment {
  closed = false;
  constructor(private readonly root: RootDatabase) {}

  /** The owner (the objects engine) closes the environment; another engine waits for its writes. */
  async release(owner: boolean): Promise<void> {
    if (this.closed) return;
    if (!owner) {
      await this.root.flushed;
      return;
    }
    this.closed = true;
    await this.root.close();
  }
}

/** One named binary database of the environment as a StorageEngine. */
class LmdbObjectsEngine implements StorageEngine {
  readonly name = 'lmdb';
  private closed = false;

  constructor(
    readonly path: string,
    private readonly root: RootDatabase,
    private readonly objects: BinaryDb,
    private readonly environment: SharedEnvironment,
    /** Closing this engine closes the environment. */
    private readonly ownsEnvironment: boolean,
  ) {}

  get(partition: number, key: Uint8Array): Uint8Array | undefined {
    const k = engineKey(partition, key);
    this.checkOpen();
    try {
      const value = this.objects.getBinary(k);
      return value === undefined ? undefined : asUint8Array(value);
    } catch (error) {
      throw storageError('LMDB get failed', error);
    }
  }

  async writeBatch(ops: readonly WriteOp[], options: { durable: boolean }): Promise<void> {
    const prepared = ops.map(prepareOp); // validate everything before touching LMDB
    this.checkOpen();
    try {
      await this.objects.batch(() => {
        for (const op of prepared) {
          if (op.value === undefined) void this.objects.remove(op.key);
          else void this.objects.put(op.key, op.value);
        }
      });
      if (options.durable) await this.root.flushed;
    } catch (error) {
      throw storageError('LMDB write batch failed', error);
    }
  }

  scanPartition(partition: number, options: { afterKey?: Uint8Array; limit: number }): ScanEntry[] {
    checkLimit(options.limit);
    const after = options.afterKey === undefined ? undefined : engineKey(partition, options.afterKey);
    const start = after ?? engineKey(partition, new Uint8Array(0));
    const end = partition < PARTITION_MAX ? engineKey(partition + 1, new Uint8Array(0)) : undefined;
    this.checkOpen();
    if (options.limit === 0) return [];
    try {
      const entries: ScanEntry[] = [];
      // The range start is inclusive: read one extra entry and skip `afterKey` itself.
      const limit = after === undefined ? options.limit : options.limit + 1;
      for (const { key, value } of this.objects.getRange({ start, end, limit })) {
        if (after !== undefined && after.equals(key)) continue;
        if (entries.length === options.limit) break;
        entries.push({ key: asUint8Array(key.subarray(2)), value: asUint8Array(value) });
      }
      return entries;
    } catch (error) {
      throw storageError('LMDB scan failed', error);
    }
  }

  count(): number {
    this.checkOpen();
    try {
      return (this.objects.getStats() as { entryCount: number }).entryCount;
    } catch (error) {
      throw storageError('LMDB stat failed', error);
    }
  }

  /** Waits for outstanding transactions; the last engine closed closes the environment (meta included). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.environment.release(this.ownsEnvironment);
    } catch (error) {
      throw storageError('LMDB close failed', error);
    }
  }

  private checkOpen(): void {
    if (this.closed || this.environment.closed) throw new StorageError('LMDB engine is closed');
  }
}

class LmdbMetaStore implements MetaStore {
  constructor(
    private readonly root: RootDatabase,
    private readonly db: Database<JsonValue, string>,
    private readonly checkOpen: () => void,
  ) {}

  get(name: string): JsonValue | undefined {
    this.checkOpen();
    try {
      return this.db.get(name);
    } catch (error) {
      throw storageError('LMDB meta get failed', error);
    }
  }

  async put(name: string, value: JsonValue): Promise<void> {
    this.checkOpen();
    try {
      await this.db.put(name, value);
      await this.root.flushed;
    } catch (error) {
      throw storageError('LMDB meta put failed', error);
    }
  }
}

interface PreparedOp {
  readonly key: Buffer;
  /** undefined for a delete. */
  readonly value: Buffer | undefined;
}

function prepareOp(op: WriteOp): PreparedOp {
  const key = engineKey(op.partition, op.key);
  if (op.kind === 'delete') return { key, value: undefined };
  if (op.kind !== 'put') throw new StorageError(`unknown op kind ${String((op as { kind: unknown }).kind)}`);
  if (!(op.value instanceof Uint8Array)) throw new StorageError('value must be a Uint8Array');
  return { key, value: Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength) };
}

/** [partition: 2 bytes big-endian][key bytes]. */
function engineKey(partition: number, key: Uint8Array): Buffer {
  checkPartition(partition);
  checkKey(key);
  const out = Buffer.allocUnsafeSlow(key.length + 2);
  out[0] = partition >> 8;
  out[1] = partition & 0xff;
  out.set(key, 2);
  return out;
}

function storageError(message: string, cause: unknown): StorageError {
  if (cause instanceof StorageError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StorageError(`${message}: ${detail}`, { cause });
}
