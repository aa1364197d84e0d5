/**
 * The unit tests' network: the simulator's SimNetwork with no faults (DIRECT_NETWORK) on
 * the test's Clock, so every message arrives in a microtask and timeouts run on that clock
 * (a ManualClock makes them deterministic). Every node of a test cluster gets a transport,
 * and the test flips node modes to break things:
 *
 *   const network = new TestNetwork(clock);
 *   const a = network.transport('a');          // listens at network.addressOf('a'): {host: 'sim', port: 7001}
 *   const s = network.transport('s', { host: '10.0.0.9', port: 7070 }); // or at a given address
 *   network.setMode('b', 'unreachable');   // requests to or from b fail at once (UNREACHABLE)
 *   network.setMode('c', 'dropping');      // requests to or from c vanish: they time out (TIMEOUT)
 *   network.block('a', 'b');               // one way: a's messages to b vanish (a partition)
 *
 * Every request delivered to a handler is recorded in `sent` (bounded), so a test can check
 * what went over the wire.
 */
import { parseMessage } from '../../src/node/protocol.ts';
import type { Clock } from '../../src/ports/clock.ts';
import type { NodeId, PeerAddress } from '../../src/ports/transport.ts';
import { Prng } from '../../src/sim/prng.ts';
import { clockDeliveries, DIRECT_NETWORK, SimNetwork, type SimTransport } from '../../src/sim/simNetwork.ts';

export interface SentMessage {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: unknown;
}

/** Requests recorded in `sent` at most (the oldest are dropped). */
export const SENT_LOG_MAX = 10_000;

export class TestNetwork extends SimNetwork {
  readonly sent: SentMessage[] = [];

  constructor(private readonly clock: Clock) {
    // DIRECT_NETWORK has no random fault: any seed gives the same deliveries.
    super(clockDeliveries(clock), Prng.fromSeed(0), DIRECT_NETWORK);
    this.onRequest = (from, to, message) => {
      this.sent.push({ from, to, message });
      if (this.sent.length > SENT_LOG_MAX) this.sent.shift();
    };
  }

  /**
   * A transport for `id` (a restarted node's earlier one must be closed), listening at
   * `address`; without one, at the node's earlier address or the next `sim:PORT`.
   */
  transport(id: NodeId, address?: PeerAddress): SimTransport {
    return this.attach(id, this.clock, 1, address);
  }

  /** The requests of one type sent so far, as the protocol reads them (the hot ones travel as arrays). */
  sentOfType(type: string): SentMessage[] {
    return this.sent.flatMap((entry) => {
      const message = Array.isArray(entry.message) ? parseMessage(entry.message) : (entry.message as { type?: unknown });
      return message.type === type ? [{ ...entry, message }] : [];
    });
  }
}
