/**
 * An in-process Transport network for tests: every node of a test cluster gets a
 * MemoryTransport on one MemoryNetwork, and the test flips switches to break things.
 *
 *   const network = new MemoryNetwork(clock);
 *   const a = network.transport('a');          // listens at network.addressOf('a'): {host: 'mem', port: 1}
 *   const s = network.transport('s', { host: '10.0.0.9', port: 7070 }); // or at a given address
 *   network.setMode('b', 'unreachable');   // requests to or from b fail at once (UNREACHABLE)
 *   network.setMode('c', 'dropping');      // requests to or from c vanish: they time out (TIMEOUT)
 *   network.setDelayMs('c', 500);          // requests to c are delivered 500 ms later (slow)
 *   network.block('a', 'b');               // one-way: a's requests to b fail (UNREACHABLE)
 *
 * Messages and replies are deep-copied (structuredClone), so no node shares objects with
 * another, as with a real wire. Timeouts and delays run on the given Clock (a ManualClock
 * makes them deterministic). Every delivered request is recorded in `sent` (bounded), so a
 * test can check what went over the wire.
 *
 * Every transport is served from every node, whether or not it is among the receiver's
 * peers (setPeers is not consulted, as the Transport port requires). requestAt(address)
 * goes to the node listening there, with the same modes, blocks and delays as request();
 * an address nobody listens at is UNREACHABLE.
 */
import type { Clock, TimerHandle } from '../../src/ports/clock.ts';
import { TransportError, type AddressedReply, type NodeId, type PeerAddress, type RequestHandler, type Transport } from '../../src/ports/transport.ts';

export type NodeMode = 'up' | 'unreachable' | 'dropping';

export interface SentMessage {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: unknown;
}

/** Requests recorded in `sent` at most (the oldest are dropped). */
export const SENT_LOG_MAX = 10_000;

export class MemoryNetwork {
  readonly sent: SentMessage[] = [];
  private readonly transports = new Map<NodeId, MemoryTransport>();
  private readonly modes = new Map<NodeId, NodeMode>();
  private readonly delays = new Map<NodeId, number>();
  private readonly blocked = new Set<string>();
  private readonly addresses = new Map<NodeId, PeerAddress>();
  /** `host:port` to the node listening there. */
  private readonly listeners = new Map<string, NodeId>();
  private lastPort = 0;

  constructor(readonly clock: Clock) {}

  /**
   * A new transport for `id` (replacing an earlier one: a restarted node), listening at
   * `address`; without one, at the node's earlier address or a new `{host: 'mem', port}`.
   */
  transport(id: NodeId, address?: PeerAddress): MemoryTransport {
    this.bind(id, address ?? this.addresses.get(id) ?? this.freshAddress());
    const transport = new MemoryTransport(id, this);
    this.transports.set(id, transport);
    return transport;
  }

  /** Where `id` listens, once it has a transport. */
  addressOf(id: NodeId): PeerAddress | undefined {
    return this.addresses.get(id);
  }

  /** The node listening at `address`, if any. */
  nodeAt(address: PeerAddress): NodeId | undefined {
    return this.listeners.get(addressKey(address));
  }

  private bind(id: NodeId, address: PeerAddress): void {
    const key = addressKey(address);
    const holder = this.listeners.get(key);
    if (holder !== undefined && holder !== id) throw new Error(`${key} is already ${holder}'s address`);
    const previous = this.addresses.get(id);
    if (previous !== undefined) this.listeners.delete(addressKey(previous));
    this.addresses.set(id, { host: address.host, port: address.port });
    this.listeners.set(key, id);
  }

  private freshAddress(): PeerAddress {
    let address: PeerAddress;
    do address = { host: 'mem', port: ++this.lastPort };
    while (this.listeners.has(addressKey(address)));
    return address;
  }

  setMode(id: NodeId, mode: NodeMode): void {
    this.modes.set(id, mode);
  }

  mode(id: NodeId): NodeMode {
    return this.modes.get(id) ?? 'up';
  }

  setDelayMs(id: NodeId, delayMs: number): void {
    this.delays.set(id, delayMs);
  }

  block(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}\u0000${to}`);
  }

  unblock(from: NodeId, to: NodeId): void {
    this.blocked.delete(`${from}\u0000${to}`);
  }

  /** The requests of one type sent so far (messages are objects with a `type`). */
  sentOfType(type: string): SentMessage[] {
    return this.sent.filter((entry) => (entry.message as { type?: unknown }).type === type);
  }

  /** Carries one request to whoever listens at `address`; called by MemoryTransport.requestAt. */
  async carryTo(from: NodeId, address: PeerAddress, message: unknown, timeoutMs: number): Promise<AddressedReply> {
    const to = this.nodeAt(address);
    if (to === undefined) throw new TransportError('UNREACHABLE', `nothing listens at ${addressKey(address)}`);
    const reply = await this.carry(from, to, message, timeoutMs);
    return { from: to, reply };
  }

  /** Carries one request; called by MemoryTransport.request. */
  carry(from: NodeId, to: NodeId, message: unknown, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        this.clock.clearTimer(timer);
        fn();
      };
      const timer: TimerHandle = this.clock.setTimer(timeoutMs, () =>
        settle(() => reject(new TransportError('TIMEOUT', `request to ${to} timed out after ${timeoutMs} ms`))),
      );
      const fate = this.fateOf(from, to);
      if (fate === 'unreachable') {
        queueMicrotask(() => settle(() => reject(new TransportError('UNREACHABLE', `${to} is unreachable`))));
        return;
      }
      if (fate === 'dropped') return;
      const copy = structuredClone(message);
      const deliver = (): void => this.deliver(from, to, copy, (fn) => settle(fn), resolve, reject);
      const delayMs = this.delays.get(to) ?? 0;
      if (delayMs > 0) this.clock.setTimer(delayMs, deliver);
      else queueMicrotask(deliver);
    });
  }

  private fateOf(from: NodeId, to: NodeId): 'deliver' | 'unreachable' | 'dropped' {
    const target = this.transports.get(to);
    if (target === undefined || target.closed || this.blocked.has(`${from}\u0000${to}`)) return 'unreachable';
    const modes = [this.mode(from), this.mode(to)];
    if (modes.includes('unreachable')) return 'unreachable';
    if (modes.includes('dropping')) return 'dropped';
    return 'deliver';
  }

  private deliver(
    from: NodeId,
    to: NodeId,
    message: unknown,
    settle: (fn: () => void) => void,
    resolve: (reply: unknown) => void,
    reject: (error: TransportError) => void,
  ): void {
    // The world may have changed while the request was in flight.
    if (this.fateOf(from, to) === 'dropped') return;
    const target = this.transports.get(to);
    const handler = target?.handler;
    if (target === undefined || target.closed || handler === undefined) {
      settle(() => reject(new TransportError('UNREACHABLE', `${to} is not serving`)));
      return;
    }
    this.record({ from, to, message });
    let replying: Promise<unknown>;
    try {
      replying = handler(from, message);
    } catch (error) {
      replying = Promise.reject(error);
    }
    replying.then(
      (reply) => {
        if (this.fateOf(to, from) !== 'deliver') return; // the reply is lost
        settle(() => resolve(structuredClone(reply)));
      },
      (error: unknown) => settle(() => reject(new TransportError('REMOTE_ERROR', `${to}'s handler failed: ${String(error)}`))),
    );
  }

  private record(entry: SentMessage): void {
    this.sent.push(entry);
    if (this.sent.length > SENT_LOG_MAX) this.sent.shift();
  }
}

export class MemoryTransport implements Transport {
  handler: RequestHandler | undefined;
  closed = false;

  constructor(
    readonly localId: NodeId,
    private readonly network: MemoryNetwork,
  ) {}

  request(to: NodeId, message: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new TransportError('CLOSED', 'transport is closed'));
    return this.network.carry(this.localId, to, message, timeoutMs);
  }

  requestAt(address: PeerAddress, message: unknown, timeoutMs: number): Promise<AddressedReply> {
    if (this.closed) return Promise.reject(new TransportError('CLOSED', 'transport is closed'));
    return this.network.carryTo(this.localId, address, message, timeoutMs);
  }

  serve(handler: RequestHandler): void {
    this.handler = handler;
  }

  setPeers(_peers: ReadonlyMap<NodeId, PeerAddress>): void {}

  async close(): Promise<void> {
    this.closed = true;
  }
}

function addressKey(address: PeerAddress): string {
  return `${address.host}:${address.port}`;
}
