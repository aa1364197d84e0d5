/**
 * Probes the peers the failure detector has marked down (paper 4.8.3): every
 * probeIntervalMs (jittered by ±50% with the Random port) each down peer gets a ping,
 * at most one in flight per peer. An answer marks it up (the PeerClient tells the failure
 * detector); a failure leaves it down until the next round.
 */
import type { Clock, TimerHandle } from '../ports/clock.ts';
import type { Random } from '../ports/random.ts';
import type { FailureDetector } from './failureDetector.ts';
import type { PeerClient } from './peerClient.ts';
import { PING } from './protocol.ts';

export interface ProberDeps {
  readonly detector: FailureDetector;
  readonly peers: PeerClient;
  readonly clock: Clock;
  readonly random: Random;
  readonly intervalMs: number;
  /** How long a probe waits for its pong. */
  readonly timeoutMs: number;
}

export class Prober {
  private readonly probing = new Set<string>();
  private timer: TimerHandle | undefined;
  private running = false;

  constructor(private readonly deps: ProberDeps) {}

  start(): void {
    this.running = true;
    this.arm();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.deps.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Pings every down peer that has no probe in flight. */
  round(): void {
    if (!this.running) return;
    for (const peer of this.deps.detector.downPeers()) {
      if (this.probing.has(peer)) continue;
      this.probing.add(peer);
      const done = (): void => {
        this.probing.delete(peer);
      };
      this.deps.peers.request(peer, PING, this.deps.timeoutMs).then(done, done);
    }
  }

  private arm(): void {
    const delayMs = this.deps.intervalMs * (0.5 + this.deps.random.next());
    this.timer = this.deps.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      this.round();
      if (this.running) this.arm();
    });
  }
}
