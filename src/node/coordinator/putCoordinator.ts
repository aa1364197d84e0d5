/**
 * The put coordinator (paper 4.5, 5; Riak's put_fsm), an explicit state machine over the
 * pure put reducer (core/quorum/putQuorum.ts):
 *
 *   writing-local  the coordinator runs putObject on its own copy through its replica
 *                  object (the new version's dot is issued under its actor). A failure here
 *                  fails the request with that error: nothing has been sent anywhere yet.
 *   replicating    the new object goes to the other targets; each acknowledgement or
 *                  failure is folded into the reducer. A failed target is replaced by the
 *                  next spare of the preference list (sloppy quorum), told whose hint it holds.
 *                  Targets still silent after the hedge delay get a stand-in too (hedge.ts),
 *                  and so, a delay later, does a stand-in silent in its turn (N in all);
 *                  the first W acknowledgements win, whoever sends them. A request that
 *                  finds fewer than W nodes up waits for a probe first (peersWait.ts).
 *   succeeded      W acknowledgements (the coordinator's own counts once its write, and its
 *                  fsync when it is the durable one, is done).
 *   failed         W out of reach, or the request's time is up (503). Not a rollback: the
 *                  replicas that took the write keep it.
 * Late replies after succeeded/failed are ignored; their outcome still reaches the failure
 * detector through the PeerClient.
 *
 * Durability (paper 6.1): `durableWrites: one` asks exactly one target to fsync before it
 * acknowledges: the first target other than the coordinator, in preference-list order (a
 * remote replica, so the coordinator's own acknowledgement comes straight from its buffer
 * and the fsync runs off the critical path when W < N); a cluster of one makes the
 * coordinator itself the durable one. A stand-in for a failed durable target is durable
 * too. `all` asks every target, `none` none.
 *
 * Group commit: when W can be reached without the durable target (`one`, W < the targets,
 * no target failed), its fsync is marked as one nobody waits for, and it may wait up to
 * `groupCommitMs` to share an fsync with other writes (storage/objectStore.ts). The
 * coordinator's own durable writes, and every write under `all` or W = N, fsync at once.
 */
import { mergeVectors, type VersionVector } from '../../core/clock.ts';
import { putObject, type ObjectWrite, type StoredObject } from '../../core/object.ts';
import type { OwnWrite } from '../../ports/replica.ts';
import { addPutReply, addPutTarget, initPutQuorum, putVerdict, type PutQuorum } from '../../core/quorum/putQuorum.ts';
import type { TimerHandle } from '../../ports/clock.ts';
import { Deadline } from '../deadline.ts';
import { QuorumUnreachableError, RequestTimeoutError, TooManySiblingsError, type ReplicaCounts } from '../errors.ts';
import { emit } from '../events.ts';
import { describeFailure } from '../peerClient.ts';
import { replicaPut, type Reply } from '../protocol.ts';
import type { Quorum } from '../request.ts';
import { preferenceOf } from '../cluster.ts';
import { objectLimitsOf } from '../config.ts';
import type { CoordinatorDeps } from './deps.ts';
import { planTargets, replacementFor, type Target } from './targets.ts';
import { HedgeBudget, hedgeAround, hedgeDelayMs, upSpares } from './hedge.ts';
import { withPeersUp } from './peersWait.ts';

export interface PutRequest {
  readonly partition: number;
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly contentType: string;
  readonly deleted: boolean;
  /** The client's context (empty: supersede nothing). */
  readonly context: VersionVector;
  /**
   * Also supersede every version the coordinator's own copy holds when it writes (the
   * Redis front end's SET): concurrent versions it has not seen yet stay siblings.
   */
  readonly supersedeSeen: boolean;
  readonly quorum: Quorum;
  readonly timeoutMs: number;
  /** The write's id when it may be coordinated more than once (core/object.ts: applied once per copy). */
  readonly writeId?: string;
}

export type PutState = 'writing-local' | 'replicating' | 'succeeded' | 'failed';

/** Runs one put to completion: resolves with the coordinator's copy after the write. */
export function coordinatePut(deps: CoordinatorDeps, request: PutRequest): Promise<StoredObject> {
  const quorum = { n: request.quorum.n, needed: request.quorum.w };
  return withPeersUp(deps, preferenceOf(deps.cluster, request.partition), deps.cluster.self, quorum, request.timeoutMs, (timeoutMs) =>
    // Planned with the nodes believed up only: with fewer than W of them the write is refused before anything is written (no last resort, unlike a read).
    new PutCoordinator(deps, timeoutMs === request.timeoutMs ? request : { ...request, timeoutMs }, deps.detector.up).start(),
  );
}

interface Outcome {
  resolve(object: StoredObject): void;
  reject(error: unknown): void;
}

class PutCoordinator {
  private state: PutState = 'writing-local';
  private quorum: PutQuorum;
  private readonly targets = new Map<string, Target>();
  private spares: readonly string[];
  private readonly primaries: readonly string[];
  private readonly durable = new Set<string>();
  /** W can be reached without the durable target's acknowledgement: its fsync may wait for the group-commit gap. */
  private groupCommit = false;
  private readonly self: string;
  private object: StoredObject | undefined;
  private encoded: Uint8Array | undefined;
  private selfError: unknown;
  private timer: TimerHandle | undefined;
  private hedgeTimer: TimerHandle | undefined;
  private readonly hedgeBudget: HedgeBudget;
  /** Targets that already have a stand-in (failed, or hedged around). */
  private readonly replaced = new Set<string>();
  private outcome: Outcome | undefined;
  private readonly deadline: Deadline;

  /** `up`: the nodes to plan with (those believed up, or every node as a last resort: peersWait.ts). */
  constructor(
    private readonly deps: CoordinatorDeps,
    private readonly request: PutRequest,
    up: ReadonlySet<string>,
  ) {
    this.self = deps.cluster.self;
    this.hedgeBudget = new HedgeBudget(request.quorum.n);
    this.deadline = new Deadline(deps.clock, request.timeoutMs);
    const plan = planTargets(preferenceOf(deps.cluster, request.partition), up, request.quorum.n, this.self);
    for (const target of plan.targets) this.targets.set(target.node, target);
    this.spares = plan.spares;
    this.primaries = plan.primaries;
    this.quorum = initPutQuorum([...this.targets.keys()], request.quorum.w);
    this.chooseDurable();
  }

  start(): Promise<StoredObject> {
    return new Promise<StoredObject>((resolve, reject) => {
      this.outcome = { resolve, reject };
      if (this.targets.size < this.request.quorum.w) {
        // Not even W nodes are believed up after the wait (peersWait.ts): refuse before writing
        // anything, and ask for probes again (the wait may have outlasted a quarter interval).
        this.deps.detector.wantProbes();
        this.fail(new QuorumUnreachableError('write', this.counts()), 'unreachable');
        return;
      }
      this.timer = this.deps.clock.setTimer(this.request.timeoutMs, () => this.timedOut());
      this.writeLocal();
    });
  }

  // --- events --------------------------------------------------------------------------

  private localWritten(own: OwnWrite): void {
    switch (this.state) {
      case 'writing-local':
        this.state = 'replicating';
        this.object = own.object;
        this.encoded = own.bytes;
        for (const target of this.targets.values()) if (target.node !== this.self) this.send(target);
        this.armHedge();
        // The coordinator's own acknowledgement: its fsync, its hint, or its copies for receivers.
        own.acknowledged.then(
          () => this.replied(this.self, true),
          (error: unknown) => this.replied(this.self, false, error),
        );
        return;
      case 'replicating':
      case 'succeeded':
      case 'failed':
        return; // timed out while writing locally: the version stays (a 503 is not a rollback)
    }
  }

  private localFailed(error: unknown): void {
    switch (this.state) {
      case 'writing-local':
        this.finish('failed');
        this.outcome?.reject(error);
        return;
      case 'replicating':
      case 'succeeded':
      case 'failed':
        return;
    }
  }

  private replied(node: string, ok: boolean, error?: unknown): void {
    switch (this.state) {
      case 'replicating':
        if (!ok) this.deps.logger.debug({ peer: node, partition: this.request.partition, reason: describeFailure(error) }, 'a replica did not take a write');
        if (node === this.self && !ok) this.selfError = error;
        this.quorum = addPutReply(this.quorum, node, ok);
        if (!ok) this.replace(node);
        this.decide();
        return;
      case 'succeeded':
        // The client has its answer, but the write still goes to N nodes: a target that
        // fails after the W-th acknowledgement is replaced, so its stand-in keeps a hint.
        if (!ok) this.replace(node);
        return;
      case 'writing-local':
      case 'failed':
        return;
    }
  }

  private hedgeDue(): void {
    this.hedgeTimer = undefined;
    switch (this.state) {
      case 'replicating':
        this.hedge();
        return;
      case 'writing-local':
      case 'succeeded':
      case 'failed':
        return;
    }
  }

  private timedOut(): void {
    this.timer = undefined;
    switch (this.state) {
      case 'writing-local':
      case 'replicating':
        this.fail(new RequestTimeoutError(this.request.timeoutMs, this.counts()), 'timeout');
        return;
      case 'succeeded':
      case 'failed':
        return;
    }
  }

  // --- actions -------------------------------------------------------------------------

  private writeLocal(): void {
    const { deps, request } = this;
    const write: ObjectWrite = {
      context: request.context,
      actor: deps.actor,
      value: request.value,
      contentType: request.contentType,
      deleted: request.deleted,
      nowMs: deps.clock.nowMs(),
      lastWriteWins: deps.config.lastWriteWins,
      writeId: request.writeId,
    };
    const durable = this.durable.has(this.self);
    // With no other target, the coordinator's one write is the durable one: fsync it at once.
    const durableNow = durable && this.targets.size === 1;
    const hintFor = (this.targets.get(this.self) as Target).hintFor;
    deps.replica.writeOwn(request.partition, request.key, (current) => this.nextVersion(current, write), { durable, durableNow, hintFor }).then(
      (own) => this.localWritten(own),
      (error: unknown) => this.localFailed(error),
    );
  }

  /** The coordinator's copy after this write (store.update's change; throws past siblingsMax). */
  private nextVersion(current: StoredObject | undefined, write: ObjectWrite): StoredObject {
    const limits = objectLimitsOf(this.deps.config);
    const seen = this.request.supersedeSeen && current !== undefined;
    const result = putObject(current, seen ? { ...write, context: mergeVectors(current.vector, this.request.context) } : write, limits);
    if (!result.ok) throw new TooManySiblingsError(result.siblingCount, limits.siblingsMax);
    return result.object;
  }

  private send(target: Target): void {
    const { deps, request } = this;
    const durable = this.durable.has(target.node);
    const message = replicaPut(request.partition, request.key, this.encoded as Uint8Array, durable, target.hintFor, durable && this.groupCommit);
    const timeoutMs = this.remainingMs();
    deps.peers.request(target.node, message, timeoutMs).then(
      (reply: Reply) => this.replied(target.node, reply.type === 'ack', reply),
      (error: unknown) => this.replied(target.node, false, error),
    );
  }

  /** Targets not heard from yet, the coordinator excluded. */
  private awaited(): string[] {
    const { acked, failed } = this.quorum;
    return [...this.targets.keys()].filter((node) => node !== this.self && !acked.has(node) && !failed.has(node));
  }

  private armHedge(): void {
    const delayMs = hedgeDelayMs(this.deps.detector, this.deps.config, this.awaited(), this.deadline.remainingMs());
    if (delayMs !== undefined) this.hedgeTimer = this.deps.clock.setTimer(delayMs, () => this.hedgeDue());
  }

  /** Every target still silent gets a stand-in too, N at most (hedge.ts); its own late acknowledgement still counts. */
  private hedge(): void {
    const standIns = hedgeAround(this.deps.detector, this.awaited(), this.hedgeBudget.left, (node) => this.replace(node));
    if (standIns.length > 0) emit(() => this.deps.events.onHedge?.('write', standIns.length));
    // A stand-in silent in its turn is hedged around a delay later, while the budget lasts.
    if (this.hedgeBudget.spent(standIns.length)) this.armHedge();
  }

  /** Sends the write to the next spare believed up in place of a failed or silent target: returns it, or undefined when none is left. */
  private replace(node: string): string | undefined {
    const failed = this.targets.get(node);
    if (failed === undefined || node === this.self || this.replaced.has(node)) return undefined;
    const next = replacementFor(failed, upSpares(this.deps.detector, this.spares), this.primaries);
    if (next === undefined) return undefined;
    this.replaced.add(node);
    this.spares = next.spares;
    this.targets.set(next.target.node, next.target);
    if (this.durable.has(node)) this.durable.add(next.target.node);
    // A target failed: the acknowledgements left may all be needed for W.
    this.groupCommit = false;
    this.quorum = addPutTarget(this.quorum, next.target.node, node);
    this.send(next.target);
    return next.target.node;
  }

  private decide(): void {
    switch (putVerdict(this.quorum)) {
      case 'pending':
        return;
      case 'succeeded':
        this.finish('succeeded');
        this.outcome?.resolve(this.object as StoredObject);
        return;
      case 'failed':
        this.fail(this.quorumError(), 'unreachable');
        return;
    }
  }

  /** A cluster of one reports its own failure (a storage error stays a storage error). */
  private quorumError(): unknown {
    if (this.targets.size === 1 && this.selfError !== undefined) return this.selfError;
    return new QuorumUnreachableError('write', this.counts());
  }

  private fail(error: unknown, reason: 'unreachable' | 'timeout'): void {
    this.finish('failed');
    emit(() => this.deps.events.onQuorumFailure?.('write', reason));
    this.outcome?.reject(error);
  }

  private finish(state: 'succeeded' | 'failed'): void {
    this.state = state;
    for (const timer of [this.timer, this.hedgeTimer]) if (timer !== undefined) this.deps.clock.clearTimer(timer);
    this.timer = undefined;
    this.hedgeTimer = undefined;
  }

  private chooseDurable(): void {
    const nodes = [...this.targets.keys()];
    switch (this.deps.config.durableWrites) {
      case 'none':
        return;
      case 'all':
        for (const node of nodes) this.durable.add(node);
        return;
      case 'one':
        this.durable.add(nodes.find((node) => node !== this.self) ?? this.self);
        this.groupCommit = this.request.quorum.w < nodes.length && !this.durable.has(this.self);
        return;
    }
  }

  /** The time left for a replica's reply: its transport timeout ends with the request. */
  private remainingMs(): number {
    return Math.max(1, this.deadline.remainingMs());
  }

  private counts(): ReplicaCounts {
    const { acked, failed, targets, w } = this.quorum;
    return { needed: w, answered: acked.size, failed: failed.size, targets: targets.length };
  }
}
