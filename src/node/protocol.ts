/**
 * The internode protocol: every request one node sends another, and every reply, as plain
 * data with a `type` tag (the transport encodes it; msgpack in production).
 *
 *   ping            -> pong                      failure-detector probe
 *   replica-put     -> ack | error               store this version (a fallback: as a hint for `hintFor`)
 *   replica-get     -> object | error            the versions held for a key (hints included)
 *   forward         -> object | error            coordinate a whole client get/put/delete here
 *   hint-delivery   -> ack | error               a fallback hands a hinted version back to its owner
 *   list-keys       -> key-lists | error         a page of a key listing, per partition (node/listing)
 *   partition-scan  -> partition-page | error    a page of a partition's stored objects (a backup reads every owner's)
 *
 * Objects travel as objectCodec bytes, so a replica decodes them with the same strict
 * checks as the disk format. Every incoming message and reply is validated here; what does
 * not validate is refused with an `error` reply (code BAD_MESSAGE) and never reaches the
 * node's logic. Optional fields are left out when absent (never sent as undefined).
 */
import { ERROR_CODES, RequestError, type ErrorCode, type ReplicaCounts } from './errors.ts';
import { WRITE_ID_LENGTH_MAX } from '../core/object.ts';
import { compareBytes } from '../core/bytes.ts';

export type ForwardOp = 'get' | 'put' | 'delete';

export interface PingMessage {
  readonly type: 'ping';
}

export interface ReplicaPutMessage {
  readonly type: 'replica-put';
  readonly partition: number;
  readonly key: Uint8Array;
  /** objectCodec bytes of the version to merge. */
  readonly object: Uint8Array;
  /** Persist and fsync before acknowledging (the coordinator's durable replica). */
  readonly durable: boolean;
  /** Set when the receiver is a fallback: the primary it stands in for (store as a hint). */
  readonly hintFor?: string;
  /** A durable write the coordinator does not wait for to reach W: its fsync may wait for the group-commit gap. */
  readonly groupCommit?: boolean;
}

export interface ReplicaGetMessage {
  readonly type: 'replica-get';
  readonly partition: number;
  readonly key: Uint8Array;
}

export interface ForwardMessage {
  readonly type: 'forward';
  readonly op: ForwardOp;
  readonly key: Uint8Array;
  /** put only. */
  readonly value?: Uint8Array;
  /** put only. */
  readonly contentType?: string;
  /** put/delete: the client's context text, when it gave one. */
  readonly context?: string;
  /** put/delete: supersede every version the coordinator's own copy holds, too (the Redis front end's SET). */
  readonly supersedeSeen?: boolean;
  /**
   * put/delete: unique per write where it entered the cluster (the entry node's actor, or
   * the client's id, and a counter). A coordinator applies a write id once: a duplicate of
   * the forward (a retry, a duplicated message) gets the first one's outcome, or is refused.
   */
  readonly writeId?: string;
  readonly n: number;
  readonly r: number;
  readonly w: number;
  /** The time the receiver has to answer in, so it answers before the sender gives up. */
  readonly timeoutMs: number;
}

export interface HintDeliveryMessage {
  readonly type: 'hint-delivery';
  readonly partition: number;
  readonly key: Uint8Array;
  readonly object: Uint8Array;
}

/** This node's cluster state, for the receiver to merge; it answers with its merged state. */
export interface GossipMessage {
  readonly type: 'gossip';
  /** A WireState (core/membership/codec.ts), decoded and checked by the receiver. */
  readonly state: unknown;
}

/** A node that is not a member asks a seed to plan (and, unless dryRun, apply) its join. */
export interface JoinMessage {
  readonly type: 'join';
  /** The joiner's cluster name: a seed of another cluster refuses (the TCP handshake does too). */
  readonly clusterName: string;
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly dryRun: boolean;
  /** Refuse when the ring moved past this version since the plan was shown. */
  readonly expectRingVersion?: number;
}

/** A page of a partition transfer: objects (objectCodec bytes) to merge, durably. */
export interface TransferBatchMessage {
  readonly type: 'transfer-batch';
  readonly partition: number;
  readonly keys: readonly Uint8Array[];
  readonly objects: readonly Uint8Array[];
}

/**
 * The sender of a partition transfer has had every batch acknowledged: the receiver now
 * holds the partition (holdings.ts), for the change of `ringVersion` in cluster `clusterId`.
 */
export interface TransferEndMessage {
  readonly type: 'transfer-end';
  readonly clusterId: string;
  readonly ringVersion: number;
  readonly partition: number;
}

/**
 * Which of these partitions of cluster `clusterId` does the receiver hold, and which did the
 * asker stream to it at `ringVersion` (asked before a former replica drops its copy)?
 */
export interface HoldingsMessage {
  readonly type: 'holdings';
  readonly clusterId: string;
  readonly ringVersion: number;
  readonly partitions: readonly number[];
}

/** Asks for this node's transfer counters (for cluster-wide progress). */
export interface TransferStatsMessage {
  readonly type: 'transfer-stats';
}

/** Anti-entropy (node/antiEntropy/exchange.ts): the root of this node's tree of a partition, of the given shape. */
export interface AeRootMessage {
  readonly type: 'ae-root';
  readonly partition: number;
  readonly segments: number;
  readonly branching: number;
  /** The sender's objectDigest format (a peer that sends none computes version 1). */
  readonly digestVersion: number;
}

/** Anti-entropy: the roots of this node's trees of the given partitions (a sweep compares many at once). */
export interface AeRootsMessage {
  readonly type: 'ae-roots';
  readonly partitions: readonly number[];
  readonly segments: number;
  readonly branching: number;
  /** The sender's objectDigest format (a peer that sends none computes version 1). */
  readonly digestVersion: number;
}

/** Anti-entropy: the children hashes, at `depth`, of the given parents. */
export interface AeChildrenMessage {
  readonly type: 'ae-children';
  readonly partition: number;
  readonly depth: number;
  readonly parents: readonly number[];
}

/** Anti-entropy: the (key, digest) pairs of the given segments. */
export interface AeKeysMessage {
  readonly type: 'ae-keys';
  readonly partition: number;
  readonly segments: readonly number[];
}

/** Anti-entropy: the objects of the given keys (an empty byte string where one is not held). */
export interface AeFetchMessage {
  readonly type: 'ae-fetch';
  readonly partition: number;
  readonly keys: readonly Uint8Array[];
}

/** Anti-entropy: objects to merge, durably (checked like a transfer batch). */
export interface AePushMessage {
  readonly type: 'ae-push';
  readonly partition: number;
  readonly keys: readonly Uint8Array[];
  readonly objects: readonly Uint8Array[];
}

/** Tombstone reaping: this node's digests of the given keys (an empty byte string where none is held). */
export interface AeDigestsMessage {
  readonly type: 'ae-digests';
  readonly partition: number;
  readonly keys: readonly Uint8Array[];
}

/** Tombstone reaping: replace each key's tombstone by its reaped marker when its digest still matches. */
export interface AeReapMessage {
  readonly type: 'ae-reap';
  readonly partition: number;
  readonly keys: readonly Uint8Array[];
  readonly digests: readonly Uint8Array[];
}

/**
 * A page of a key listing (node/listing/listCoordinator.ts): each partition's live keys
 * carrying `prefix`, after `after` when given, at most `keysMax` per partition.
 */
export interface ListKeysMessage {
  readonly type: 'list-keys';
  readonly partitions: readonly number[];
  readonly prefix: Uint8Array;
  readonly after?: Uint8Array;
  readonly keysMax: number;
}

/** A page of the stored objects of a partition after `afterKey`, in key order (a backup reads each owner's). */
export interface PartitionScanMessage {
  readonly type: 'partition-scan';
  readonly partition: number;
  readonly afterKey?: Uint8Array;
  /** At most this many objects (1..TRANSFER_BATCH_OBJECTS_MAX). */
  readonly objectsMax: number;
  /** About this many key and object bytes (1..PARTITION_SCAN_BYTES_MAX; the first object always). */
  readonly bytesMax: number;
}

export type Message =
  | PingMessage
  | ListKeysMessage
  | ReplicaPutMessage
  | ReplicaGetMessage
  | ForwardMessage
  | HintDeliveryMessage
  | GossipMessage
  | JoinMessage
  | TransferBatchMessage
  | TransferEndMessage
  | HoldingsMessage
  | TransferStatsMessage
  | AeRootMessage
  | AeRootsMessage
  | AeChildrenMessage
  | AeKeysMessage
  | AeFetchMessage
  | AePushMessage
  | AeDigestsMessage
  | AeReapMessage
  | PartitionScanMessage;
export type MessageType = Message['type'];

export interface PongReply {
  readonly type: 'pong';
}
export interface AckReply {
  readonly type: 'ack';
}
export interface ObjectReply {
  readonly type: 'object';
  /** objectCodec bytes; absent when the key is not held (or, for a forwarded get, found nowhere). */
  readonly object?: Uint8Array;
  /** A forwarded request's: the replica a later write of the key should go to (the read's fastest, the write's coordinator). */
  readonly nextCoordinator?: string;
}

/** An error reply carries any code of the node's (errors.ts). */
export type ReplyErrorCode = ErrorCode;

export interface ErrorReply {
  readonly type: 'error';
  readonly code: ReplyErrorCode;
  readonly message: string;
  /** For QUORUM_UNREACHABLE and REQUEST_TIMEOUT of a forwarded request. */
  readonly replicas?: ReplicaCounts;
}

/** A cluster state (WireState, checked by the receiver with decodeState). */
export interface StateReply {
  readonly type: 'state';
  readonly state: unknown;
}

/** A planned (and, when `applied`, adopted) membership change and the resulting state. */
export interface PlanReply {
  readonly type: 'plan';
  readonly applied: boolean;
  /** A JSON plan view (node/membership/planView.ts). */
  readonly plan: Readonly<Record<string, unknown>>;
  readonly state: unknown;
}

/** A membership change refused by the planner (core/membership/plan.ts codes and more). */
export interface RefusedReply {
  readonly type: 'refused';
  readonly code: string;
  readonly reason: string;
}

/** A node's transfer counters (node/membership/transferSender.ts TransferStats). */
export interface StatsReply {
  readonly type: 'stats';
  readonly stats: Readonly<Record<string, unknown>>;
}

/** The partitions of a `holdings` question the node holds, and those of them the asker streamed to it. */
export interface PartitionsReply {
  readonly type: 'partitions';
  readonly partitions: readonly number[];
  readonly streamed: readonly number[];
}

/** Tree hashes (anti-entropy): a root, or the children of the asked parents, concatenated. */
export interface HashesReply {
  readonly type: 'hashes';
  readonly hashes: Uint8Array;
}

/** Keys with a byte string each (anti-entropy): their digests, or their objects. */
export interface KeyedBytesReply {
  readonly type: 'keyed-bytes';
  readonly keys: readonly Uint8Array[];
  readonly values: readonly Uint8Array[];
  /** For an `ae-keys` answer: how many of the asked segments (a prefix) the lists cover. */
  readonly covered?: number;
}

/** A listing page's answer: the keys of every partition asked, in the order asked. */
export interface KeyListsReply {
  readonly type: 'key-lists';
  /** Each partition's keys in byte order, the partitions' lists concatenated. */
  readonly keys: readonly Uint8Array[];
  /** How many of `keys` each partition answered. */
  readonly counts: readonly number[];
  /** Per partition, the key up to which it looked at every key; an empty byte string: to the end of the range. */
  readonly through: readonly Uint8Array[];
}

/** A partition-scan's answer: keys in strictly increasing order, each with its object (objectCodec bytes). */
export interface PartitionPageReply {
  readonly type: 'partition-page';
  readonly keys: readonly Uint8Array[];
  readonly objects: readonly Uint8Array[];
  /** Where the next page starts (at or past the last key); absent once the page reached the partition's end. */
  readonly resumeAfter?: Uint8Array;
}

export type Reply =
  | PongReply
  | KeyListsReply
  | AckReply
  | ObjectReply
  | ErrorReply
  | StateReply
  | PlanReply
  | RefusedReply
  | StatsReply
  | PartitionsReply
  | HashesReply
  | KeyedBytesReply
  | PartitionPageReply;

/** A message or reply that does not match the protocol; the text says what is wrong. */
export class BadMessageError extends RequestError {
  constructor(reason: string) {
    super('BAD_MESSAGE', `bad internode message: ${reason}`);
    this.name = 'BadMessageError';
  }
}

/** Longest node id / content type / context text accepted on the wire (characters). */
const ID_LENGTH_MAX = 64;
const CONTENT_TYPE_LENGTH_MAX = 255;
const CONTEXT_LENGTH_MAX = 8192;
const MESSAGE_LENGTH_MAX = 1024;
const PARTITION_MAX = 0xffff;
const QUORUM_MAX = 1024;
const TIMEOUT_MS_MAX = 3_600_000;
/** Objects per transfer batch at most. */
export const TRANSFER_BATCH_OBJECTS_MAX = 4096;
/** Keys one listing reply carries at most (partitions asked times keysMax). */
export const LIST_REPLY_KEYS_MAX = TRANSFER_BATCH_OBJECTS_MAX;
/** The most key and object bytes a partition-scan may ask for (well under a frame's limit). */
export const PARTITION_SCAN_BYTES_MAX = 8 * 1024 * 1024;
const VERSION_MAX = Number.MAX_SAFE_INTEGER;
/** Segments of an anti-entropy hash tree at most (the shape is checked against the node's own). */
const TREE_SEGMENTS_MAX = 1 << 20;

const FORWARD_OPS: readonly ForwardOp[] = ['get', 'put', 'delete'];
const REPLY_ERROR_CODES = ERROR_CODES;

// --- building ----------------------------------------------------------------------------

export const PING: PingMessage = { type: 'ping' };
export const PONG: PongReply = { type: 'pong' };
export const ACK: AckReply = { type: 'ack' };

export function replicaPut(
  partition: number,
  key: Uint8Array,
  object: Uint8Array,
  durable: boolean,
  hintFor: string | undefined,
  groupCommit = false,
): ReplicaPutMessage {
  const base = { type: 'replica-put', partition, key, object, durable, groupCommit } as const;
  return hintFor === undefined ? base : { ...base, hintFor };
}

export function objectReply(object: Uint8Array | undefined, nextCoordinator?: string): ObjectReply {
  const reply: ObjectReply = object === undefined ? { type: 'object' } : { type: 'object', object };
  return nextCoordinator === undefined ? reply : { ...reply, nextCoordinator };
}

export function errorReply(code: ReplyErrorCode, message: string, replicas?: ReplicaCounts): ErrorReply {
  const text = message.length > MESSAGE_LENGTH_MAX ? `${message.slice(0, MESSAGE_LENGTH_MAX)}…` : message;
  return replicas === undefined ? { type: 'error', code, message: text } : { type: 'error', code, message: text, replicas };
}

// --- on the wire ---------------------------------------------------------------------------

/**
 * The messages of every client request (replica-put, replica-get) and their replies (ack,
 * object) travel as arrays, `[tag, ...fields]`: no field names to encode and decode. The
 * rest travel as the objects above. parseMessage and parseReply take both forms.
 */
const WireTag = { replicaPut: 1, replicaGet: 2, ack: 3, object: 4 } as const;
const REPLICA_PUT_FIELDS = ['partition', 'key', 'object', 'durable', 'hintFor', 'groupCommit'] as const;
const REPLICA_GET_FIELDS = ['partition', 'key'] as const;
const OBJECT_FIELDS = ['object', 'nextCoordinator'] as const;
const ACK_ON_WIRE: readonly unknown[] = [WireTag.ack];

/** What the transport carries for a message or a reply. */
export function toWire(value: Message | Reply): unknown {
  switch (value.type) {
    case 'replica-put':
      return [WireTag.replicaPut, value.partition, value.key, value.object, value.durable, value.hintFor ?? null, value.groupCommit === true];
    case 'replica-get':
      return [WireTag.replicaGet, value.partition, value.key];
    case 'ack':
      return ACK_ON_WIRE;
    case 'object':
      return [WireTag.object, value.object ?? null, value.nextCoordinator ?? null];
    default:
      return value;
  }
}

/** An array form as the fields of its object form, for the same checks (its length exactly the fields'). */
function positional(raw: readonly unknown[], type: string, names: readonly string[]): Fields {
  if (raw.length !== names.length + 1) throw new BadMessageError(`${type} must have ${names.length} fields, got ${raw.length - 1}`);
  const fields: Record<string, unknown> = { type };
  for (let i = 0; i < names.length; i++) fields[names[i] as string] = raw[i + 1];
  return fields;
}

function messageFields(raw: unknown): Fields {
  if (!Array.isArray(raw)) return record(raw, 'message');
  switch (raw[0]) {
    case WireTag.replicaPut:
      return positional(raw, 'replica-put', REPLICA_PUT_FIELDS);
    case WireTag.replicaGet:
      return positional(raw, 'replica-get', REPLICA_GET_FIELDS);
    default:
      throw new BadMessageError(`unknown message tag ${describe(raw[0])}`);
  }
}

function replyFields(raw: unknown): Fields {
  if (!Array.isArray(raw)) return record(raw, 'reply');
  switch (raw[0]) {
    case WireTag.ack:
      return positional(raw, 'ack', []);
    case WireTag.object:
      return positional(raw, 'object', OBJECT_FIELDS);
    default:
      throw new BadMessageError(`unknown reply tag ${describe(raw[0])}`);
  }
}

// --- validating ----------------------------------------------------------------------------

type Fields = Readonly<Record<string, unknown>>;

/** The message, checked field by field; throws BadMessageError naming the first problem. */
export function parseMessage(raw: unknown): Message {
  const fields = messageFields(raw);
  const type = fields.type;
  switch (type) {
    case 'ping':
      return PING;
    case 'replica-put':
      return parseReplicaPut(fields);
    case 'replica-get':
      return { type, partition: partitionField(fields), key: bytesField(fields, 'key') };
    case 'forward':
      return parseForward(fields);
    case 'hint-delivery':
      return { type, partition: partitionField(fields), key: bytesField(fields, 'key'), object: bytesField(fields, 'object') };
    case 'gossip':
      return { type, state: record(fields.state, 'state') };
    case 'join':
      return parseJoin(fields);
    case 'transfer-batch':
      return parseTransferBatch(fields);
    case 'transfer-end':
      return { type, clusterId: stringField(fields, 'clusterId', ID_LENGTH_MAX), ringVersion: integerField(fields, 'ringVersion', 0, VERSION_MAX), partition: partitionField(fields) };
    case 'holdings':
      return { type, clusterId: stringField(fields, 'clusterId', ID_LENGTH_MAX), ringVersion: integerField(fields, 'ringVersion', 0, VERSION_MAX), partitions: integerList(fields, 'partitions', PARTITION_MAX) };
    case 'transfer-stats':
      return { type };
    case 'ae-root':
      return { type, partition: partitionField(fields), ...treeShapeFields(fields) };
    case 'ae-roots':
      return { type, partitions: integerList(fields, 'partitions', PARTITION_MAX), ...treeShapeFields(fields) };
    case 'ae-children':
      return { type, partition: partitionField(fields), depth: integerField(fields, 'depth', 1, 64), parents: integerList(fields, 'parents', TREE_SEGMENTS_MAX) };
    case 'ae-keys':
      return { type, partition: partitionField(fields), segments: integerList(fields, 'segments', TREE_SEGMENTS_MAX) };
    case 'ae-fetch':
    case 'ae-digests':
      return { type, partition: partitionField(fields), keys: bytesList(fields, 'keys') };
    case 'ae-push': {
      const batch = parseTransferBatch(fields);
      return { type, partition: batch.partition, keys: batch.keys, objects: batch.objects };
    }
    case 'ae-reap': {
      const keys = bytesList(fields, 'keys');
      const digests = bytesList(fields, 'digests');
      if (keys.length !== digests.length) throw new BadMessageError(`reap names ${keys.length} keys but ${digests.length} digests`);
      return { type, partition: partitionField(fields), keys, digests };
    }
    case 'list-keys':
      return parseListKeys(fields);
    case 'partition-scan':
      return parsePartitionScan(fields);
    default:
      throw new BadMessageError(`unknown message type ${describe(type)}`);
  }
}

/** A peer's reply, checked; throws BadMessageError. */
export function parseReply(raw: unknown): Reply {
  const fields = replyFields(raw);
  const type = fields.type;
  switch (type) {
    case 'pong':
      return PONG;
    case 'ack':
      return ACK;
    case 'object':
      return objectReply(optional(fields, 'object', bytesField), optional(fields, 'nextCoordinator', (f, name) => stringField(f, name, ID_LENGTH_MAX)));
    case 'error':
      return parseErrorReply(fields);
    case 'state':
      return { type, state: record(fields.state, 'state') };
    case 'plan':
      return { type, applied: booleanField(fields, 'applied'), plan: record(fields.plan, 'plan'), state: record(fields.state, 'state') };
    case 'refused':
      return { type, code: stringField(fields, 'code', ID_LENGTH_MAX), reason: stringField(fields, 'reason', MESSAGE_LENGTH_MAX * 4) };
    case 'stats':
      return { type, stats: record(fields.stats, 'stats') };
    case 'partitions':
      return { type, partitions: integerList(fields, 'partitions', PARTITION_MAX), streamed: integerList(fields, 'streamed', PARTITION_MAX) };
    case 'hashes':
      return { type, hashes: bytesField(fields, 'hashes') };
    case 'keyed-bytes': {
      const keys = bytesList(fields, 'keys');
      const values = bytesList(fields, 'values');
      if (keys.length !== values.length) throw new BadMessageError(`${keys.length} keys but ${values.length} values`);
      const covered = optional(fields, 'covered', (f, name) => integerField(f, name, 0, TREE_SEGMENTS_MAX));
      return covered === undefined ? { type, keys, values } : { type, keys, values, covered };
    }
    case 'key-lists':
      return parseKeyLists(fields);
    case 'partition-page':
      return parsePartitionPage(fields);
    default:
      throw new BadMessageError(`unknown reply type ${describe(type)}`);
  }
}

function parseJoin(fields: Fields): JoinMessage {
  const expectRingVersion = optional(fields, 'expectRingVersion', (f, name) => integerField(f, name, 0, VERSION_MAX));
  const message: JoinMessage = {
    type: 'join',
    clusterName: stringField(fields, 'clusterName', ID_LENGTH_MAX),
    id: stringField(fields, 'id', ID_LENGTH_MAX),
    host: stringField(fields, 'host', 255),
    port: integerField(fields, 'port', 1, 65535),
    dryRun: booleanField(fields, 'dryRun'),
  };
  return expectRingVersion === undefined ? message : { ...message, expectRingVersion };
}

function parsePartitionScan(fields: Fields): PartitionScanMessage {
  const afterKey = optional(fields, 'afterKey', bytesField);
  const message: PartitionScanMessage = {
    type: 'partition-scan',
    partition: partitionField(fields),
    objectsMax: integerField(fields, 'objectsMax', 1, TRANSFER_BATCH_OBJECTS_MAX),
    bytesMax: integerField(fields, 'bytesMax', 1, PARTITION_SCAN_BYTES_MAX),
  };
  return afterKey === undefined ? message : { ...message, afterKey };
}

/** A page's keys must come in strictly increasing order, and its end must not come before its last key. */
function parsePartitionPage(fields: Fields): PartitionPageReply {
  const keys = bytesList(fields, 'keys');
  const objects = bytesList(fields, 'objects');
  if (keys.length !== objects.length) throw new BadMessageError(`partition page has ${keys.length} keys but ${objects.length} objects`);
  for (let i = 1; i < keys.length; i++) {
    if (compareBytes(keys[i - 1] as Uint8Array, keys[i] as Uint8Array) >= 0) throw new BadMessageError(`partition page keys out of order at ${i}`);
  }
  const resumeAfter = optional(fields, 'resumeAfter', bytesField);
  const last = keys[keys.length - 1];
  if (resumeAfter !== undefined && last !== undefined && compareBytes(resumeAfter, last) < 0) throw new BadMessageError('partition page ends before its last key');
  return resumeAfter === undefined ? { type: 'partition-page', keys, objects } : { type: 'partition-page', keys, objects, resumeAfter };
}

function parseTransferBatch(fields: Fields): TransferBatchMessage {
  const keys = bytesList(fields, 'keys');
  const objects = bytesList(fields, 'objects');
  if (keys.length !== objects.length) throw new BadMessageError(`transfer batch has ${keys.length} keys but ${objects.length} objects`);
  return { type: 'transfer-batch', partition: partitionField(fields), keys, objects };
}

function parseListKeys(fields: Fields): ListKeysMessage {
  const partitions = integerList(fields, 'partitions', PARTITION_MAX);
  if (new Set(partitions).size !== partitions.length) throw new BadMessageError('a listing page names a partition twice');
  const keysMax = integerField(fields, 'keysMax', 1, LIST_REPLY_KEYS_MAX);
  if (partitions.length * keysMax > LIST_REPLY_KEYS_MAX) {
    throw new BadMessageError(`a listing page asks ${partitions.length} partitions for ${keysMax} keys each, over ${LIST_REPLY_KEYS_MAX} keys`);
  }
  const after = optional(fields, 'after', bytesField);
  const message: ListKeysMessage = { type: 'list-keys', partitions, prefix: bytesField(fields, 'prefix'), keysMax };
  return after === undefined ? message : { ...message, after };
}

function parseKeyLists(fields: Fields): KeyListsReply {
  const keys = bytesList(fields, 'keys');
  const counts = integerList(fields, 'counts', LIST_REPLY_KEYS_MAX);
  const through = bytesList(fields, 'through');
  if (counts.length !== through.length) throw new BadMessageError(`key lists have ${counts.length} counts but ${through.length} ends`);
  const counted = counts.reduce((sum, count) => sum + count, 0);
  if (counted !== keys.length) throw new BadMessageError(`key lists count ${counted} keys but carry ${keys.length}`);
  return { type: 'key-lists', keys, counts, through };
}

function integerList(fields: Fields, name: string, max: number): number[] {
  const value = fields[name];
  if (!Array.isArray(value) || value.length > TRANSFER_BATCH_OBJECTS_MAX) {
    throw new BadMessageError(`${name} must be an array of at most ${TRANSFER_BATCH_OBJECTS_MAX} integers, got ${describe(value)}`);
  }
  return value.map((item: unknown) => integerField({ [name]: item }, name, 0, max));
}

function bytesList(fields: Fields, name: string): Uint8Array[] {
  const value = fields[name];
  if (!Array.isArray(value) || value.length > TRANSFER_BATCH_OBJECTS_MAX) {
    throw new BadMessageError(`${name} must be an array of at most ${TRANSFER_BATCH_OBJECTS_MAX} byte strings, got ${describe(value)}`);
  }
  return value.map((item: unknown) => bytesField({ [name]: item }, name));
}

function parseReplicaPut(fields: Fields): ReplicaPutMessage {
  return replicaPut(
    partitionField(fields),
    bytesField(fields, 'key'),
    bytesField(fields, 'object'),
    booleanField(fields, 'durable'),
    optional(fields, 'hintFor', (f, name) => stringField(f, name, ID_LENGTH_MAX)),
    optional(fields, 'groupCommit', booleanField) === true,
  );
}

function parseForward(fields: Fields): ForwardMessage {
  const op = fields.op;
  if (!FORWARD_OPS.includes(op as ForwardOp)) throw new BadMessageError(`forward op must be get, put or delete, got ${describe(op)}`);
  const value = optional(fields, 'value', bytesField);
  const contentType = optional(fields, 'contentType', (f, name) => stringField(f, name, CONTENT_TYPE_LENGTH_MAX));
  if (op === 'put' && (value === undefined || contentType === undefined)) {
    throw new BadMessageError('a forwarded put needs value and contentType');
  }
  const context = optional(fields, 'context', (f, name) => stringField(f, name, CONTEXT_LENGTH_MAX));
  const supersedeSeen = optional(fields, 'supersedeSeen', booleanField);
  const writeId = optional(fields, 'writeId', (f, name) => stringField(f, name, WRITE_ID_LENGTH_MAX));
  const message: ForwardMessage = {
    type: 'forward',
    op: op as ForwardOp,
    key: bytesField(fields, 'key'),
    n: integerField(fields, 'n', 1, QUORUM_MAX),
    r: integerField(fields, 'r', 1, QUORUM_MAX),
    w: integerField(fields, 'w', 1, QUORUM_MAX),
    timeoutMs: integerField(fields, 'timeoutMs', 1, TIMEOUT_MS_MAX),
  };
  return {
    ...message,
    ...(value === undefined ? {} : { value }),
    ...(contentType === undefined ? {} : { contentType }),
    ...(context === undefined ? {} : { context }),
    ...(supersedeSeen === true ? { supersedeSeen } : {}),
    ...(writeId === undefined || op === 'get' ? {} : { writeId }),
  };
}

function parseErrorReply(fields: Fields): ErrorReply {
  const code = fields.code;
  if (typeof code !== 'string' || !REPLY_ERROR_CODES.has(code)) throw new BadMessageError(`unknown error code ${describe(code)}`);
  const message = stringField(fields, 'message', Number.MAX_SAFE_INTEGER);
  const replicas = optional(fields, 'replicas', (f, name) => replicaCountsField(f, name));
  return errorReply(code as ReplyErrorCode, message, replicas);
}

function replicaCountsField(fields: Fields, name: string): ReplicaCounts {
  const counts = record(fields[name], name);
  return {
    needed: integerField(counts, 'needed', 0, QUORUM_MAX),
    answered: integerField(counts, 'answered', 0, QUORUM_MAX),
    failed: integerField(counts, 'failed', 0, QUORUM_MAX),
    targets: integerField(counts, 'targets', 0, QUORUM_MAX),
  };
}

function record(raw: unknown, what: string): Fields {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) {
    throw new BadMessageError(`${what} must be an object, got ${describe(raw)}`);
  }
  return raw as Fields;
}

/** The field's value, or undefined when it is absent (undefined and null both count as absent). */
function optional<T>(fields: Fields, name: string, read: (fields: Fields, name: string) => T): T | undefined {
  const value = fields[name];
  return value === undefined || value === null ? undefined : read(fields, name);
}

function bytesField(fields: Fields, name: string): Uint8Array {
  const value = fields[name];
  if (!(value instanceof Uint8Array)) throw new BadMessageError(`${name} must be bytes, got ${describe(value)}`);
  return value;
}

function stringField(fields: Fields, name: string, lengthMax: number): string {
  const value = fields[name];
  if (typeof value !== 'string' || value.length === 0 || value.length > lengthMax) {
    throw new BadMessageError(`${name} must be a string of 1-${lengthMax} characters, got ${describe(value)}`);
  }
  return value;
}

function booleanField(fields: Fields, name: string): boolean {
  const value = fields[name];
  if (typeof value !== 'boolean') throw new BadMessageError(`${name} must be a boolean, got ${describe(value)}`);
  return value;
}

function integerField(fields: Fields, name: string, min: number, max: number): number {
  const value = fields[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new BadMessageError(`${name} must be an integer ${min}-${max}, got ${describe(value)}`);
  }
  return value;
}

/** An anti-entropy tree's shape as a peer states it; one that names no digest version computes version 1. */
function treeShapeFields(fields: Fields): { segments: number; branching: number; digestVersion: number } {
  return {
    segments: integerField(fields, 'segments', 1, TREE_SEGMENTS_MAX),
    branching: integerField(fields, 'branching', 2, TREE_SEGMENTS_MAX),
    digestVersion: fields.digestVersion === undefined ? 1 : integerField(fields, 'digestVersion', 1, 255),
  };
}

function partitionField(fields: Fields): number {
  return integerField(fields, 'partition', 0, PARTITION_MAX);
}

/** A short description of a bad value for messages (never the whole value). */
function describe(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : String(value);
}
