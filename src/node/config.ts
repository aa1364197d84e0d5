/**
 * A node's configuration: one zod schema, and the merge of its four sources.
 *
 * Sources, highest first: command-line flags (`--buffer-objects-max`), environment
 * (`SHOAL_BUFFER_OBJECTS_MAX`), a JSON config file (`--config FILE` / `SHOAL_CONFIG`,
 * camelCase keys), defaults. Every value is validated when the config is built, and a bad
 * one is reported with its field and the source it came from.
 *
 * This module is pure: the caller reads the environment and the file (see io/configFile.ts).
 */
import { CACHE_POLICIES } from '../core/cache/objectCache.ts';
import { KEY_BYTES_MAX } from '../storage/keys.ts';
import { z } from 'zod';
import { VECTOR_ENTRIES_MAX_DEFAULT, VECTOR_PRUNE_AGE_MS_DEFAULT } from '../core/clock.ts';
import { PARTITION_COUNT_DEFAULT, PARTITION_COUNT_MAX, validatePartitionCount } from '../core/hash.ts';
import type { ObjectLimits } from '../core/object.ts';
import {
  NAME_PATTERN,
  formatHostPort,
  parseClusterMembers,
  parseHostPort,
  parseHostPortList,
  type ClusterMember,
  type HostPort,
  type Parsed,
} from './hostPort.ts';

/** How a raw string from a flag or the environment is read before validation. */
type FieldKind = 'string' | 'integer' | 'boolean';

interface FieldSpec {
  readonly kind: FieldKind;
  readonly description: string;
}

/** Every config field, in the order `shoal start --help` lists them. */
export const CONFIG_FIELDS = {
  id: { kind: 'string', description: 'node id (letters, digits, _ and -)' },
  clusterName: { kind: 'string', description: 'cluster name; contexts from another cluster are refused' },
  listen: { kind: 'string', description: 'internode HOST:PORT' },
  http: { kind: 'string', description: 'HTTP API HOST:PORT' },
  resp: { kind: 'string', description: 'Redis protocol HOST:PORT (optional)' },
  respIdleTimeoutMs: { kind: 'integer', description: 'a Redis connection idle this long is closed (0 = never)' },
  data: { kind: 'string', description: 'data directory' },
  cluster: { kind: 'string', description: 'initial members ID@HOST:PORT,… (the same list on every node)' },
  seeds: { kind: 'string', description: 'HOST:PORT,… where a joining node finds the cluster' },
  engine: { kind: 'string', description: 'storage engine: lmdb or memory' },
  partitionCount: { kind: 'integer', description: 'partitions on the ring (a power of two)' },
  n: { kind: 'integer', description: 'replicas per key (N <= cluster members; a cluster of one uses 1)' },
  r: { kind: 'integer', description: 'replies a read waits for (R <= N)' },
  w: { kind: 'integer', description: 'acknowledgements a write waits for (W <= N)' },
  durableWrites: { kind: 'string', description: 'replicas asked to fsync before acknowledging: one, all or none' },
  bufferObjectsMax: { kind: 'integer', description: 'objects in the in-memory write buffer (0 = off)' },
  flushIntervalMs: { kind: 'integer', description: 'how often the buffer is flushed, ms' },
  groupCommitMs: { kind: 'integer', description: 'shortest gap between two flushes that durable writes ask for, so they share an fsync (group commit), ms' },
  writeWaitMsMax: { kind: 'integer', description: 'how long a write waits for room in a full buffer, ms' },
  cacheBytesMax: { kind: 'integer', description: 'bytes of clean objects kept in memory for reads (0 = no cache)' },
  cacheObjectsMax: { kind: 'integer', description: 'clean objects kept in memory for reads (0 = no cache)' },
  cachePolicy: { kind: 'string', description: 'which objects the cache keeps: tinylfu or lru' },
  valueBytesMax: { kind: 'integer', description: 'largest value, bytes' },
  keyBytesMax: { kind: 'integer', description: 'longest key, bytes (UTF-8)' },
  siblingsMax: { kind: 'integer', description: 'siblings per key; writes past it are refused (409)' },
  vectorEntriesMax: { kind: 'integer', description: 'version-vector entries kept per key (entries younger than vectorPruneAgeMs stay past it, up to 64)' },
  vectorPruneAgeMs: { kind: 'integer', description: 'age before a version-vector entry may be pruned past vectorEntriesMax, ms' },
  requestTimeoutMs: { kind: 'integer', description: 'internal request timeout, ms' },
  forwardTimeoutMs: { kind: 'integer', description: 'how long one forward to a key\'s primary may take before the next is tried, ms' },
  hedgeDelayMinMs: { kind: 'integer', description: 'shortest wait on a replica before a stand-in is also asked (hedged requests), ms' },
  hedgeDelayMaxMs: { kind: 'integer', description: 'longest wait on a replica before a stand-in is also asked, ms (also at most half the time left)' },
  readRepairLingerMs: { kind: 'integer', description: 'how long a read waits for late replies after answering (for read repair), ms' },
  requestsInFlightMax: { kind: 'integer', description: 'requests this node coordinates at once; more are refused (503)' },
  hintsMax: { kind: 'integer', description: 'hinted objects kept for down nodes; past it this node refuses to stand in' },
  hintDeliveryIntervalMs: { kind: 'integer', description: 'how often hints are handed back to their owners, ms' },
  probeIntervalMs: { kind: 'integer', description: 'how often a peer marked down is probed, ms' },
  gossipIntervalMs: { kind: 'integer', description: 'how often the cluster state is exchanged with a random member, ms' },
  transferBatchObjectsMax: { kind: 'integer', description: 'objects per partition-transfer batch' },
  transferBatchBytesMax: { kind: 'integer', description: 'bytes per partition-transfer batch (about)' },
  transferPauseMs: { kind: 'integer', description: 'pause between two batches of one partition transfer (the throttle), ms' },
  transferConcurrency: { kind: 'integer', description: 'partition transfers this node streams at once' },
  dropDelayMs: { kind: 'integer', description: 'how long after a change settles a former replica deletes its copies, ms (at least twice requestTimeoutMs)' },
  antiEntropyIntervalMs: { kind: 'integer', description: 'pause between two anti-entropy exchanges of partitions in sync, ms (0 = off)' },
  tombstoneGraceMs: { kind: 'integer', description: 'age before a tombstone every replica holds is reaped to a marker, ms' },
  markerRetentionMs: { kind: 'integer', description: 'age before a reaped marker every replica holds is removed, ms' },
  admissionControl: { kind: 'boolean', description: 'throttle background work when the foreground p99 rises' },
  admissionP99TargetMs: { kind: 'integer', description: 'foreground p99 above which background work is throttled, ms' },
  admissionWindowMs: { kind: 'integer', description: 'sliding window the foreground p99 is measured over, ms' },
  lastWriteWins: { kind: 'boolean', description: 'last write wins: LOSES concurrent writes' },
  logLevel: { kind: 'string', description: 'trace, debug, info, warn, error, fatal or silent' },
  tlsCa: { kind: 'string', description: "the cluster CA's certificate, PEM file (with tlsCert and tlsKey: mutual TLS between nodes, HTTPS, Redis over TLS)" },
  tlsCert: { kind: 'string', description: "this node's certificate, PEM file, signed by the cluster CA (shoal cert create-node)" },
  tlsKey: { kind: 'string', description: "this node's private key, PEM file" },
  respTls: { kind: 'string', description: 'Redis protocol over TLS HOST:PORT (optional; needs the tls files)' },
  usersFile: { kind: 'string', description: 'users, roles and password hashes (shoal user add); with it every client must authenticate' },
  insecure: { kind: 'boolean', description: 'serve beyond loopback without TLS and authentication: anyone who reaches a port can read and delete data' },
} as const satisfies Record<string, FieldSpec>;

export type ConfigField = keyof typeof CONFIG_FIELDS;
export const CONFIG_FIELD_NAMES = Object.keys(CONFIG_FIELDS) as ConfigField[];

/**
 * Hedge delays (coordinator/hedge.ts): a replica's expected reply time (its smoothed round
 * trip plus four deviations), never under 20 ms (a loopback or LAN round trip, queueing
 * included, is far below it: a hedge is for a peer that is really late) nor over 200 ms.
 */
export const HEDGE_DELAY_MS_MIN_DEFAULT = 20;
export const HEDGE_DELAY_MS_MAX_DEFAULT = 200;

/** Largest key we accept as a setting: what the storage engines can hold (LMDB's key limit). */
export const KEY_BYTES_MAX_LIMIT = KEY_BYTES_MAX;
/** Largest value we accept as a setting (values travel whole in one HTTP body and one frame). */
export const VALUE_BYTES_MAX_LIMIT = 64 * 1024 * 1024;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const DURABLE_WRITES = ['one', 'all', 'none'] as const;
export const ENGINES = ['lmdb', 'memory'] as const;

function integer(min: number, max = Number.MAX_SAFE_INTEGER): z.ZodNumber {
  const message = max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}` : `must be an integer ${min}-${max}`;
  return z.number({ invalid_type_error: message }).int(message).min(min, message).max(max, message);
}

function oneOf<T extends readonly [string, ...string[]]>(values: T): z.ZodEnum<[T[number], ...T[number][]]> {
  const message = `must be one of ${values.join(', ')}`;
  return z.enum(values as unknown as [T[number], ...T[number][]], { errorMap: () => ({ message }) });
}

function name(): z.ZodString {
  const message = `must be 1-64 letters, digits, _ or -`;
  return z.string({ invalid_type_error: message }).regex(NAME_PATTERN, message);
}

/** A string parsed by `parse`; a failure becomes a zod issue with the parser's reason. */
function parsedString<T>(parse: (text: string) => Parsed<T>, expected: string): z.ZodType<T, z.ZodTypeDef, unknown> {
  return z.string({ invalid_type_error: `must be ${expected}` }).transform((text, ctx) => {
    const parsed = parse(text);
    if (parsed.ok) return parsed.value;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be ${expected} (${parsed.reason})` });
    return z.NEVER;
  });
}

/** A list given as a comma-separated string, or as an array of strings in the config file. */
function listString<T>(parse: (text: string) => Parsed<T>, expected: string): z.ZodType<T, z.ZodTypeDef, unknown> {
  return z.preprocess(
    (raw) => (Array.isArray(raw) && raw.every((item) => typeof item === 'string') ? raw.join(',') : raw),
    parsedString(parse, expected),
  );
}

function isValidPartitionCount(value: number): boolean {
  try {
    validatePartitionCount(value);
    return true;
  } catch {
    return false;
  }
}

const filePath = (): z.ZodString => z.string({ invalid_type_error: 'must be a file path' }).min(1, 'must be a file path');

const hostPort = (): z.ZodType<HostPort, z.ZodTypeDef, unknown> => parsedString(parseHostPort, 'HOST:PORT');
const booleanMessage = 'must be true or false';

/** The one schema of a node's config (camelCase keys, defaults applied). */
export const nodeConfigSchema = z
  .object({
    id: name().default('node1'),
    clusterName: name().default('shoal'),
    listen: hostPort().default('127.0.0.1:7070'),
    http: hostPort().default('127.0.0.1:8080'),
    resp: hostPort().optional(),
    respIdleTimeoutMs: integer(0, 7 * 24 * 3_600_000).default(300_000),
    data: z.string({ invalid_type_error: 'must be a directory path' }).min(1, 'must be a directory path').default('./data'),
    cluster: listString<ClusterMember[]>(parseClusterMembers, 'ID@HOST:PORT,…').optional(),
    seeds: listString<HostPort[]>(parseHostPortList, 'HOST:PORT,…').optional(),
    engine: oneOf(ENGINES).default('lmdb'),
    partitionCount: integer(1, PARTITION_COUNT_MAX)
      .refine(isValidPartitionCount, `must be a power of two 1-${PARTITION_COUNT_MAX}`)
      .default(PARTITION_COUNT_DEFAULT),
    n: integer(1).default(3),
    r: integer(1).default(2),
    w: integer(1).default(2),
    durableWrites: oneOf(DURABLE_WRITES).default('one'),
    bufferObjectsMax: integer(0).default(1000),
    flushIntervalMs: integer(1).default(100),
    groupCommitMs: integer(0).default(50),
    writeWaitMsMax: integer(0).default(1000),
    cacheBytesMax: integer(0).default(64 * 1024 * 1024),
    cacheObjectsMax: integer(0).default(50_000),
    cachePolicy: oneOf(CACHE_POLICIES).default('tinylfu'),
    valueBytesMax: integer(1, VALUE_BYTES_MAX_LIMIT).default(1024 * 1024),
    keyBytesMax: integer(1, KEY_BYTES_MAX_LIMIT).default(1024),
    siblingsMax: integer(1).default(100),
    vectorEntriesMax: integer(1).default(VECTOR_ENTRIES_MAX_DEFAULT),
    vectorPruneAgeMs: integer(0).default(VECTOR_PRUNE_AGE_MS_DEFAULT),
    requestTimeoutMs: integer(1).default(2000),
    forwardTimeoutMs: integer(1).default(1000),
    hedgeDelayMinMs: integer(1).default(HEDGE_DELAY_MS_MIN_DEFAULT),
    hedgeDelayMaxMs: integer(1).default(HEDGE_DELAY_MS_MAX_DEFAULT),
    readRepairLingerMs: integer(0).default(200),
    requestsInFlightMax: integer(1).default(10_000),
    hintsMax: integer(0).default(100_000),
    hintDeliveryIntervalMs: integer(1).default(1000),
    probeIntervalMs: integer(1).default(1000),
    gossipIntervalMs: integer(1).default(1000),
    transferBatchObjectsMax: integer(1, 4096).default(512),
    transferBatchBytesMax: integer(1024, 8 * 1024 * 1024).default(1024 * 1024),
    transferPauseMs: integer(0).default(0),
    transferConcurrency: integer(1, 64).default(2),
    dropDelayMs: integer(0).default(5000),
    antiEntropyIntervalMs: integer(0).default(1000),
    tombstoneGraceMs: integer(0).default(3_600_000),
    markerRetentionMs: integer(0).default(10 * 86_400_000),
    admissionControl: z.boolean({ invalid_type_error: booleanMessage }).default(true),
    admissionP99TargetMs: integer(1).default(50),
    admissionWindowMs: integer(1000, 3_600_000).default(60_000),
    lastWriteWins: z.boolean({ invalid_type_error: booleanMessage }).default(false),
    logLevel: oneOf(LOG_LEVELS).default('info'),
    tlsCa: filePath().optional(),
    tlsCert: filePath().optional(),
    tlsKey: filePath().optional(),
    respTls: hostPort().optional(),
    usersFile: filePath().optional(),
    insecure: z.boolean({ invalid_type_error: booleanMessage }).default(false),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.r > config.n) ctx.addIssue({ code: 'custom', path: ['r'], message: `must be <= n (${config.n})` });
    if (config.w > config.n) ctx.addIssue({ code: 'custom', path: ['w'], message: `must be <= n (${config.n})` });
    if (config.cluster !== undefined && !config.cluster.some((member) => member.id === config.id)) {
      ctx.addIssue({ code: 'custom', path: ['cluster'], message: `must list this node's id "${config.id}"` });
    }
    const members = config.cluster?.length ?? 1;
    // A cluster of one runs with N = R = W = 1 (see cluster.ts), so `shoal start` alone
    // works with the defaults; a real cluster must be able to hold N distinct replicas.
    if (members > 1 && config.n > members) {
      ctx.addIssue({ code: 'custom', path: ['n'], message: `must be <= the number of cluster members (${members})` });
    }
    if (config.hedgeDelayMaxMs < config.hedgeDelayMinMs) {
      ctx.addIssue({ code: 'custom', path: ['hedgeDelayMaxMs'], message: `must be >= hedgeDelayMinMs (${config.hedgeDelayMinMs})` });
    }
    if (config.markerRetentionMs < config.tombstoneGraceMs) {
      ctx.addIssue({ code: 'custom', path: ['markerRetentionMs'], message: `must be >= tombstoneGraceMs (${config.tombstoneGraceMs})` });
    }
    checkSecurity(config, ctx);
    if (config.partitionCount < members) {
      ctx.addIssue({ code: 'custom', path: ['partitionCount'], message: `must be >= the number of cluster members (${members})` });
    }
  });

/** Whether clients and peers are served over TLS (every tls file given). */
export function tlsConfigured(config: { readonly tlsCa?: string; readonly tlsCert?: string; readonly tlsKey?: string }): boolean {
  return config.tlsCa !== undefined && config.tlsCert !== undefined && config.tlsKey !== undefined;
}

/** Literal loopback addresses (a name other than localhost is not trusted to stay loopback). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The TLS files come all three or not at all; and a node reachable beyond loopback serves
 * only with TLS and authentication, unless `insecure` says otherwise on purpose.
 */
interface SecuritySettings {
  readonly listen: HostPort;
  readonly http: HostPort;
  readonly resp?: HostPort;
  readonly respTls?: HostPort;
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly usersFile?: string;
  readonly insecure: boolean;
}

function checkSecurity(config: SecuritySettings, ctx: z.RefinementCtx): void {
  const tlsFiles = [config.tlsCa, config.tlsCert, config.tlsKey].filter((file) => file !== undefined).length;
  if (tlsFiles !== 0 && tlsFiles !== 3) ctx.addIssue({ code: 'custom', path: [config.tlsCa === undefined ? 'tlsCa' : config.tlsCert === undefined ? 'tlsCert' : 'tlsKey'], message: 'must be given with the other tls files (tlsCa, tlsCert and tlsKey)' });
  if (config.respTls !== undefined && tlsFiles !== 3) ctx.addIssue({ code: 'custom', path: ['respTls'], message: 'needs tlsCa, tlsCert and tlsKey' });
  if (config.insecure) return;
  const exposed = exposedUnprotected(config);
  if (exposed === undefined) return;
  const missing = tlsFiles === 3 ? 'usersFile' : 'tlsCa, tlsCert and tlsKey';
  ctx.addIssue({
    code: 'custom',
    path: ['insecure'],
    message: `is required to serve ${formatHostPort(exposed)} beyond loopback without ${tlsFiles === 3 ? 'client authentication' : 'TLS'}: give ${missing} (see shoal cert and shoal user), or --insecure to serve anyone who reaches the port`,
  });
}

/** An address bound beyond loopback while TLS or authentication is missing, if any. */
function exposedUnprotected(config: SecuritySettings): HostPort | undefined {
  if (tlsConfigured(config) && config.usersFile !== undefined) return undefined;
  const addresses = [config.listen, config.http, config.resp, config.respTls].filter((address) => address !== undefined);
  return addresses.find((address) => !isLoopbackHost(address.host));
}

/** How a node is protected, for `/admin/status`, with the warning an `--insecure` node logs and shows. */
export interface SecurityStatus {
  readonly tls: boolean;
  readonly authentication: boolean;
  readonly warning: string | null;
}

export function securityStatus(config: SecuritySettings): SecurityStatus {
  const exposed = config.insecure ? exposedUnprotected(config) : undefined;
  const warning =
    exposed === undefined
      ? null
      : `INSECURE (--insecure): ${formatHostPort(exposed)} is reachable beyond loopback without ${tlsConfigured(config) ? 'client authentication' : 'TLS and authentication'}; anyone who reaches it can read, write and delete data and change the membership`;
  return { tls: tlsConfigured(config), authentication: config.usersFile !== undefined, warning };
}

export type NodeConfig = Readonly<
  z.output<typeof nodeConfigSchema> & {
    /**
     * Whether `listen` came from a flag, the environment or the config file rather than the
     * default (set by resolveNodeConfig): a node given an internode address on purpose
     * listens on it even without other members (io/runtime.ts).
     */
    listenGiven?: boolean;
  }
>;

/** A bad config: the message names the field, its source and the value. Exit code 2. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The raw inputs of every source. Flags are keyed by field name (commander camelCases them). */
export interface ConfigSources {
  readonly flags?: Readonly<Partial<Record<string, unknown>>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The parsed JSON config file and its path (for messages). */
  readonly file?: { readonly path: string; readonly contents: unknown };
}

/** The limits a write's putObject runs under. */
export function objectLimitsOf(config: NodeConfig): ObjectLimits {
  return { siblingsMax: config.siblingsMax, vectorEntriesMax: config.vectorEntriesMax, vectorPruneAgeMs: config.vectorPruneAgeMs };
}

export function flagName(field: ConfigField): string {
  return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export function envName(field: ConfigField): string {
  return `SHOAL_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** The environment variable that names the config file (the `--config` flag wins over it). */
export const CONFIG_FILE_ENV = 'SHOAL_CONFIG';

interface RawValue {
  readonly value: unknown;
  readonly source: string;
  /** The value as the source gave it, for messages. */
  readonly given: unknown;
}

/** Merges the sources (flags > env > file > defaults) and validates. Throws ConfigError. */
export function resolveNodeConfig(sources: ConfigSources): NodeConfig {
  const fileObject = fileFields(sources.file);
  const raw: Record<string, unknown> = {};
  const origin = new Map<string, RawValue>();
  for (const field of CONFIG_FIELD_NAMES) {
    const picked = pickRaw(field, sources, fileObject);
    if (picked === undefined) continue;
    raw[field] = picked.value;
    origin.set(field, picked);
  }
  if (fileObject !== undefined && sources.file !== undefined) {
    for (const key of Object.keys(fileObject)) {
      if (!(key in CONFIG_FIELDS)) throw new ConfigError(`invalid config: unknown field "${key}" (from config file ${sources.file.path})`);
    }
  }
  const result = nodeConfigSchema.safeParse(raw);
  if (result.success) return { ...result.data, listenGiven: origin.has('listen') };
  throw new ConfigError(describeIssue(result.error.issues[0], origin));
}

/** Validates a config given as one object (tests, embedding). Throws ConfigError. */
export function nodeConfigFrom(values: Readonly<Record<string, unknown>>): NodeConfig {
  return resolveNodeConfig({ file: { path: '(object)', contents: values } });
}

function fileFields(file: ConfigSources['file']): Record<string, unknown> | undefined {
  if (file === undefined) return undefined;
  const contents = file.contents;
  if (typeof contents !== 'object' || contents === null || Array.isArray(contents)) {
    throw new ConfigError(`invalid config: config file ${file.path} must hold a JSON object`);
  }
  return contents as Record<string, unknown>;
}

function pickRaw(field: ConfigField, sources: ConfigSources, fileObject: Record<string, unknown> | undefined): RawValue | undefined {
  const kind = CONFIG_FIELDS[field].kind;
  const flag = sources.flags?.[field];
  if (flag !== undefined) {
    return { value: typeof flag === 'string' ? fromText(flag, kind) : flag, source: flagName(field), given: flag };
  }
  const env = sources.env?.[envName(field)];
  if (env !== undefined) return { value: fromText(env, kind), source: envName(field), given: env };
  const fromFile = fileObject?.[field];
  if (fromFile !== undefined) return { value: fromFile, source: `config file ${sources.file?.path ?? ''}`, given: fromFile };
  return undefined;
}

/** Reads a flag or environment string as its field's type; an unreadable one stays a string (and fails validation). */
function fromText(text: string, kind: FieldKind): unknown {
  if (kind === 'integer') return /^-?[0-9]+$/.test(text) ? Number(text) : text;
  if (kind === 'boolean') {
    if (text === 'true' || text === '1') return true;
    if (text === 'false' || text === '0') return false;
    return text;
  }
  return text;
}

function describeIssue(issue: z.ZodIssue | undefined, origin: ReadonlyMap<string, RawValue>): string {
  if (issue === undefined) return 'invalid config';
  if (issue.code === 'unrecognized_keys') return `invalid config: unknown field(s) ${issue.keys.join(', ')}`;
  const field = String(issue.path[0] ?? '');
  const picked = origin.get(field);
  const source = picked === undefined ? 'default' : picked.source;
  const got = picked === undefined ? '' : `, got ${JSON.stringify(picked.given)}`;
  const message = issue.code === 'invalid_type' && picked === undefined ? 'is required' : issue.message;
  return `invalid config: ${field} (from ${source}) ${message}${got}`;
}

/** The config as JSON for `GET /admin/status`: addresses written back as HOST:PORT strings. */
export type ConfigSummary = Readonly<Record<string, string | number | boolean | readonly string[] | null>>;

export function configSummary(config: NodeConfig): ConfigSummary {
  const { listenGiven: _listenGiven, ...settings } = config;
  return {
    ...settings,
    listen: formatHostPort(config.listen),
    http: formatHostPort(config.http),
    resp: config.resp === undefined ? null : formatHostPort(config.resp),
    respTls: config.respTls === undefined ? null : formatHostPort(config.respTls),
    cluster: config.cluster === undefined ? null : config.cluster.map((m) => `${m.id}@${formatHostPort(m.address)}`),
    seeds: config.seeds === undefined ? null : config.seeds.map(formatHostPort),
  };
}
