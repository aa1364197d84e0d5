/**
 * The get coordinator (paper 4.5, 5; Riak's get_fsm beside get_core), an explicit state
 * machine over the pure get reducer (core/quorum/getQuorum.ts):
 *
 *   collecting  the N targets are asked (the coordinator reads its own copy at once); each
 *               reply or failure is folded into the reducer, a failed target is replaced
 *               by the next spare (a fallback may hold hints for the key), and targets
 *               still silent after the hedge delay get a stand-in too (hedge.ts), and so,
 *               a delay later, does a stand-in silent in its turn (N in all). A hedge
 *               stand-in that holds the key (a hint) counts at once; one that holds nothing
 *               is held back: it is no evidence against a primary that is slow but believed
 *               up, so an R = N read still sees every primary that answers in time. It
 *               counts once that primary has failed, or when the time is up (the sloppy
 *               quorum's first N healthy nodes, as Riak counts a fallback's notfound),
 *               so a primary that never answers costs the read its latency, not its answer.
 *   lingering   R replies are in: the client has its answer (every causally unrelated
 *               version, merged). The coordinator keeps listening for late replies until
 *               every target has answered or failed, readRepairLingerMs have passed, or the
 *               request's time is up, whichever comes first.
 *   done        read repair: the merged object goes to every target that answered with a
 *               stale version or none (a fallback gets it as a hint), hedge stand-ins
 *               excepted. Targets that never answered are left to hinted handoff and
 *               anti-entropy.
 * A get that cannot reach R fails (503) without repairing anything.
 */
import type { StoredObject } from '../../core/object.ts';
import { addGetFailure, addGetReply, addGetTarget, getSettled, getVerdict, initGetQuorum, readRepairTargets, type GetQuorum } from '../../core/quorum/getQuorum.ts';
import type { TimerHandle } from '../../ports/clock.ts';
import type { EncodedObject, Replica } from '../../ports/replica.ts';
import { bytesEqual } from '../../core/bytes.ts';
import { decodeObject, encodeObject } from '../../storage/objectCodec.ts';
import { Deadline } from '../deadline.ts';
import { QuorumUnreachableError, RequestTimeoutError, type ReplicaCounts } from '../errors.ts';
import { emit } from '../events.ts';
import { describeFailure } from '../peerClient.ts';
import { replicaPut, type Reply } from '../protocol.ts';
import type { Quorum } from '../request.ts';
import { preferenceOf } from '../cluster.ts';
import type { GetDeps, Lingering } from './deps.ts';
import { planTargets, replacementFor, type Target } from './targets.ts';
import { HedgeBudget, hedgeAround, hedgeDelayMs, upSpares } from './hedge.ts';
import { withPeersUp } from './peersWait.ts';

export interface GetRequest {
  readonly partition: number;
  readonly key: Uint8Array;
  readonly quorum: Quorum;
  readonly timeoutMs: number;
}

export type GetState = 'collecting' | 'lingering' | 'done';

export interface GetAnswer {
  /** Every causally unrelated version the R replies held, merged (undefined: none held any). */
  readonly object: StoredObject | undefined;
  /**
   * The target whose reply came first (a node's own read, when it holds a copy): a later
   * put names it in its context so that this replica coordinates it (paper 4.5).
   */
  readonly fastest: string | undefined;
}

/** Runs one get: resolves after R replies (read repair continues after). */
export function coordinateGet(deps: GetDeps, request: GetRequest): Promise<GetAnswer> {
  const self = deps.replica === undefined ? undefined : deps.cluster.self;
  const quorum = { n: request.quorum.n, needed: request.quorum.r };
  return withPeersUp(deps, preferenceOf(deps.cluster, request.partition), self, quorum, request.timeoutMs, (timeoutMs, up) => new GetCoordinator(deps, timeoutMs === request.timeoutMs ? request : { ...request, timeoutMs }, up).start());
}

interface Outcome {
  resolve(answer: GetAnswer): void;
  reject(error: unknown): void;
}

class GetCoordinator implements Lingering {
  private state: GetState = 'collecting';
  private quorum: GetQuorum;
  private readonly targets = new Map<string, Target>();
  private spares: readonly string[];
  private readonly primaries: readonly string[];
  /** This node, when it holds a copy; undefined for a client (src/client/). */
  private readonly node: string | undefined;
  /** This node once it is one of the key's targets (from the start, or as a stand-in). */
  private self: string | undefined;
  private readonly deadline: Deadline;
  private readonly replica: Replica | undefined;
  private fastest: string | undefined;
  private selfError: unknown;
  private timer: TimerHandle | undefined;
  /**
   * The encodings decoded so far with their objects: replicas in sync answer the same bytes
   * (equal objects encode identically), so each distinct encoding is decoded once, and the
   * equal replies are one object (syncObjects and read repair then see them at a glance).
   */
  private readonly decoded: EncodedObject[] = [];
  private lingerTimer: TimerHandle | undefined;
  private hedgeTimer: TimerHandle | undefined;
  private readonly hedgeBudget: HedgeBudget;
  /** Targets that already have a stand-in (failed, or hedged around). */
  private readonly replaced = new Set<string>();
  /** Stand-ins asked by a hedge (not for a failure), and the target each hedges around. */
  private readonly hedgeStandIns = new Map<string, string>();
  /** Hedge stand-ins that answered holding nothing, not counted yet (file comment). */
  private readonly heldBack = new Set<string>();
  private outcome: Outcome | undefined;

  /** `up`: the nodes to plan with (those believed up, or every node as a last resort: peersWait.ts). */
  constructor(
    private readonly deps: GetDeps,
    private readonly request: GetRequest,
    up: ReadonlySet<string>,
  ) {
    this.node = deps.replica === undefined ? undefined : deps.cluster.self;
    this.hedgeBudget = new HedgeBudget(request.quorum.n);
    this.deadline = new Deadline(deps.clock, request.timeoutMs);
    this.replica = deps.replica;
    const plan = planTargets(preferenceOf(deps.cluster, request.partition), up, request.quorum.n, this.node, false);
    // Reads its own copy only as one of the key's targets (a read entering elsewhere reads the targets).
    this.self = plan.targets.some((target) => target.node === this.node) ? this.node : undefined;
    for (const target of plan.targets) this.targets.set(target.node, target);
    this.spares = plan.spares;
    this.primaries = plan.primaries;
    this.quorum = initGetQuorum([...this.targets.keys()], request.quorum.r);
  }

  start(): Promise<GetAnswer> {
    return new Promise((resolve, reject) => {
      this.outcome = { resolve, reject };
      if (this.targets.size < this.request.quorum.r) {
        this.deps.detector.wantProbes();
        this.fail(new QuorumUnreachableError('read', this.counts()), 'unreachable');
        return;
      }
      let remote = false;
      for (const target of this.targets.values()) {
        if (target.node === this.self) continue;
        remote = true;
        this.send(target);
      }
      // A read of this node's own copy alone answers at once: no timer to set and clear.
      if (remote) {
        this.timer = this.deps.clock.setTimer(this.request.timeoutMs, () => this.timedOut());
        this.armHedge();
      }
      if (this.replica !== undefined && this.self !== undefined) this.readSelf(this.replica);
    });
  }

  // --- events --------------------------------------------------------------------------

  private replied(node: string, object: StoredObject | undefined): void {
    switch (this.state) {
      case 'collecting':
      case 'lingering':
        if (object === undefined && this.hedgeStandIns.has(node) && this.awaited().includes(this.hedgeStandIns.get(node) as string)) {
          this.heldBack.add(node); // holds nothing: counts only once its primary failed (file comment)
          return;
        }
        this.fastest ??= node;
        this.quorum = addGetReply(this.quorum, node, object);
        this.decide();
        return;
      case 'done':
        return;
    }
  }

  private failed(node: string, error: unknown): void {
    switch (this.state) {
      case 'collecting':
      case 'lingering':
        if (node === this.self) this.selfError = error;
        this.quorum = addGetFailure(this.quorum, node);
        if (this.state === 'collecting') this.replace(node);
        for (const standIn of this.heldBack) if (this.hedgeStandIns.get(standIn) === node) this.countHeldBack(standIn);
        this.decide();
        return;
      case 'done':
        return;
    }
  }

  private hedgeDue(): void {
    this.hedgeTimer = undefined;
    switch (this.state) {
      case 'collecting':
        this.hedge();
        return;
      case 'lingering':
      case 'done':
        return;
    }
  }

  private timedOut(): void {
    this.timer = undefined;
    switch (this.state) {
      case 'collecting':
        for (const standIn of this.heldBack) this.countHeldBack(standIn);
        if (getVerdict(this.quorum) === 'succeeded') return this.decideCollecting();
        this.fail(new RequestTimeoutError(this.request.timeoutMs, this.counts()), 'timeout');
        return;
      case 'lingering':
        this.endLinger();
        return;
      case 'done':
        return;
    }
  }

  // --- actions -------------------------------------------------------------------------

  private decide(): void {
    switch (this.state) {
      case 'collecting':
        return this.decideCollecting();
      case 'lingering':
        if (getSettled(this.quorum)) this.endLinger();
        return;
      case 'done':
        return;
    }
  }

  private decideCollecting(): void {
    switch (getVerdict(this.quorum)) {
      case 'pending':
        return;
      case 'failed':
        this.fail(this.quorumError(), 'unreachable');
        return;
      case 'succeeded':
        this.state = 'lingering';
        this.outcome?.resolve({ object: this.quorum.merged, fastest: this.fastest });
        if (getSettled(this.quorum) || this.deps.lingering.size >= this.deps.config.requestsInFlightMax) {
          this.endLinger(); // nothing more to wait for, or too many reads linger already
          return;
        }
        this.deps.lingering.add(this);
        this.lingerTimer = this.deps.clock.setTimer(this.lingerMs(), () => this.endLinger());
        return;
    }
  }

  /** A held-back stand-in's empty answer counts after all. */
  private countHeldBack(standIn: string): void {
    this.heldBack.delete(standIn);
    this.quorum = addGetReply(this.quorum, standIn, undefined);
  }

  private readSelf(replica: Replica): void {
    const self = replica.self;
    let own: EncodedObject | undefined;
    try {
      own = replica.readEncoded(this.request.partition, this.request.key);
    } catch (error) {
      this.failed(self, error);
      return;
    }
    if (own !== undefined) this.decoded.push(own);
    this.replied(self, own?.object);
  }

  private send(target: Target): void {
    const message = { type: 'replica-get', partition: this.request.partition, key: this.request.key } as const;
    this.deps.peers.request(target.node, message, Math.max(1, this.deadline.remainingMs())).then(
      (reply) => this.received(target.node, reply),
      (error: unknown) => this.failed(target.node, error),
    );
  }

  private received(node: string, reply: Reply): void {
    if (reply.type !== 'object') {
      this.failed(node, reply);
      return;
    }
    let object: StoredObject | undefined;
    try {
      object = reply.object === undefined ? undefined : this.decode(reply.object);
    } catch (error) {
      this.deps.logger.warn({ peer: node, err: error }, 'a replica answered a read with a corrupt object');
      this.failed(node, error);
      return;
    }
    this.replied(node, object);
  }

  private decode(bytes: Uint8Array): StoredObject {
    for (const known of this.decoded) if (bytesEqual(known.bytes, bytes)) return known.object;
    const object = decodeObject(bytes);
    this.decoded.push({ object, bytes });
    return object;
  }

  /** Targets not heard from yet, this node excluded. */
  private awaited(): string[] {
    const { replies, failed } = this.quorum;
    return [...this.targets.keys()].filter((node) => node !== this.self && !replies.has(node) && !failed.has(node));
  }

  private armHedge(): void {
    const delayMs = hedgeDelayMs(this.deps.detector, this.deps.config, this.awaited(), this.deadline.remainingMs());
    if (delayMs !== undefined) this.hedgeTimer = this.deps.clock.setTimer(delayMs, () => this.hedgeDue());
  }

  /** Every target still silent gets a stand-in too, N at most (hedge.ts); its own late reply still counts. */
  private hedge(): void {
    const standIns = hedgeAround(this.deps.detector, this.awaited(), this.hedgeBudget.left, (node) => this.replace(node, true));
    if (standIns.length > 0) emit(() => this.deps.events.onHedge?.('read', standIns.length));
    // A stand-in silent in its turn is hedged around a delay later, while the budget lasts.
    if (this.hedgeBudget.spent(standIns.length)) this.armHedge();
  }

  /**
   * Asks the next spare believed up in place of a failed target, or of a silent one when
   * `hedged`: this node first when it is a spare (its own copy is read at once and cannot be
   * silent, as a peer beyond the same cut can), then in list order. Returns the stand-in, or
   * undefined when none is left.
   */
  private replace(node: string, hedged = false): string | undefined {
    const failed = this.targets.get(node);
    if (failed === undefined || node === this.self || this.replaced.has(node)) return undefined;
    const next = replacementFor(failed, selfFirst(upSpares(this.deps.detector, this.spares, this.node), this.node), this.primaries);
    if (next === undefined) return undefined;
    const standIn = next.target.node;
    this.replaced.add(node);
    this.spares = next.spares;
    this.targets.set(standIn, next.target);
    this.quorum = addGetTarget(this.quorum, standIn, node);
    if (hedged) this.hedgeStandIns.set(standIn, node);
    if (standIn === this.node && this.replica !== undefined) {
      this.self = standIn;
      this.readSelf(this.replica);
    } else {
      this.send(next.target);
    }
    return standIn;
  }

  private endLinger(): void {
    if (this.state !== 'lingering') return;
    this.state = 'done';
    this.deps.lingering.delete(this);
    this.clearTimers();
    this.repair();
  }

  /** The node is stopping: stop listening, repair nothing. */
  stopLingering(): void {
    if (this.state !== 'lingering') return;
    this.state = 'done';
    this.deps.lingering.delete(this);
    this.clearTimers();
  }

  /** Read repair: the merged object to every target whose reply was stale or empty. */
  private repair(): void {
    // A client coordinating its own reads (paper 6.4) may not write replicas
    // (replicaService.ts): their own reads, hinted handoff and anti-entropy repair them.
    if (this.replica === undefined) return;
    const merged = this.quorum.merged;
    // A hedge stand-in was asked only to fill a silent primary's place: it is not repaired
    // (that would leave it a hint for a primary that may well hold the key already).
    const stale = readRepairTargets(this.quorum).filter((node) => !this.hedgeStandIns.has(node));
    if (merged === undefined || stale.length === 0) return;
    emit(() => this.deps.events.onReadRepair?.(stale.length));
    const encoded = encodeObject(merged);
    for (const node of stale) this.repairOne(node, merged, encoded);
  }

  /** Fire and forget: a failed repair is left to later reads, hinted handoff and anti-entropy. */
  private repairOne(node: string, merged: StoredObject, encoded: Uint8Array): void {
    const { partition, key } = this.request;
    const hintFor = this.targets.get(node)?.hintFor;
    const done = (failure?: unknown): void => {
      if (failure !== undefined) this.deps.logger.debug({ peer: node, reason: describeFailure(failure) }, 'read repair failed');
    };
    if (node === this.self && this.replica !== undefined) {
      this.replica.merge(partition, key, merged, { durable: false, hintFor }).then(() => done(), done);
      return;
    }
    const message = replicaPut(partition, key, encoded, false, hintFor);
    this.deps.peers.request(node, message, this.deps.config.requestTimeoutMs).then((reply) => done(reply.type === 'ack' ? undefined : reply), done);
  }

  private lingerMs(): number {
    return Math.min(this.deps.config.readRepairLingerMs, this.deadline.remainingMs());
  }

  /** A cluster of one reports its own failure (a storage error stays a storage error). */
  private quorumError(): unknown {
    if (this.targets.size === 1 && this.selfError !== undefined) return this.selfError;
    return new QuorumUnreachableError('read', this.counts());
  }

  private fail(error: unknown, reason: 'unreachable' | 'timeout'): void {
    this.state = 'done';
    this.clearTimers();
    emit(() => this.deps.events.onQuorumFailure?.('read', reason));
    this.outcome?.reject(error);
  }

  private clearTimers(): void {
    for (const timer of [this.timer, this.lingerTimer, this.hedgeTimer]) if (timer !== undefined) this.deps.clock.clearTimer(timer);
    this.timer = undefined;
    this.lingerTimer = undefined;
    this.hedgeTimer = undefined;
  }

  private counts(): ReplicaCounts {
    const { replies, failed, targets, r } = this.quorum;
    return { needed: r, answered: replies.size, failed: failed.size, targets: targets.length };
  }
}

/** `spares` with `self` moved to the front, when it is among them. */
function selfFirst(spares: readonly string[], self: string | undefined): readonly string[] {
  const at = self === undefined ? -1 : spares.indexOf(self);
  return at <= 0 ? spares : [self as string, ...spares.slice(0, at), ...spares.slice(at + 1)];
}
