/**
 * The receiving side of the internode protocol: validates each request from a peer,
 * serves it from this node's replica (or coordinates a forwarded client request), and
 * always answers with a protocol reply, an `error` reply for anything that went wrong. A
 * peer's garbage is refused (BAD_MESSAGE) and logged; it never reaches the node's logic
 * and never makes the handler reject.
 */
import type { Coordinated } from './coordinator/forwarder.ts';
import type { StoredObject } from '../core/object.ts';
import { partitionOfKey } from '../core/hash.ts';
import type { Logger } from '../ports/logger.ts';
import type { Replica } from '../ports/replica.ts';
import type { NodeId, PeerRole } from '../ports/transport.ts';
import { CorruptObjectError, decodeObject, encodeObject } from '../storage/objectCodec.ts';
import { translateError } from './errors.ts';
import { emit, type NodeEvents } from './events.ts';
import type { MembershipService } from './membership/membershipService.ts';
import type { ExchangePeer } from './antiEntropy/exchange.ts';
import { serveExchange, type ExchangeMessage } from './antiEntropy/exchangeMessages.ts';
import {
  ACK,
  BadMessageError,
  errorReply,
  objectReply,
  parseMessage,
  PONG,
  type ErrorReply,
  type ForwardMessage,
  type HintDeliveryMessage,
  type ListKeysMessage,
  type Message,
  type Reply,
  type ReplicaGetMessage,
  type ReplicaPutMessage,
} from './protocol.ts';

export interface ReplicaServiceDeps {
  readonly replica: Replica;
  /** Gossip, joins and partition transfers (node/membership). */
  readonly membership: MembershipService;
  readonly partitionCount: number;
  readonly keyBytesMax: number;
  readonly logger: Logger;
  readonly events: NodeEvents;
  /** False once the node is stopping: every request is then refused with NODE_NOT_SERVING. */
  readonly serving: () => boolean;
  /** This node's answering side of anti-entropy exchanges (antiEntropy/exchange.ts). */
  readonly antiEntropy: ExchangePeer;
  /** Coordinates a client request forwarded by a peer. */
  readonly coordinateForwarded: (message: ForwardMessage) => Promise<Coordinated>;
  /** Answers a listing page for this node's partitions (listing/listingService.ts). */
  readonly listKeys: (message: ListKeysMessage) => Promise<Reply>;
}

/**
 * What a client in client-coordinated mode may ask (paper 6.4): probe a node, read a
 * replica, list a replica's keys, and have a node coordinate its write. It never writes a replica itself, gossips,
 * transfers, joins or exchanges trees.
 */
export const CLIENT_MESSAGE_TYPES: ReadonlySet<Message['type']> = new Set(['ping', 'replica-get', 'forward', 'list-keys']);

/**
 * Messages taken only from a member, or a former one (membershipService.ts isKnownNode): those that write a replica's data or its record of
 * holdings, a forward from a node (a client's own forward is a client's right), and every
 * anti-entropy message (a tree walk lists every key and value).
 */
export const MEMBER_MESSAGE_TYPES: ReadonlySet<Message['type']> = new Set([
  'replica-put',
  'hint-delivery',
  'forward',
  'transfer-batch',
  'transfer-end',
  'ae-root',
  'ae-roots',
  'ae-children',
  'ae-keys',
  'ae-fetch',
  'ae-digests',
  'ae-push',
  'ae-reap',
]);

/** Answers one peer request; never rejects. */
export async function handlePeerRequest(deps: ReplicaServiceDeps, from: NodeId, raw: unknown, role: PeerRole): Promise<Reply> {
  let message: Message;
  try {
    message = parseMessage(raw);
  } catch (error) {
    return refuseGarbage(deps, from, error);
  }
  const refusal = permissionRefusal(deps, from, role, message);
  if (refusal !== undefined) return answered(deps, message, refusal);
  if (!deps.serving()) return answered(deps, message, errorReply('NODE_NOT_SERVING', 'node is stopping'));
  try {
    return answered(deps, message, await serve(deps, message, from));
  } catch (error) {
    return answered(deps, message, replyOf(deps, from, message, error));
  }
}

function serve(deps: ReplicaServiceDeps, message: Message, from: NodeId): Promise<Reply> | Reply {
  switch (message.type) {
    case 'ping':
      return PONG;
    case 'replica-put':
      return replicaPut(deps, message);
    case 'replica-get':
      return replicaGet(deps, message);
    case 'hint-delivery':
      return hintDelivery(deps, message);
    case 'forward':
      return deps.coordinateForwarded(message).then(({ object, nextCoordinator }) => objectReply(object === undefined ? undefined : encodeObject(object), nextCoordinator));
    case 'gossip':
      return deps.membership.gossip(message, from);
    case 'join':
      return deps.membership.serveJoin(message);
    case 'transfer-batch':
      return deps.membership.transferBatch(message);
    case 'transfer-end':
      return deps.membership.transferEnd(message, from);
    case 'holdings':
      return deps.membership.holdingsOf(message, from);
    case 'transfer-stats':
      return deps.membership.transferStats();
    case 'ae-root':
    case 'ae-roots':
    case 'ae-children':
    case 'ae-keys':
    case 'ae-fetch':
    case 'ae-push':
    case 'ae-digests':
    case 'ae-reap':
      return exchange(deps, message);
    case 'list-keys':
      return deps.listKeys(message);
  }
}

/** Why `from` may not send `message`, as the reply to send it; logged with the sender. */
function permissionRefusal(deps: ReplicaServiceDeps, from: NodeId, role: PeerRole, message: Message): ErrorReply | undefined {
  let reason: string | undefined;
  if (role === 'client' && !CLIENT_MESSAGE_TYPES.has(message.type)) reason = `a client may not send ${message.type}`;
  else if (role === 'node' && MEMBER_MESSAGE_TYPES.has(message.type) && !deps.membership.isKnownNode(from)) reason = `${JSON.stringify(from)} is not a member, and may not send ${message.type}`;
  if (reason === undefined) return undefined;
  deps.logger.warn({ peer: from, role, type: message.type, reason }, 'refused an internode request');
  return errorReply('NOT_PERMITTED', reason);
}

/** An anti-entropy request; a refusal (a tree of another shape, a partition not held here) is logged. */
async function exchange(deps: ReplicaServiceDeps, message: ExchangeMessage): Promise<Reply> {
  if ('keys' in message && message.type !== 'ae-push') for (const key of message.keys) checkKeyOf(deps, { partition: message.partition, key });
  const reply = await serveExchange(deps.antiEntropy, message);
  if (reply.type === 'error') deps.logger.info({ type: message.type, reason: reply.message }, 'refused an anti-entropy request');
  return reply;
}

async function replicaPut(deps: ReplicaServiceDeps, message: ReplicaPutMessage): Promise<Reply> {
  checkKeyOf(deps, message);
  const { hintFor } = message;
  const object = decodeIncoming(message.object);
  // keep: the coordinator counts this acknowledgement as one of W copies, so this node keeps
  // one even when its view says the partition was handed over (a coordinator's stale view).
  await deps.replica.merge(message.partition, message.key, object, { durable: message.durable, groupCommit: message.groupCommit === true, hintFor, keep: true });
  if (hintFor !== undefined && hintFor !== deps.replica.self) emit(() => deps.events.onHintStored?.());
  return ACK;
}

function replicaGet(deps: ReplicaServiceDeps, message: ReplicaGetMessage): Reply {
  checkKeyOf(deps, message);
  return objectReply(deps.replica.readBytes(message.partition, message.key));
}

/** A fallback hands back a version it held for this node: persist it before acknowledging. */
async function hintDelivery(deps: ReplicaServiceDeps, message: HintDeliveryMessage): Promise<Reply> {
  checkKeyOf(deps, message);
  const object = decodeIncoming(message.object);
  await deps.replica.merge(message.partition, message.key, object, { durable: true, hintFor: undefined, keep: true });
  return ACK;
}

/** The key is well formed and lies in the partition the message names. */
function checkKeyOf(deps: ReplicaServiceDeps, message: { readonly partition: number; readonly key: Uint8Array }): void {
  const { key, partition } = message;
  if (key.length === 0 || key.length > deps.keyBytesMax) {
    throw new BadMessageError(`key must be 1-${deps.keyBytesMax} bytes, got ${key.length}`);
  }
  const expected = partitionOfKey(key, deps.partitionCount);
  if (partition !== expected) throw new BadMessageError(`key belongs to partition ${expected}, not ${partition}`);
}

function decodeIncoming(bytes: Uint8Array): StoredObject {
  try {
    return decodeObject(bytes);
  } catch (error) {
    if (error instanceof CorruptObjectError) throw new BadMessageError(`object: ${error.reason}`);
    throw error;
  }
}

function refuseGarbage(deps: ReplicaServiceDeps, from: NodeId, error: unknown): Reply {
  const reason = error instanceof Error ? error.message : String(error);
  deps.logger.warn({ peer: from, reason }, 'refused a malformed internode message');
  emit(() => deps.events.onInternodeRequest?.('invalid', 'error'));
  return errorReply('BAD_MESSAGE', reason);
}

function answered(deps: ReplicaServiceDeps, message: Message, reply: Reply): Reply {
  emit(() => deps.events.onInternodeRequest?.(message.type, reply.type === 'error' ? 'error' : 'ok'));
  return reply;
}

/** The error reply for a failure while serving `message` (errors.ts translates it); unexpected ones are logged. */
function replyOf(deps: ReplicaServiceDeps, from: NodeId, message: Message, error: unknown): ErrorReply {
  const translated = translateError(error);
  if (translated.code === 'BAD_MESSAGE') deps.logger.warn({ peer: from, type: message.type, reason: translated.message }, 'refused a malformed internode message');
  else if (translated.unexpected) deps.logger.error({ peer: from, type: message.type, err: error }, 'failed serving a peer');
  return errorReply(translated.code, translated.message, translated.replicas);
}
