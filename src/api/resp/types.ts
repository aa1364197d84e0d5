/**
 * What the command layer of the Redis front end works with: a small slice of the node
 * (so commands are testable without sockets or a cluster), the connection it answers on,
 * and the command table's entries.
 */
import type { Authenticator } from '../auth/authenticator.ts';
import type { RefusalLog } from '../../io/refusalLog.ts';
import type { Role } from '../auth/roles.ts';
import type { ListInput, NodeStatus, PutInput, ReadResult, WriteResult } from '../../node/shoalNode.ts';
import type { ListingPage } from '../../core/listing.ts';
import type { RespLimits } from './parser.ts';
import type { ReplyWriter } from './reply.ts';
import type { RespStats } from './stats.ts';

/** The node as the Redis front end uses it (a ShoalNode is one). */
export interface RespNode {
  get(key: Uint8Array): Promise<ReadResult>;
  put(key: Uint8Array, input: PutInput): Promise<WriteResult>;
  delete(key: Uint8Array, context: string | undefined, options: { readonly supersedeSeen: boolean }): Promise<WriteResult>;
  list(input: ListInput): Promise<ListingPage>;
  status(): RespNodeStatus;
}

export type RespNodeStatus = Pick<NodeStatus, 'nodeId' | 'clusterName' | 'state' | 'actor' | 'uptimeMs' | 'cache'> & {
  readonly cluster: Pick<NodeStatus['cluster'], 'members' | 'memberStatus' | 'ringVersion' | 'n' | 'r' | 'w'>;
};

/** Who a connection authenticated as (AUTH, HELLO … AUTH). */
export interface SessionUser {
  readonly name: string;
  readonly role: Role;
}

/** The connection a command runs on. */
export interface RespSession {
  readonly id: number;
  /** The client's address, for logs. */
  readonly remoteAddress: string | undefined;
  /** CLIENT SETNAME's name. */
  name: string | undefined;
  /** Undefined until AUTH succeeds (with users configured, only `no-auth` commands run until then). */
  user: SessionUser | undefined;
  /** Close the connection once this command's reply is written (QUIT); later commands are dropped. */
  closeAfterReply(): void;
}

/** The limits of the front end: the parser's, and the connections it serves at once. */
export interface RespServerLimits extends RespLimits {
  readonly connectionsMax: number;
  /** A connection with nothing to answer is closed after this long without a byte either way (0: never, as Redis's `timeout 0`). */
  readonly idleMsMax: number;
  /** Commands read but not yet answered on one connection past which it stops reading. */
  readonly pipelineCommandsMax: number;
  /** Their argument bytes, summed, past which it stops reading. */
  readonly pipelineBytesMax: number;
}

/** What command handlers are built with. */
export interface CommandContext {
  readonly node: RespNode;
  readonly stats: RespStats;
  readonly limits: RespServerLimits;
  /** The port the server is bound to (for INFO). */
  readonly tcpPort: () => number;
  /** The node's users: with it a connection must AUTH before anything but `no-auth` commands. */
  readonly auth?: Authenticator;
  /** Where refused AUTHs and commands are logged (rate-limited). */
  readonly refusals?: RefusalLog;
}

/** Runs one command: writes exactly one reply, or throws (rejects) a CommandError or a node error. */
export type CommandHandler = (args: readonly Buffer[], reply: ReplyWriter, session: RespSession) => Promise<void> | void;

export interface CommandSpec {
  /** Lower-case, as Redis lists it. */
  readonly name: string;
  /** Redis's convention, the name included: n exactly n arguments, -n at least n. */
  readonly arity: number;
  /** The most arguments, the name included, where the command has a bound that arity cannot say. */
  readonly argsMax?: number;
  /** Redis's flags; `no-auth`: runs before AUTH (AUTH, HELLO, QUIT). */
  readonly flags: readonly string[];
  /** The role a user needs to run it (with users configured). */
  readonly role: Role;
  /** The key positions for COMMAND: first, last (-1: the last argument), step; 0 0 0 when none. */
  readonly keys: readonly [number, number, number];
  readonly categories: readonly string[];
  readonly run: CommandHandler;
}

/** An error reply a command chose (its code is the first word). */
export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }

  get text(): string {
    return `${this.code} ${this.message}`;
  }
}

/** The argument at `index`, which the arity check guarantees. */
export function argAt(args: readonly Buffer[], index: number): Buffer {
  const value = args[index];
  if (value === undefined) throw new Error(`invariant: argument ${index} missing after the arity check`);
  return value;
}
