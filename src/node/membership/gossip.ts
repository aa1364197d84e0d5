/**
 * Gossip (paper 4.8.1, 4.8.2): about once every `intervalMs` (jittered through the Random
 * port) this node sends its cluster state to one random member, which merges it and
 * answers with its merged state, which this node merges in turn. Every SEED_EVERY_ROUNDS
 * rounds it talks to a random seed instead, so a cluster whose members joined through
 * different seeds cannot stay split in two rings. (A node alone has not joined a cluster
 * yet: it gossips with nobody; its state could not merge with the seed's anyway.)
 *
 * Exchanges go through the PeerClient, so they feed the failure detector like any other
 * traffic. After a local change (a plan applied, a transfer done) `spread()` gossips at
 * once to a few members instead of waiting for the next rounds.
 */
import { decodeState, encodeState } from '../../core/membership/codec.ts';
import { MembershipError } from '../../core/membership/member.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { Random } from '../../ports/random.ts';
import type { PeerAddress, Transport } from '../../ports/transport.ts';
import { JitteredRounds } from '../jitteredRounds.ts';
import { describeFailure, type PeerClient } from '../peerClient.ts';
import { parseReply, type GossipMessage, type Reply } from '../protocol.ts';
import type { Membership } from './membership.ts';

export interface GossipDeps {
  readonly membership: Membership;
  readonly peers: PeerClient;
  /** For seeds, whose ids are not known (requestAt). */
  readonly transport: Transport;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly seeds: readonly PeerAddress[];
  /** Called after each exchange (for metrics): whether the peer's state changed ours. */
  readonly onExchange?: (outcome: 'changed' | 'same' | 'failed') => void;
}

/** One round in this many talks to a seed. */
export const SEED_EVERY_ROUNDS = 10;
/** Members told at once after a local change. */
export const SPREAD_FANOUT = 3;

export class Gossip {
  private readonly rounds: JitteredRounds;
  private roundCount = 0;

  constructor(private readonly deps: GossipDeps) {
    this.rounds = new JitteredRounds(deps.clock, deps.random, deps.intervalMs, () => this.round());
  }

  start(): void {
    this.rounds.start();
  }

  stop(): void {
    this.rounds.stop();
  }

  /** One round: a random member, or now and then (or when alone) a random seed. */
  round(): void {
    this.roundCount++;
    const members = this.otherMembers();
    // A node alone in its own cluster of one has not joined any: its seeds are for later.
    const seeds = members.length === 0 ? [] : this.deps.seeds;
    const seedTurn = seeds.length > 0 && this.roundCount % SEED_EVERY_ROUNDS === 0;
    if (seedTurn) return void this.exchangeWithSeed(seeds[this.deps.random.int(seeds.length)] as PeerAddress);
    if (members.length > 0) void this.exchangeWith(members[this.deps.random.int(members.length)] as string);
  }

  /** Tells up to SPREAD_FANOUT random members about this node's state now. */
  spread(): void {
    const members = this.otherMembers();
    for (let i = 0; i < SPREAD_FANOUT && members.length > 0; i++) {
      const [peer] = members.splice(this.deps.random.int(members.length), 1);
      void this.exchangeWith(peer as string);
    }
  }

  /** Exchanges states with `peer`; resolves once the answer is merged (never rejects). */
  async exchangeWith(peer: string): Promise<void> {
    try {
      const reply = await this.deps.peers.request(peer, this.message(), this.deps.timeoutMs);
      await this.absorb(reply, peer);
    } catch (error) {
      this.failed(peer, error);
    }
  }

  private async exchangeWithSeed(seed: PeerAddress): Promise<void> {
    const where = `${seed.host}:${seed.port}`;
    try {
      const answer = await this.deps.transport.requestAt(seed, this.message(), this.deps.timeoutMs);
      await this.absorb(parseReply(answer.reply), `seed ${where} (${answer.from})`);
    } catch (error) {
      this.failed(`seed ${where}`, error);
    }
  }

  private message(): GossipMessage {
    return { type: 'gossip', state: encodeState(this.deps.membership.state) };
  }

  private async absorb(reply: Reply, from: string): Promise<void> {
    if (reply.type !== 'state') throw new Error(`${from} answered ${describeFailure(reply)}`);
    const changed = await this.deps.membership.merge(decodeState(reply.state));
    this.deps.onExchange?.(changed ? 'changed' : 'same');
  }

  private failed(peer: string, error: unknown): void {
    this.deps.onExchange?.('failed');
    const level = error instanceof MembershipError ? 'warn' : 'debug';
    this.deps.logger[level]({ peer, reason: describeFailure(error) }, 'gossip exchange failed');
  }

  private otherMembers(): string[] {
    return [...this.deps.membership.view.peers.keys()];
  }
}
