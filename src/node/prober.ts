/**
 * Each round also asks the detector to judge the silence of every up peer (latency-based
 * suspicion), so a peer nobody is waiting on a hedge for is still suspected in time.
 *
 * Probes the peers the failure detector doubts (suspect or down, paper 4.8.3): every
 * probeIntervalMs (jittered by ±50% with the Random port) each such peer gets a ping, at
 * most one in flight per peer, dialling even while the transport backs off from the peer
 * (so a node cut off from everyone is back within a round of the network healing). An
 * answer marks it up (the PeerClient tells the failure detector); a failure makes a
 * suspect peer down, and leaves a down one down.
 */
import { JitteredRounds } from './jitteredRounds.ts';
import type { Clock } from '../ports/clock.ts';
import type { Random } from '../ports/random.ts';
import type { FailureDetector } from './failureDetector.ts';
import type { PeerClient } from './peerClient.ts';
import { PING } from './protocol.ts';

/** A probe dials through the transport's reconnect backoff: a healed peer is up again within one round. */
const PROBE = { probe: true } as const;

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
  private readonly rounds: JitteredRounds;

  /** Monotonic ms of the last round run on demand. */
  private kickedAtMs = -Infinity;

  constructor(private readonly deps: ProberDeps) {
    this.rounds = new JitteredRounds(deps.clock, deps.random, deps.intervalMs, () => this.round());
    deps.detector.onProbeWanted(() => this.kick());
  }

  /**
   * A round now, on demand (a request found too few peers up to try): a node cut off from
   * everyone finds its peers within a round trip of the first request after the heal.
   * At most one per quarter interval.
   */
  kick(): void {
    const nowMs = this.deps.clock.monotonicMs();
    if (nowMs - this.kickedAtMs < this.deps.intervalMs / 4) return;
    this.kickedAtMs = nowMs;
    this.round();
  }

  start(): void {
    this.rounds.start();
  }

  stop(): void {
    this.rounds.stop();
  }

  /** Suspects peers silent too long (failureDetector.ts), then pings every doubted peer that has no probe in flight. */
  round(): void {
    if (!this.rounds.running) return;
    this.deps.detector.checkSilence();
    for (const peer of this.deps.detector.doubtedPeers()) {
      if (this.probing.has(peer)) continue;
      this.probing.add(peer);
      const done = (): void => {
        this.probing.delete(peer);
      };
      this.deps.peers.request(peer, PING, this.deps.timeoutMs, PROBE).then(done, done);
    }
  }

}
