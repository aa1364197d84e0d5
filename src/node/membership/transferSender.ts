/**
 * Partition transfers, sending side (paper 4.9). For every transfer of the current change
 * whose sender is this node, it streams its copy of the key partition to the receiver in
 * bounded batches (at most `batchObjectsMax` objects and about `batchBytesMax` bytes,
 * `pauseMs` apart: the throttle), each acknowledged only once the receiver holds it
 * durably; then it marks the transfer done in the cluster state, which gossip spreads.
 *
 * - Writes that arrive meanwhile are handed to the receiver as hints (cluster.ts
 *   `forwardTo`), from the moment this node sees the change; the stream reads the
 *   partition as reads see it (buffered writes included), so every write this node took
 *   before the change is in the stream and every later one is in a hint.
 * - Progress survives restarts: after each acknowledged batch the cursor (the last key
 *   sent) is persisted in the metadata store, and a restarted node resumes from it.
 * - A failed batch is retried after a backoff (doubling up to `retryDelayMsMax`), as long as
 *   the transfer is still wanted.
 * - When a stream ends, hint delivery starts at once, so the writes forwarded meanwhile
 *   follow the stream without waiting for the next delivery round. (Waiting for them
 *   before marking the transfer done would never end under steady writes: the other
 *   partitions moving to the same receiver keep adding hints.)
 */
import { encodeBase64Url, decodeBase64Url } from '../../core/base64url.ts';
import { markTransferDone, isSettled, type TransferState } from '../../core/membership/state.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';
import type { PartitionEntry, Replica } from '../../ports/replica.ts';
import type { JsonValue, MetaStore } from '../../ports/storage.ts';
import { describeFailure, type PeerClient } from '../peerClient.ts';
import type { TransferBatchMessage, TransferEndMessage } from '../protocol.ts';
import type { BackgroundPacer } from '../admission.ts';
import { entryBytes, readBoundedPage } from '../partitionPage.ts';
import type { Membership } from './membership.ts';

export interface TransferSenderDeps {
  readonly membership: Membership;
  /** This node's data, streamed from. */
  readonly replica: Replica;
  readonly meta: MetaStore;
  readonly peers: PeerClient;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly batchObjectsMax: number;
  readonly batchBytesMax: number;
  /** Pause between two batches of one transfer (a fixed throttle; admission may ask for more). */
  readonly pauseMs: number;
  /** The admission controller: a longer pause after a batch while the foreground suffers. */
  readonly pacer?: BackgroundPacer;
  /** Transfers streamed at once. */
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly retryDelayMsMax: number;
  /** A transfer finished (the caller spreads the news by gossip). */
  readonly onDone: (transfer: TransferState) => void;
  /** Starts hint delivery now (the writes forwarded during the stream). */
  readonly deliverHints: () => void;
}

export interface TransferStats {
  /** Sent for the current change (counters restart with each ring version). */
  readonly objectsSent: number;
  readonly bytesSent: number;
  /** Over the last RATE_WINDOW_MS. */
  readonly objectsPerS: number;
  readonly bytesPerS: number;
  /** Transfers streaming now. */
  readonly active: number;
  /** This node's transfers of the current change not done yet. */
  readonly pending: number;
  /** Transfers this node has finished since it started. */
  readonly finished: number;
}

interface Cursor {
  readonly afterKey: Uint8Array | undefined;
}

const RATE_WINDOW_MS = 5000;

export class TransferSender {
  private readonly active = new Map<string, Promise<void>>();
  private running = false;
  private objectsSent = 0;
  private bytesSent = 0;
  private finished = 0;
  /** The ring version objectsSent and bytesSent count for. */
  private countedVersion = 0;
  private readonly samples: { atMs: number; objects: number; bytes: number }[] = [];

  constructor(private readonly deps: TransferSenderDeps) {}

  start(): void {
    this.running = true;
    this.deps.membership.onView(() => this.schedule());
    this.schedule();
  }

  stop(): void {
    this.running = false;
  }

  /** Resolves once the transfers streaming now have stopped (after stop()). */
  async idle(): Promise<void> {
    await Promise.all(this.active.values());
  }

  stats(): TransferStats {
    this.trimSamples();
    this.restartCountsOnNewChange();
    const objects = this.samples.reduce((sum, s) => sum + s.objects, 0);
    const bytes = this.samples.reduce((sum, s) => sum + s.bytes, 0);
    const seconds = RATE_WINDOW_MS / 1000;
    return {
      objectsSent: this.objectsSent,
      bytesSent: this.bytesSent,
      objectsPerS: Math.round(objects / seconds),
      bytesPerS: Math.round(bytes / seconds),
      active: this.active.size,
      pending: this.outgoing().length,
      finished: this.finished,
    };
  }

  /** Starts the transfers this node owes, up to `concurrency` at once. */
  schedule(): void {
    if (!this.running) return;
    for (const transfer of this.outgoing()) {
      if (this.active.size >= this.deps.concurrency) return;
      const id = this.idOf(transfer);
      if (this.active.has(id)) continue;
      const run = this.stream(transfer, id).finally(() => {
        this.active.delete(id);
        this.schedule();
      });
      this.active.set(id, run);
    }
  }

  /** This node's transfers of the current change that are not done. */
  private outgoing(): TransferState[] {
    const state = this.deps.membership.state;
    if (state.change === undefined || isSettled(state)) return [];
    const self = this.deps.membership.view.self;
    return state.change.transfers.filter((t) => t.from === self && !t.done);
  }

  private idOf(transfer: TransferState): string {
    return `transfer/${this.deps.membership.state.ringVersion}/${transfer.partition}/${transfer.to}`;
  }

  private async stream(transfer: TransferState, id: string): Promise<void> {
    const { logger } = this.deps;
    const { partition, to } = transfer;
    logger.info({ partition, to }, 'partition transfer started');
    const wanted = (): boolean => this.wanted(transfer, id);
    try {
      const saveCursor = (afterKey: Uint8Array): Promise<void> => this.deps.meta.put(id, { afterKey: encodeBase64Url(afterKey) });
      if (!(await this.sendPartition(partition, to, this.loadCursor(id), wanted, saveCursor))) return;
      this.deps.deliverHints();
      if (!(await this.sendEnd(partition, to, wanted))) return;
      this.finished++;
      await this.deps.membership.adopt(markTransferDone(this.deps.membership.state, partition, to));
      logger.info({ partition, to }, 'partition transfer done');
      this.deps.onDone(transfer);
    } catch (error) {
      logger.warn({ partition, to, reason: describeFailure(error) }, 'partition transfer interrupted; will resume');
      await this.pause(this.deps.retryDelayMsMax);
    }
  }

  /**
   * Streams this node's whole copy of `partition` to `to` and tells it the stream ended: a
   * former replica's handoff to a new replica that does not confirm holding the partition
   * (partitionDrop.ts). True once `to` took the end; false when no longer wanted.
   */
  async handOff(partition: number, to: string, wanted: () => boolean): Promise<boolean> {
    const stillWanted = (): boolean => this.running && wanted();
    const noSave = (): Promise<void> => Promise.resolve();
    if (!(await this.sendPartition(partition, to, { afterKey: undefined }, stillWanted, noSave))) return false;
    this.deps.deliverHints();
    return this.sendEnd(partition, to, stillWanted);
  }

  /** Every batch of the partition from the cursor on, each acknowledged; false when no longer wanted. */
  private async sendPartition(partition: number, to: string, from: Cursor, wanted: () => boolean, saveCursor: (afterKey: Uint8Array) => Promise<void>): Promise<boolean> {
    let cursor = from;
    for (;;) {
      if (!wanted()) return false;
      const startedMs = this.deps.clock.monotonicMs();
      const batch = this.nextBatch(partition, cursor);
      // Paced on the local work (reading the batch), not on the wait for the receiver.
      const workMs = this.deps.clock.monotonicMs() - startedMs;
      if (batch.entries.length > 0) {
        const message: TransferBatchMessage = { type: 'transfer-batch', partition, keys: batch.entries.map((e) => e.key), objects: batch.entries.map((e) => e.bytes) };
        if (!(await this.sendWithRetry(partition, to, message, wanted))) return false;
        this.counted(batch.entries);
      }
      if (batch.next.afterKey !== undefined) await saveCursor(batch.next.afterKey);
      cursor = batch.next;
      if (batch.last) return true;
      await this.pause(Math.max(this.deps.pauseMs, this.deps.pacer?.pauseAfterMs(workMs) ?? 0));
    }
  }

  /** Tells `to` it now holds the partition (holdings.ts), until it acknowledges; false when no longer wanted. */
  private sendEnd(partition: number, to: string, wanted: () => boolean): Promise<boolean> {
    const { clusterId, ringVersion } = this.deps.membership.state;
    return this.sendWithRetry(partition, to, { type: 'transfer-end', clusterId, ringVersion, partition }, wanted);
  }

  /** Up to batchObjectsMax entries after the cursor, cut at about batchBytesMax, and where the next batch starts. */
  private nextBatch(partition: number, cursor: Cursor): { entries: PartitionEntry[]; next: Cursor; last: boolean } {
    const page = readBoundedPage(this.deps.replica, partition, cursor.afterKey, this.deps.batchObjectsMax, this.deps.batchBytesMax);
    return { entries: page.entries, next: { afterKey: page.resumeAfter }, last: page.resumeAfter === undefined };
  }

  /** Sends one message of a transfer until acknowledged; false when the transfer stopped being wanted. */
  private async sendWithRetry(partition: number, to: string, message: TransferBatchMessage | TransferEndMessage, wanted: () => boolean): Promise<boolean> {
    let delayMs = Math.min(100, this.deps.retryDelayMsMax);
    for (;;) {
      if (!wanted()) return false;
      try {
        const reply = await this.deps.peers.request(to, message, this.deps.timeoutMs);
        if (reply.type !== 'ack') throw new Error(describeFailure(reply));
        return true;
      } catch (error) {
        this.deps.logger.debug({ partition, to, message: message.type, reason: describeFailure(error), retryInMs: delayMs }, 'transfer message failed');
        await this.pause(delayMs);
        delayMs = Math.min(delayMs * 2, this.deps.retryDelayMsMax);
      }
    }
  }

  private wanted(transfer: TransferState, id: string): boolean {
    return this.running && this.outgoing().some((t) => t.partition === transfer.partition && t.to === transfer.to) && this.idOf(transfer) === id;
  }

  private loadCursor(id: string): Cursor {
    const stored = this.deps.meta.get(id) as { afterKey?: JsonValue } | null | undefined;
    const text = stored?.afterKey;
    if (typeof text !== 'string') return { afterKey: undefined };
    const afterKey = decodeBase64Url(text);
    if (afterKey !== undefined) this.deps.logger.info({ transfer: id }, 'resuming a partition transfer from its saved cursor');
    return { afterKey: afterKey ?? undefined };
  }

  private restartCountsOnNewChange(): void {
    const version = this.deps.membership.state.ringVersion;
    if (version === this.countedVersion) return;
    this.countedVersion = version;
    this.objectsSent = 0;
    this.bytesSent = 0;
  }

  private counted(entries: readonly PartitionEntry[]): void {
    this.restartCountsOnNewChange();
    const bytes = entries.reduce((sum, e) => sum + entryBytes(e), 0);
    this.objectsSent += entries.length;
    this.bytesSent += bytes;
    this.samples.push({ atMs: this.deps.clock.monotonicMs(), objects: entries.length, bytes });
    this.trimSamples();
  }

  private trimSamples(): void {
    const oldestMs = this.deps.clock.monotonicMs() - RATE_WINDOW_MS;
    while (this.samples.length > 0 && (this.samples[0] as { atMs: number }).atMs < oldestMs) this.samples.shift();
  }

  private pause(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.deps.clock.setTimer(ms, resolve));
  }
}

