/**
 * A node's disks in a sim run, and the gate that keeps a crashed incarnation off them.
 *
 * Each simulated node keeps one MemoryEngine for objects, one for hints and a
 * MemoryMetaStore for its whole life: they are its disks and survive crashes. Each
 * incarnation sees them only through a gate. A crash closes the gate, so a continuation
 * of the dead incarnation still sitting in the microtask queue (a zombie: a flush, a
 * replica write, a hint delivery) fails with a StorageError instead of writing to the
 * disk the restarted node now owns. What the dead incarnation had only in memory (its
 * object buffer) is gone, exactly as in a real crash.
 *
 * A write the gate let through before the crash is already in the engine's queue; the
 * memory engine applies it in a microtask, which the scheduler drains before the crash
 * event can run, so "accepted before the crash" means "on disk".
 */
import type { JsonValue, MetaStore, ScanEntry, StorageEngine, WriteOp } from '../ports/storage.ts';
import { StorageError } from '../ports/storage.ts';
import { MemoryEngine, MemoryMetaStore } from '../storage/memoryEngine.ts';

/** One node's persistent state in a sim run. */
export class SimDisks {
  readonly engine = new MemoryEngine();
  readonly hintEngine = new MemoryEngine();
  readonly meta = new MemoryMetaStore();
}

/** Closes every gate of one incarnation at once. */
export class IncarnationGate {
  private open = true;
  /** Writes refused after the crash (zombie continuations that tried). */
  refusedWrites = 0;

  get isOpen(): boolean {
    return this.open;
  }

  close(): void {
    this.open = false;
  }

  check(what: string): void {
    if (!this.open) throw new StorageError(`${what} refused: this node incarnation crashed`);
  }
}

/** Sees every batch a live incarnation writes: before the engine has it, and after. */
export interface DiskObserver {
  /** The disk still holds what the batch will overwrite or delete. */
  beforeWrite?(ops: readonly WriteOp[]): void;
  /** The batch is on the disk. */
  afterWrite?(ops: readonly WriteOp[]): void;
}

export class GatedEngine implements StorageEngine {
  constructor(
    private readonly inner: StorageEngine,
    private readonly gate: IncarnationGate,
    private readonly observer: DiskObserver = {},
  ) {}

  get name(): string {
    return `sim-${this.inner.name}`;
  }

  get(partition: number, key: Uint8Array): Uint8Array | undefined {
    this.gate.check('read');
    return this.inner.get(partition, key);
  }

  writeBatch(ops: readonly WriteOp[], options: { durable: boolean }): Promise<void> {
    if (!this.gate.isOpen) {
      this.gate.refusedWrites++;
      return Promise.reject(new StorageError('write refused: this node incarnation crashed'));
    }
    const { beforeWrite, afterWrite } = this.observer;
    beforeWrite?.(ops);
    const written = this.inner.writeBatch(ops, options);
    if (afterWrite === undefined) return written;
    // The caller must not touch `ops` until the promise settles, so they are intact here.
    return written.then(() => afterWrite(ops));
  }

  scanPartition(partition: number, options: { afterKey?: Uint8Array; limit: number }): ScanEntry[] {
    this.gate.check('scan');
    return this.inner.scanPartition(partition, options);
  }

  count(): number {
    this.gate.check('count');
    return this.inner.count();
  }

  /** Closing the node's view of the disk; the disk itself stays for the next incarnation. */
  async close(): Promise<void> {}
}

export class GatedMetaStore implements MetaStore {
  constructor(
    private readonly inner: MetaStore,
    private readonly gate: IncarnationGate,
    /** Told of every record a live incarnation writes, once it is stored. */
    private readonly afterPut?: (name: string, value: JsonValue) => void,
  ) {}

  get(name: string): JsonValue | undefined {
    this.gate.check('meta read');
    return this.inner.get(name);
  }

  put(name: string, value: JsonValue): Promise<void> {
    if (!this.gate.isOpen) {
      this.gate.refusedWrites++;
      return Promise.reject(new StorageError('meta write refused: this node incarnation crashed'));
    }
    const afterPut = this.afterPut;
    if (afterPut === undefined) return this.inner.put(name, value);
    return this.inner.put(name, value).then(() => afterPut(name, value));
  }
}
