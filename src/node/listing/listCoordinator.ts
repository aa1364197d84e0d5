/**
 * The coordinator of one listing page (core/listing.ts): a coverage plan picks one replica
 * believed up per partition (this node itself for the partitions it holds), each is asked
 * for its partitions' next keys, and the answers are merged into a page exact up to its
 * continuation. A replica that fails or refuses is avoided and its partitions asked of
 * another; a partition none of whose replicas can answer fails the page
 * (PARTITION_UNREACHABLE), since a page that skipped it could miss keys.
 *
 * It runs on routing alone, so the client library's client-coordinated mode lists with
 * it too, holding no data itself (`serveLocal` undefined).
 */
import { compareBytes } from '../../core/bytes.ts';
import { coveragePlan, keysPerPartition, mergePartitionKeys, type ListingPage, type PartitionKeys } from '../../core/listing.ts';
import type { NodeId } from '../../ports/transport.ts';
import type { RoutingDeps } from '../coordinator/deps.ts';
import type { Deadline } from '../deadline.ts';
import { RequestError, RequestTimeoutError } from '../errors.ts';
import { describeFailure } from '../peerClient.ts';
import { LIST_REPLY_KEYS_MAX, type KeyListsReply, type ListKeysMessage } from '../protocol.ts';

export interface ListRequest {
  readonly prefix: Uint8Array;
  /** The previous page's continuation (exclusive); undefined for the first page. */
  readonly after: Uint8Array | undefined;
  readonly limit: number;
  readonly deadline: Deadline;
}

export interface ListingDeps extends RoutingDeps {
  /** This node's own answer, without a hop; undefined for a coordinator that holds no data. */
  readonly serveLocal: ((message: ListKeysMessage) => Promise<KeyListsReply>) | undefined;
}

export async function coordinateListPage(deps: ListingDeps, request: ListRequest): Promise<ListingPage> {
  const { cluster } = deps;
  const partitionCount = cluster.ring.partitionCount;
  const keysMax = Math.min(keysPerPartition(request.limit, partitionCount), LIST_REPLY_KEYS_MAX);
  const answers: (PartitionKeys | undefined)[] = new Array(partitionCount).fill(undefined);
  const avoid = new Set<NodeId>();
  let pending = Array.from({ length: partitionCount }, (_, partition) => partition);
  const self = deps.serveLocal === undefined ? undefined : cluster.self;
  while (pending.length > 0) {
    const plan = coveragePlan(pending, (p) => (cluster.preference[p] ?? []).slice(0, cluster.quorum.n), (node) => deps.detector.isUp(node), self, avoid);
    if (plan.unreachable.length > 0) throw unreachable(plan.unreachable, avoid);
    const asked = [...plan.byNode].flatMap(([node, partitions]) => chunks(partitions, Math.max(1, Math.floor(LIST_REPLY_KEYS_MAX / keysMax))).map((part) => ({ node, partitions: part })));
    const outcomes = await Promise.all(asked.map(({ node, partitions }) => askNode(deps, node, listKeysMessage(request, partitions, keysMax), request.deadline)));
    asked.forEach(({ node, partitions }, i) => {
      const outcome = outcomes[i] as KeyListsReply | Error;
      if (outcome instanceof Error) {
        deps.logger.debug({ peer: node, reason: outcome.message }, 'listing: a replica did not answer; asking another');
        avoid.add(node);
      } else {
        answerPartitions(answers, partitions, outcome);
      }
    });
    pending = pending.filter((partition) => answers[partition] === undefined);
    if (pending.length > 0 && request.deadline.remainingMs() === 0) throw new RequestTimeoutError(request.deadline.timeoutMs);
  }
  return mergePartitionKeys(answers as PartitionKeys[], request.limit);
}

function listKeysMessage(request: ListRequest, partitions: readonly number[], keysMax: number): ListKeysMessage {
  const message: ListKeysMessage = { type: 'list-keys', partitions, prefix: request.prefix, keysMax };
  return request.after === undefined ? message : { ...message, after: request.after };
}

/** The node's answer, or the Error that stood for it (a failure, an error reply, a malformed answer). */
async function askNode(deps: ListingDeps, node: NodeId, message: ListKeysMessage, deadline: Deadline): Promise<KeyListsReply | Error> {
  try {
    if (node === deps.cluster.self && deps.serveLocal !== undefined) return await deps.serveLocal(message);
    const remainingMs = deadline.remainingMs();
    if (remainingMs === 0) return new RequestTimeoutError(deadline.timeoutMs);
    const reply = await deps.peers.request(node, message, remainingMs);
    if (reply.type !== 'key-lists') return new Error(describeFailure(reply));
    if (reply.counts.length !== message.partitions.length) return new Error(`answered ${reply.counts.length} partitions of ${message.partitions.length}`);
    // A page must move on, or a listing could go round forever.
    const after = message.after;
    if (after !== undefined && reply.through.some((key) => key.length > 0 && compareBytes(key, after) <= 0)) return new Error('answered a partition that did not move past the page start');
    return reply;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

function answerPartitions(answers: (PartitionKeys | undefined)[], partitions: readonly number[], reply: KeyListsReply): void {
  let offset = 0;
  partitions.forEach((partition, i) => {
    const count = reply.counts[i] as number;
    const through = reply.through[i] as Uint8Array;
    answers[partition] = { keys: reply.keys.slice(offset, offset + count), through: through.length === 0 ? undefined : through };
    offset += count;
  });
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function unreachable(partitions: readonly number[], avoided: ReadonlySet<NodeId>): RequestError {
  const shown = partitions.slice(0, 8).join(', ') + (partitions.length > 8 ? ', …' : '');
  const failed = avoided.size === 0 ? '' : ` (${[...avoided].join(', ')} failed to answer)`;
  return new RequestError('PARTITION_UNREACHABLE', `no replica of partition${partitions.length === 1 ? '' : 's'} ${shown} is reachable to list its keys${failed}`);
}
