/**
 * Hinted handoff (paper 4.6): a background task that hands the hints this node holds back
 * to their owners.
 *
 * Every hintDeliveryIntervalMs (jittered by ±50% with the Random port, so nodes do not
 * hit a recovered peer in lockstep) a round starts delivery to every target that has
 * hints, is believed up by the failure detector, and is not backing off. Per target, a
 * state machine:
 *   idle         nothing in progress
 *   delivering   hints go one at a time, in key order, in pages of
 *                HINT_DELIVERY_BATCH_OBJECTS. The owner persists each (fsync) before it
 *                acknowledges; only then is the hint deleted, and only if it did not change
 *                meanwhile (a hint merged after it was sent holds more than was delivered).
 *   backing-off  a delivery failed: no attempt before retryAtMs, which doubles per failure
 *                in a row from hintDeliveryIntervalMs up to HINT_BACKOFF_MS_MAX (jittered).
 * The failure detector learns from every attempt (through the PeerClient), and its probes
 * mark a recovered owner up again.
 *
 * A hint whose owner is no longer a member (it left, or was removed after it died) can
 * never be handed back: it goes to the key's current replicas instead (this node's own
 * main store when it is one of them), and is deleted once every one of them has it.
 */
import { JitteredRounds } from './jitteredRounds.ts';
import type { StoredObject } from '../core/object.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import type { Random } from '../ports/random.ts';
import type { Hint, Replica } from '../ports/replica.ts';
import { encodeObject } from '../storage/objectCodec.ts';
import { emit, type NodeEvents } from './events.ts';
import type { BackgroundPacer } from './admission.ts';
import type { FailureDetector } from './failureDetector.ts';
import { describeFailure, type PeerClient } from './peerClient.ts';
import type { HintDeliveryMessage } from './protocol.ts';

/** Hints read from the store per page of a delivery. */
export const HINT_DELIVERY_BATCH_OBJECTS = 64;
/** Longest pause after failed deliveries to one target. */
export const HINT_BACKOFF_MS_MAX = 60_000;

export type DeliveryState = 'idle' | 'delivering' | 'backing-off';

interface TargetDelivery {
  state: DeliveryState;
  failures: number;
  retryAtMs: number;
}

export interface HintedHandoffDeps {
  /** The hints this node holds (its replica object's). */
  readonly hints: Pick<Replica, 'hintTargets' | 'scanHints' | 'removeHintIfUnchanged'>;
  readonly detector: FailureDetector;
  readonly peers: PeerClient;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly events: NodeEvents;
  readonly intervalMs: number;
  readonly requestTimeoutMs: number;
  /** Where hints of departed owners go (absent: every target is taken for a member). */
  readonly departed?: DepartedOwners;
  /** The admission controller: a pause after each page of hints while the foreground suffers. */
  readonly pacer?: BackgroundPacer;
}

/** The membership as hinted handoff needs it. */
export interface DepartedOwners {
  readonly self: string;
  /** Whether the node is still a member (not removed). */
  isMember(node: string): boolean;
  /** The key partition's current replicas. */
  replicasOf(partition: number): readonly string[];
  /** Merges the object into this node's own copy (durably) as a replica write. */
  storeLocally(partition: number, key: Uint8Array, object: StoredObject): Promise<unknown>;
}

export interface HandoffStats {
  readonly delivered: number;
  readonly failures: number;
}

export class HintedHandoff {
  private readonly targets = new Map<string, TargetDelivery>();
  private readonly rounds: JitteredRounds;
  private delivered = 0;
  private failures = 0;

  constructor(private readonly deps: HintedHandoffDeps) {
    this.rounds = new JitteredRounds(deps.clock, deps.random, deps.intervalMs, () => this.round());
  }

  start(): void {
    this.rounds.start();
  }

  /** Stops the rounds; a delivery in flight finishes its current hint and goes no further. */
  stop(): void {
    this.rounds.stop();
  }

  stats(): HandoffStats {
    return { delivered: this.delivered, failures: this.failures };
  }

  /** Starts delivery to every eligible target now (also what each timer round does). */
  round(): void {
    if (!this.rounds.running) return;
    const nowMs = this.deps.clock.monotonicMs();
    for (const target of this.deps.hints.hintTargets()) {
      const delivery = this.delivery(target);
      if (!this.isDeparted(target) && !this.deps.detector.isUp(target)) continue;
      switch (delivery.state) {
        case 'delivering':
          continue;
        case 'backing-off':
          if (nowMs < delivery.retryAtMs) continue;
          break;
        case 'idle':
          break;
      }
      delivery.state = 'delivering';
      this.deliverPage(target, delivery, undefined);
    }
  }


  private delivery(target: string): TargetDelivery {
    let delivery = this.targets.get(target);
    if (delivery === undefined) {
      delivery = { state: 'idle', failures: 0, retryAtMs: 0 };
      this.targets.set(target, delivery);
    }
    return delivery;
  }

  private deliverPage(target: string, delivery: TargetDelivery, cursor: Uint8Array | undefined): void {
    let page: Hint[];
    const startedMs = this.deps.clock.monotonicMs();
    try {
      page = this.deps.hints.scanHints(target, HINT_DELIVERY_BATCH_OBJECTS, cursor);
    } catch (error) {
      this.failed(target, delivery, error);
      return;
    }
    // Paced on the local work (reading the page), not on the waits for the owner.
    this.deliverNext(target, delivery, page, 0, this.deps.clock.monotonicMs() - startedMs);
  }

  private deliverNext(target: string, delivery: TargetDelivery, page: readonly Hint[], index: number, pageWorkMs: number): void {
    if (!this.rounds.running) {
      delivery.state = 'idle';
      return;
    }
    const hint = page[index];
    if (hint === undefined) {
      const last = page[page.length - 1];
      if (page.length === HINT_DELIVERY_BATCH_OBJECTS && last !== undefined) return this.nextPageAfterPause(target, delivery, last.cursor, pageWorkMs);
      delivery.state = 'idle';
      delivery.failures = 0;
      return;
    }
    this.deliverOne(hint).then(
      () => this.deliverNext(target, delivery, page, index + 1, pageWorkMs),
      (error: unknown) => this.failed(target, delivery, error),
    );
  }

  private nextPageAfterPause(target: string, delivery: TargetDelivery, cursor: Uint8Array, pageWorkMs: number): void {
    const pauseMs = this.deps.pacer?.pauseAfterMs(pageWorkMs) ?? 0;
    if (pauseMs <= 0) return this.deliverPage(target, delivery, cursor);
    this.deps.clock.setTimer(pauseMs, () => {
      if (this.rounds.running) this.deliverPage(target, delivery, cursor);
      else delivery.state = 'idle';
    });
  }

  private isDeparted(target: string): boolean {
    return this.deps.departed !== undefined && !this.deps.departed.isMember(target);
  }

  /** Sends one hint; resolves once the owner acknowledged it and the hint is removed (if unchanged). */
  private async deliverOne(hint: Hint): Promise<void> {
    const message: HintDeliveryMessage = { type: 'hint-delivery', partition: hint.partition, key: hint.key, object: encodeObject(hint.object) };
    const departed = this.deps.departed;
    if (departed !== undefined && !departed.isMember(hint.target)) {
      const replicas = departed.replicasOf(hint.partition);
      await Promise.all(replicas.map((node) => (node === departed.self ? departed.storeLocally(hint.partition, hint.key, hint.object) : this.send(node, message))));
      // The partition's replicas changed while it was on its way (a change settled): the hint
      // stays, and the next round takes it to the new ones (found by the forgery nemesis).
      const now = departed.replicasOf(hint.partition);
      if (now.length !== replicas.length || now.some((node) => !replicas.includes(node))) return;
    } else {
      await this.send(hint.target, message);
    }
    this.delivered++;
    emit(() => this.deps.events.onHintDelivery?.('delivered'));
    await this.deps.hints.removeHintIfUnchanged(hint, hint.object);
  }

  private async send(node: string, message: HintDeliveryMessage): Promise<void> {
    const reply = await this.deps.peers.request(node, message, this.deps.requestTimeoutMs);
    if (reply.type !== 'ack') throw new Error(describeFailure(reply));
  }

  private failed(target: string, delivery: TargetDelivery, error: unknown): void {
    this.failures++;
    emit(() => this.deps.events.onHintDelivery?.('failed'));
    delivery.failures++;
    const backoffMs = Math.min(HINT_BACKOFF_MS_MAX, this.deps.intervalMs * 2 ** Math.min(delivery.failures - 1, 20));
    delivery.retryAtMs = this.deps.clock.monotonicMs() + backoffMs * (0.5 + this.deps.random.next());
    delivery.state = 'backing-off';
    this.deps.logger.debug({ peer: target, failures: delivery.failures, reason: describeFailure(error) }, 'hint delivery failed; backing off');
  }
}
