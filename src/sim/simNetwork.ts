/**
 * The simulated network: one Transport per node incarnation, every message an event in
 * its delivery queue.
 *
 * Faults, all decided by the seed:
 * - delay: each message (request or reply) takes a random time within [delayMinMs,
 *   delayMaxMs]; independent delays also reorder messages.
 * - drop: each message is lost with probability dropRate (the requester then times out).
 * - duplicate: with probability duplicateRate a request is delivered twice (the handler
 *   runs twice); the requester keeps the first reply and ignores the second.
 * - partitions: a blocked direction a→b drops every message from a to b, at send and at
 *   delivery (messages in flight when a partition starts are lost too). A split blocks
 *   both directions between two groups; a one-way partition only one.
 * - crashes: messages to a crashed node are dropped, or (with probability refusedRate,
 *   like a TCP connection refused by a rebooting host) answered with UNREACHABLE; a
 *   crashed incarnation's pending requests reject with CLOSED and its replies are dropped.
 * - slow peers (a gray failure): every message a slow node sends (requests and replies)
 *   takes an extra delay within the range set by slowDown(), drawn from a stream of its own
 *   (so the other messages' fates stay what the seed made them): the node still answers,
 *   but late.
 * - paused nodes (pauseGate.ts): what arrives at a paused incarnation (a request or a
 *   reply) is delivered by the network as usual and waits in the endpoint until the
 *   process continues, as in a socket buffer.
 * - node modes, for unit tests that break one node by hand: an unreachable node's requests,
 *   and requests to it, fail at once with UNREACHABLE; every message to or from a dropping
 *   node is lost (its requesters time out).
 * Request timeouts run on the requester's own clock (drift included).
 *
 * Every node listens at an address, kept across its incarnations: the one given to
 * attach(), or `{host: 'sim', port: 7001, 7002, …}` in the order nodes first attach.
 * requestAt(address) is request() to the node at that address, through the same faults;
 * an address nobody listens at is treated like a crashed node (refused or dropped).
 * Requests are served whether or not the requester is among the receiver's peers.
 *
 * Messages are deep-copied with structuredClone at send and at every delivery, so nodes
 * never share memory (as over TCP).
 *
 * Deliveries wait in the run's Scheduler; unit tests hand the network their Clock instead
 * (clockDeliveries), and with DIRECT_NETWORK every message then arrives in a microtask, so a
 * request completes without the clock moving.
 */
import type { Clock, TimerHandle } from '../ports/clock.ts';
import { TransportError, type AddressedReply, type NodeId, type PeerAddress, type RequestHandler, type Transport } from '../ports/transport.ts';
import type { PauseGate } from './pauseGate.ts';
import type { Prng } from './prng.ts';

export interface NetworkFaults {
  readonly delayMinMs: number;
  readonly delayMaxMs: number;
  /** Probability that one message is lost. */
  readonly dropRate: number;
  /** Probability that one request is delivered twice. */
  readonly duplicateRate: number;
  /** Probability that a request to a crashed node fails fast with UNREACHABLE instead of timing out. */
  readonly refusedRate: number;
}

export const CALM_NETWORK: NetworkFaults = { delayMinMs: 1, delayMaxMs: 5, dropRate: 0, duplicateRate: 0, refusedRate: 1 };

/** No fault and no delay: the unit tests' network. */
export const DIRECT_NETWORK: NetworkFaults = { delayMinMs: 0, delayMaxMs: 0, dropRate: 0, duplicateRate: 0, refusedRate: 1 };

/** Where messages wait until they land: the run's Scheduler, or clockDeliveries(clock). */
export interface DeliveryQueue {
  schedule(delayMs: number, label: string, run: () => void): unknown;
}

/** Deliveries on a Clock: a message due now lands in a microtask (no clock has to move), a later one on a timer. */
export function clockDeliveries(clock: Clock): DeliveryQueue {
  return {
    schedule(delayMs, _label, run) {
      if (delayMs > 0) clock.setTimer(delayMs, run);
      else queueMicrotask(run);
    },
  };
}

/** How a node's link behaves (see the header); every node starts `up`. */
export type NodeMode = 'up' | 'unreachable' | 'dropping';

export interface NetworkStats {
  requests: number;
  replies: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  partitioned: number;
  refused: number;
  /** Messages a slow peer sent (each with its extra delay). */
  slowed: number;
}

/** The extra delay of every message a slow peer sends: uniform within [minMs, maxMs]. */
export interface SlowRange {
  readonly minMs: number;
  readonly maxMs: number;
}

interface PendingRequest {
  readonly resolve: (reply: unknown) => void;
  readonly reject: (error: TransportError) => void;
  readonly timer: TimerHandle;
  readonly to: NodeId;
}

/** Where the reply of one delivered request goes back to. */
interface ReplyAddress {
  readonly requester: SimTransport;
  readonly id: number;
}

type Outcome = { readonly ok: true; readonly body: unknown } | { readonly ok: false; readonly code: 'REMOTE_ERROR' | 'UNREACHABLE'; readonly message: string };

export class SimNetwork {
  readonly stats: NetworkStats = { requests: 0, replies: 0, delivered: 0, dropped: 0, duplicated: 0, partitioned: 0, refused: 0, slowed: 0 };
  private readonly endpoints = new Map<NodeId, SimTransport>();
  /** Blocked directions, counted: overlapping partitions each lift only their own block. */
  private readonly blocked = new Map<string, number>();
  private readonly modes = new Map<NodeId, NodeMode>();
  /** Slow peers: the ranges set on each (overlapping windows each lift only their own; the slowest applies). */
  private readonly slow = new Map<NodeId, SlowRange[]>();
  /** The extra delays of slow peers: a stream of its own, so they shift no other draw. */
  private readonly slowRandom: Prng;
  private readonly addresses = new Map<NodeId, PeerAddress>();
  /** `host:port` to the node listening there. */
  private readonly listeners = new Map<string, NodeId>();
  private lastPort = SIM_PORT_BASE;

  /** Sees every request handed to a node's handler (tests check what went over the wire). */
  onRequest: ((from: NodeId, to: NodeId, request: unknown) => void) | undefined;
  /** Sees every reply a handler produced (the simulator checks them for protocol errors). */
  onReply: ((from: NodeId, to: NodeId, request: unknown, reply: unknown) => void) | undefined;

  constructor(
    private readonly deliveries: DeliveryQueue,
    private readonly random: Prng,
    private faults: NetworkFaults,
  ) {
    checkFaults(faults);
    this.slowRandom = random.fork('slow peers');
  }

  get currentFaults(): NetworkFaults {
    return this.faults;
  }

  setFaults(faults: NetworkFaults): void {
    this.faults = checkFaults(faults);
  }

  /**
   * A new endpoint for `nodeId` (its next incarnation); the previous one must be closed. It
   * listens at `address`, or at the node's earlier address, or at the next `sim:PORT`.
   */
  attach(nodeId: NodeId, clock: Clock, incarnation: number, address?: PeerAddress, gate?: PauseGate): SimTransport {
    const previous = this.endpoints.get(nodeId);
    if (previous !== undefined && !previous.isClosed) throw new Error(`node ${nodeId} already has an open endpoint`);
    this.bind(nodeId, address ?? this.addresses.get(nodeId) ?? this.freshAddress());
    const endpoint = new SimTransport(this, nodeId, clock, `${nodeId}/${incarnation}`, gate);
    this.endpoints.set(nodeId, endpoint);
    return endpoint;
  }

  /** Where `nodeId` listens, once attached. */
  addressOf(nodeId: NodeId): PeerAddress | undefined {
    return this.addresses.get(nodeId);
  }

  /** The node listening at `address`, if any. */
  nodeAt(address: PeerAddress): NodeId | undefined {
    return this.listeners.get(addressKey(address));
  }

  private bind(nodeId: NodeId, address: PeerAddress): void {
    const key = addressKey(address);
    const holder = this.listeners.get(key);
    if (holder !== undefined && holder !== nodeId) throw new Error(`${key} is already the address of node ${holder}`);
    const previous = this.addresses.get(nodeId);
    if (previous !== undefined) this.listeners.delete(addressKey(previous));
    this.addresses.set(nodeId, { host: address.host, port: address.port });
    this.listeners.set(key, nodeId);
  }

  private freshAddress(): PeerAddress {
    let address: PeerAddress;
    do address = { host: SIM_HOST, port: ++this.lastPort };
    while (this.listeners.has(addressKey(address)));
    return address;
  }

  /** Blocks messages from `from` to `to` (one way). */
  block(from: NodeId, to: NodeId): void {
    const link = linkOf(from, to);
    this.blocked.set(link, (this.blocked.get(link) ?? 0) + 1);
  }

  /** Lifts one block() of that direction. */
  unblock(from: NodeId, to: NodeId): void {
    const link = linkOf(from, to);
    const count = this.blocked.get(link) ?? 0;
    if (count <= 1) this.blocked.delete(link);
    else this.blocked.set(link, count - 1);
  }

  /** Blocks both directions between every node of `a` and every node of `b`. */
  split(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.block(x, y);
        this.block(y, x);
      }
    }
  }

  /** Lifts every partition and makes every slow peer fast again. */
  heal(): void {
    this.blocked.clear();
    this.slow.clear();
  }

  /** From now on every message `nodeId` sends takes an extra delay within `range` (until speedUp with the same range). */
  slowDown(nodeId: NodeId, range: SlowRange): void {
    if (!(range.minMs >= 0 && range.maxMs >= range.minMs && Number.isFinite(range.maxMs))) {
      throw new NetworkFaultsError(`need 0 <= minMs <= maxMs for a slow peer, got ${range.minMs}..${range.maxMs}`);
    }
    const ranges = this.slow.get(nodeId) ?? [];
    ranges.push(range);
    this.slow.set(nodeId, ranges);
  }

  /** Lifts one slowDown() of `nodeId` with that range. */
  speedUp(nodeId: NodeId, range: SlowRange): void {
    const ranges = this.slow.get(nodeId) ?? [];
    const index = ranges.indexOf(range);
    if (index >= 0) ranges.splice(index, 1);
    if (ranges.length === 0) this.slow.delete(nodeId);
  }

  /** Nodes slow now (for traces and tests). */
  slowNodes(): string[] {
    return [...this.slow.keys()].sort();
  }

  /** The extra delay of one message from `from`: 0 unless it is slow. */
  private slowDelayMs(from: NodeId): number {
    const ranges = this.slow.get(from);
    if (ranges === undefined || ranges.length === 0) return 0;
    this.stats.slowed++;
    const slowest = ranges.reduce((a, b) => (b.maxMs > a.maxMs ? b : a));
    return this.slowRandom.between(slowest.minMs, slowest.maxMs);
  }

  setMode(nodeId: NodeId, mode: NodeMode): void {
    this.modes.set(nodeId, mode);
  }

  private modeOf(nodeId: NodeId): NodeMode {
    return this.modes.get(nodeId) ?? 'up';
  }

  canReach(from: NodeId, to: NodeId): boolean {
    return !this.blocked.has(linkOf(from, to)) && this.modeOf(from) === 'up' && this.modeOf(to) === 'up';
  }

  /** Link descriptions "a>b" of every blocked direction, sorted (for traces). */
  blockedLinks(): string[] {
    return [...this.blocked.keys()].sort();
  }

  /**
   * Sends one request; the requester already registered `id` and its timeout. `to` is a
   * node id, or the `host:port` of an address nobody listens at (never a node id: those
   * have no colon), which is answered like a crashed node.
   */
  sendRequest(from: SimTransport, to: NodeId, id: number, message: unknown, label: string): void {
    this.stats.requests++;
    if (this.modeOf(from.nodeId) === 'unreachable' || this.modeOf(to) === 'unreachable') {
      this.stats.refused++;
      from.settle(id, { ok: false, code: 'UNREACHABLE', message: `${to} is unreachable from ${from.nodeId}` });
      return;
    }
    const copies = this.random.chance(this.faults.duplicateRate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let copy = 0; copy < copies; copy++) {
      const body = structuredClone(message);
      this.transmit(from.nodeId, to, `${label}${copy > 0 ? ' (dup)' : ''}`, () => this.deliverRequest(from, to, id, body, label));
    }
  }

  /** Every message goes through here: drop, partition and delay are decided once. */
  private transmit(from: NodeId, to: NodeId, label: string, deliver: () => void): void {
    if (!this.canReach(from, to)) {
      this.stats.partitioned++;
      return;
    }
    if (this.random.chance(this.faults.dropRate)) {
      this.stats.dropped++;
      return;
    }
    const delayMs = this.random.between(this.faults.delayMinMs, this.faults.delayMaxMs) + this.slowDelayMs(from);
    this.deliveries.schedule(delayMs, label, () => {
      if (!this.canReach(from, to)) {
        this.stats.partitioned++;
        return;
      }
      this.stats.delivered++;
      deliver();
    });
  }

  private deliverRequest(from: SimTransport, to: NodeId, id: number, body: unknown, label: string): void {
    const target = this.endpoints.get(to);
    const address: ReplyAddress = { requester: from, id };
    if (target === undefined || target.isClosed) {
      if (this.random.chance(this.faults.refusedRate)) {
        this.stats.refused++;
        this.sendReply(to, address, { ok: false, code: 'UNREACHABLE', message: `connection to ${to} refused` }, `refused ${label}`);
      }
      return;
    }
    this.onRequest?.(from.nodeId, to, body);
    target.handle(from.nodeId, structuredClone(body)).then(
      (reply) => {
        this.onReply?.(to, from.nodeId, body, reply);
        this.replyFrom(target, address, { ok: true, body: reply }, label);
      },
      (error: unknown) => this.replyFrom(target, address, { ok: false, code: 'REMOTE_ERROR', message: errorMessage(error) }, label),
    );
  }

  /** A handler finished: its reply leaves only if its incarnation is still alive. */
  private replyFrom(target: SimTransport, address: ReplyAddress, outcome: Outcome, label: string): void {
    if (target.isClosed) return;
    this.sendReply(target.nodeId, address, outcome, `reply ${label}`);
  }

  private sendReply(from: NodeId, address: ReplyAddress, outcome: Outcome, label: string): void {
    this.stats.replies++;
    const copied: Outcome = outcome.ok ? { ok: true, body: structuredClone(outcome.body) } : outcome;
    this.transmit(from, address.requester.nodeId, label, () => address.requester.settle(address.id, copied));
  }
}

/** One incarnation's endpoint: the Transport the node is handed. */
export class SimTransport implements Transport {
  private readonly pending = new Map<number, PendingRequest>();
  private handler: RequestHandler | undefined;
  private closed = false;
  private nextId = 1;
  peers: ReadonlyMap<NodeId, PeerAddress> = new Map();

  constructor(
    private readonly network: SimNetwork,
    readonly nodeId: NodeId,
    private readonly clock: Clock,
    /** Node id and incarnation, for the trace. */
    private readonly owner: string,
    /** The incarnation's pause gate: arrivals wait while it is paused (none: never paused). */
    private readonly gate?: PauseGate,
  ) {}

  get localId(): NodeId {
    return this.nodeId;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get pendingRequests(): number {
    return this.pending.size;
  }

  request(to: NodeId, message: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new TransportError('CLOSED', 'transport is closed'));
    return this.send(to, to, message, timeoutMs);
  }

  requestAt(address: PeerAddress, message: unknown, timeoutMs: number): Promise<AddressedReply> {
    if (this.closed) return Promise.reject(new TransportError('CLOSED', 'transport is closed'));
    const where = addressKey(address);
    const to = this.network.nodeAt(address);
    return this.send(to ?? where, where, message, timeoutMs).then((reply) => ({ from: to as NodeId, reply }));
  }

  /** One request to node `to` (or to an address nobody listens at), `shown` as in messages. */
  private send(to: NodeId, shown: string, message: unknown, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const timer = this.clock.setTimer(timeoutMs, () => {
        if (!this.pending.delete(id)) return;
        reject(new TransportError('TIMEOUT', `no reply from ${shown} within ${timeoutMs} ms`));
      });
      this.pending.set(id, { resolve, reject, timer, to: shown });
      const target = to === shown ? to : `${to}@${shown}`;
      this.network.sendRequest(this, to, id, message, `${this.owner}>${target} #${id} ${typeOfMessage(message)}`);
    });
  }

  serve(handler: RequestHandler): void {
    this.handler = handler;
  }

  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void {
    this.peers = peers;
  }

  /** Closes the endpoint: pending requests reject with CLOSED, nothing more arrives. */
  async close(): Promise<void> {
    this.shutDown('transport closed');
  }

  /** The incarnation crashed: the same as close(), without the node asking. */
  kill(): void {
    this.shutDown('node crashed');
  }

  /**
   * Runs the node's handler for a delivered request (a rejection becomes REMOTE_ERROR); on
   * a paused incarnation, once it continues (never, when the backlog was full or it crashed).
   */
  handle(from: NodeId, body: unknown): Promise<unknown> {
    const gate = this.gate;
    if (gate === undefined || gate.isRunning) return this.runHandler(from, body);
    return new Promise<unknown>((resolve, reject) => {
      gate.admit('arrival', () => {
        this.runHandler(from, body).then(resolve, reject);
      });
    });
  }

  private runHandler(from: NodeId, body: unknown): Promise<unknown> {
    const handler = this.handler;
    if (handler === undefined) return Promise.reject(new Error(`node ${this.nodeId} serves no requests yet`));
    try {
      return handler(from, body, 'node');
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A reply (or a refusal) arrived for request `id`; late and duplicate ones are ignored. A paused incarnation takes it when it continues. */
  settle(id: number, outcome: Outcome): void {
    const gate = this.gate;
    if (gate === undefined || gate.isRunning) this.settleNow(id, outcome);
    else gate.admit('arrival', () => this.settleNow(id, outcome));
  }

  private settleNow(id: number, outcome: Outcome): void {
    const request = this.pending.get(id);
    if (request === undefined || this.closed) return;
    this.pending.delete(id);
    this.clock.clearTimer(request.timer);
    if (outcome.ok) request.resolve(outcome.body);
    else request.reject(new TransportError(outcome.code, outcome.message));
  }

  private shutDown(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const request of pending) {
      this.clock.clearTimer(request.timer);
      request.reject(new TransportError('CLOSED', `request to ${request.to} abandoned: ${reason}`));
    }
  }
}

const SIM_HOST = 'sim';
/** Addresses handed out are SIM_PORT_BASE + 1, + 2, … */
const SIM_PORT_BASE = 7000;

function addressKey(address: PeerAddress): string {
  return `${address.host}:${address.port}`;
}

function linkOf(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

function typeOfMessage(message: unknown): string {
  if (typeof message === 'object' && message !== null && 'type' in message) return String((message as { type: unknown }).type);
  return typeof message;
}

/** As the TCP transport sends it: the message, never the stack. */
function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : 'handler failed';
}

export class NetworkFaultsError extends Error {
  readonly code = 'SIM_FAULTS_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'NetworkFaultsError';
  }
}

function checkFaults(faults: NetworkFaults): NetworkFaults {
  const { delayMinMs, delayMaxMs } = faults;
  if (!(delayMinMs >= 0 && delayMaxMs >= delayMinMs && Number.isFinite(delayMaxMs))) {
    throw new NetworkFaultsError(`need 0 <= delayMinMs <= delayMaxMs, got ${delayMinMs}..${delayMaxMs}`);
  }
  for (const name of ['dropRate', 'duplicateRate', 'refusedRate'] as const) {
    const p = faults[name];
    if (!(p >= 0 && p <= 1)) throw new NetworkFaultsError(`${name} must be a probability 0-1, got ${p}`);
  }
  return faults;
}
