/**
 * A deliberately small Dynamo node for testing the simulator itself: strict quorums over
 * the key's N primaries (no forwarding, no hints, no failure detector), no buffer (every
 * write is durable), read repair once every primary answered, and a naive anti-entropy:
 * every antiEntropyIntervalMs it pushes every object of the partitions it replicates to
 * the other primaries, which merge it (no trees, no reaping). It runs on the same ports
 * as the real node, so it proves the harness (network, crashes, clients, checker) without
 * depending on the real node's correctness.
 *
 * `flaw` plants one bug, so the checker's self-test can show it catches each kind:
 *   'overwrite'  a replica stores what it receives instead of merging (loses siblings)
 *   'phantom'    reads sometimes return a value no client wrote
 *   'no-repair'  neither reads nor anti-entropy repair stale replicas (replicas stay diverged)
 *   'wall-clock' writes stamp versions with Date.now() instead of the Clock port
 *   'forget-deletes' a replica removes a key when it stores its tombstone, forgetting the
 *                vector with it (a deleted value then comes back from any stale copy)
 */
import { decodeContext, encodeContext } from '../../src/core/context.ts';
import { encodeUtf8 } from '../../src/core/bytes.ts';
import type { VersionVector } from '../../src/core/clock.ts';
import { partitionOfKey } from '../../src/core/hash.ts';
import { objectDescends, putObject, syncObjects, type StoredObject } from '../../src/core/object.ts';
import { primaryNodes } from '../../src/core/preflist.ts';
import { clusterViewOf, type ClusterView } from '../../src/node/cluster.ts';
import { QuorumUnreachableError, RequestError } from '../../src/node/errors.ts';
import type { NodeDeps } from '../../src/node/openNode.ts';
import { actorIdOf, advanceStartEpoch } from '../../src/node/startEpoch.ts';
import { decodeObject, encodeObject } from '../../src/storage/objectCodec.ts';
import type { SimNode } from '../../src/sim/simCluster.ts';

export type StandInFlaw = 'none' | 'overwrite' | 'phantom' | 'no-repair' | 'wall-clock' | 'forget-deletes';

type Message =
  | { readonly type: 'put'; readonly key: Uint8Array; readonly object: Uint8Array }
  | { readonly type: 'get'; readonly key: Uint8Array };

interface Reply {
  readonly node: string;
  readonly object: StoredObject | undefined;
}

const EMPTY_VALUE = new Uint8Array(0);

/** An OpenSimNode: `openStandIn('overwrite')` is a node with that flaw. */
export function openStandIn(flaw: StandInFlaw = 'none'): (deps: NodeDeps) => Promise<SimNode> {
  return async (deps) => {
    const epoch = await advanceStartEpoch(deps.meta);
    return new StandInNode(deps, actorIdOf(deps.config.id, epoch), flaw);
  };
}

class StandInNode implements SimNode {
  private readonly cluster: ClusterView;
  private readonly self: string;

  constructor(
    private readonly deps: NodeDeps,
    private readonly actor: string,
    private readonly flaw: StandInFlaw,
  ) {
    this.cluster = clusterViewOf(deps.config);
    this.self = deps.config.id;
    deps.transport.serve((_from, message) => this.serve(message as Message));
    if (deps.config.antiEntropyIntervalMs > 0 && flaw !== 'no-repair') this.scheduleAntiEntropy();
  }

  private scheduleAntiEntropy(): void {
    this.deps.clock.setTimer(this.deps.config.antiEntropyIntervalMs, () => {
      this.pushEverything();
      this.scheduleAntiEntropy();
    });
  }

  /** Naive anti-entropy: every object of the partitions this node replicates, to the other primaries. */
  private pushEverything(): void {
    const { partitionCount } = this.cluster.ring;
    for (let partition = 0; partition < partitionCount; partition++) {
      const primaries = primaryNodes(this.cluster.ring, partition, this.cluster.quorum.n);
      if (!primaries.includes(this.self)) continue;
      for (const entry of this.deps.engine.scanPartition(partition, { limit: 1_000_000 })) {
        const message: Message = { type: 'put', key: entry.key, object: entry.value };
        for (const node of primaries) {
          if (node !== this.self) this.deps.transport.request(node, message, this.deps.config.requestTimeoutMs).catch(() => undefined);
        }
      }
    }
  }

  async get(key: Uint8Array, options?: { r?: number }): Promise<{ object: StoredObject | undefined; context: string }> {
    const r = options?.r ?? this.cluster.quorum.r;
    const replies = await this.gather(key, { type: 'get', key }, r);
    let merged: StoredObject | undefined;
    for (const reply of replies) merged = syncObjects(merged, reply.object);
    if (this.flaw === 'phantom' && merged !== undefined && this.deps.random.next() < 0.2) merged = withPhantom(merged);
    return { object: merged, context: encodeContext(merged?.vector ?? [], this.deps.config.clusterName) };
  }

  put(key: Uint8Array, input: { value: Uint8Array; contentType: string; context?: string }, options?: { w?: number }): Promise<{ context: string; object: StoredObject }> {
    return this.write(key, input.value, input.contentType, false, input.context, options?.w);
  }

  delete(key: Uint8Array, context?: string, options?: { w?: number }): Promise<{ context: string; object: StoredObject }> {
    return this.write(key, EMPTY_VALUE, 'application/octet-stream', true, context, options?.w);
  }

  localVersions(key: Uint8Array): { partition: number; object: StoredObject } | undefined {
    const object = this.load(key);
    return object === undefined ? undefined : { partition: this.partitionOf(key), object };
  }

  /** No listing here: the simulator's lister abandons its listings, and judges none (test/sim/lister.test.ts judges the checker). */
  list(): Promise<never> {
    return Promise.reject(new RequestError('NODE_NOT_SERVING', 'the stand-in node serves no listing'));
  }

  localHints(): { total: number } {
    return { total: 0 };
  }

  peers(): { id: string; status: string }[] {
    return this.cluster.members.filter((id) => id !== this.self).map((id) => ({ id, status: 'up' }));
  }

  async stop(): Promise<void> {}

  private async write(key: Uint8Array, value: Uint8Array, contentType: string, deleted: boolean, contextText: string | undefined, w = this.cluster.quorum.w): Promise<{ context: string; object: StoredObject }> {
    let vector: VersionVector = [];
    if (contextText !== undefined) {
      const decoded = decodeContext(contextText, this.deps.config.clusterName);
      if (!decoded.ok) throw new RequestError('CONTEXT_INVALID', decoded.reason);
      vector = decoded.vector;
    }
    const nowMs = this.flaw === 'wall-clock' ? Date.now() : this.deps.clock.nowMs();
    const outcome = putObject(this.load(key), { context: vector, actor: this.actor, value, contentType, deleted, nowMs }, { siblingsMax: 100, vectorEntriesMax: 10 });
    if (!outcome.ok) throw new RequestError('TOO_MANY_SIBLINGS', 'too many siblings');
    await this.store(key, outcome.object);
    const others = this.primaries(key).filter((node) => node !== this.self);
    const isPrimary = others.length < this.cluster.quorum.n;
    // The request's own W when it names one (the simulator's clients do): a per-request W the
    // stand-in ignored acknowledged writes below it (seed 7006 after 884abf9 drew such a plan).
    const needed = w - (isPrimary ? 1 : 0);
    if (needed > 0) await this.gather(key, { type: 'put', key, object: encodeObject(outcome.object) }, needed, others);
    return { context: encodeContext(outcome.object.vector, this.deps.config.clusterName), object: outcome.object };
  }

  /** Sends `message` to the primaries (self answered locally) and resolves after `needed` replies. */
  private gather(key: Uint8Array, message: Message, needed: number, targets = this.primaries(key)): Promise<Reply[]> {
    const timeoutMs = this.deps.config.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const replies: Reply[] = [];
      let failures = 0;
      let done = false;
      const timer = this.deps.clock.setTimer(timeoutMs, () => finish(new RequestError('REQUEST_TIMEOUT', 'timed out')));
      const finish = (error?: Error): void => {
        if (done) return;
        done = true;
        this.deps.clock.clearTimer(timer);
        if (error === undefined) resolve([...replies]);
        else reject(error);
      };
      const answered = (reply: Reply): void => {
        replies.push(reply);
        if (replies.length === needed) finish();
        if (replies.length === targets.length && message.type === 'get') this.repair(key, replies);
      };
      const failed = (): void => {
        failures++;
        if (targets.length - failures < needed) {
          finish(new QuorumUnreachableError(message.type === 'get' ? 'read' : 'write', { needed, answered: replies.length, failed: failures, targets: targets.length }));
        }
      };
      for (const node of targets) {
        if (node === this.self) answered({ node, object: this.load(key) });
        else this.deps.transport.request(node, message, timeoutMs).then((raw) => answered(replyOf(node, raw)), failed);
      }
    });
  }

  private repair(key: Uint8Array, replies: readonly Reply[]): void {
    if (this.flaw === 'no-repair') return;
    let merged: StoredObject | undefined;
    for (const reply of replies) merged = syncObjects(merged, reply.object);
    if (merged === undefined) return;
    for (const reply of replies) {
      if (objectDescends(reply.object, merged)) continue;
      const message: Message = { type: 'put', key, object: encodeObject(merged) };
      if (reply.node === this.self) void this.serve(message);
      else this.deps.transport.request(reply.node, message, this.deps.config.requestTimeoutMs).catch(() => undefined);
    }
  }

  private async serve(message: Message): Promise<unknown> {
    if (message.type === 'get') {
      const object = this.load(message.key);
      return { object: object === undefined ? undefined : encodeObject(object) };
    }
    const incoming = decodeObject(message.object);
    await this.store(message.key, this.flaw === 'overwrite' ? incoming : syncObjects(this.load(message.key), incoming));
    return { ack: true };
  }

  private load(key: Uint8Array): StoredObject | undefined {
    const bytes = this.deps.engine.get(this.partitionOf(key), key);
    return bytes === undefined ? undefined : decodeObject(bytes);
  }

  private store(key: Uint8Array, object: StoredObject): Promise<void> {
    const partition = this.partitionOf(key);
    if (this.flaw === 'forget-deletes' && object.siblings.length > 0 && object.siblings.every((sibling) => sibling.deleted)) {
      return this.deps.engine.writeBatch([{ kind: 'delete', partition, key }], { durable: true });
    }
    return this.deps.engine.writeBatch([{ kind: 'put', partition, key, value: encodeObject(object) }], { durable: true });
  }

  private primaries(key: Uint8Array): string[] {
    return primaryNodes(this.cluster.ring, this.partitionOf(key), this.cluster.quorum.n);
  }

  private partitionOf(key: Uint8Array): number {
    return partitionOfKey(key, this.cluster.ring.partitionCount);
  }
}

function replyOf(node: string, raw: unknown): Reply {
  const bytes = (raw as { object?: Uint8Array }).object;
  return { node, object: bytes === undefined ? undefined : decodeObject(bytes) };
}

/** The object plus a sibling whose value no client wrote. */
function withPhantom(object: StoredObject): StoredObject {
  const dot = { actor: 'ghost.1', counter: 1 };
  const phantom = { value: encodeUtf8('c99-w999'), contentType: 'text/plain', deleted: false, dot, timeMs: 0 };
  return { vector: [...object.vector, { ...dot, timeMs: 0 }].sort((a, b) => (a.actor < b.actor ? -1 : 1)), siblings: [...object.siblings, phantom] };
}
