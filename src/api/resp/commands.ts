/**
 * The command table of the Redis front end and its dispatcher: finds a command by name
 * (any case), checks its arity, runs it, and turns whatever it throws into one error reply.
 * No sockets here: a connection hands it arguments and a ReplyWriter.
 *
 * With users configured (context.auth), a connection not authenticated yet may run only
 * the table's `no-auth` commands (AUTH, HELLO, QUIT): anything else, unknown names
 * included, is NOAUTH. An authenticated one runs what its role allows (each entry names the
 * role it needs), anything else is NOPERM. AUTH cannot be pipelined past: a connection runs
 * its commands one after the other, each after the previous one's reply.
 *
 * A command named `POST` or `Host:` is an HTTP request, which a web page can send to a
 * loopback port (cross-protocol scripting): the connection is closed before anything after
 * it runs, as Redis does, with or without users.
 */
import { roleAllows } from '../auth/roles.ts';
import type { Logger } from '../../ports/logger.ts';
import { respErrorOf } from './errors.ts';
import { kvCommands } from './kvCommands.ts';
import type { ReplyWriter } from './reply.ts';
import { serverCommands } from './serverCommands.ts';
import type { CommandCounter } from './stats.ts';
import { CommandError, type CommandContext, type CommandSpec, type RespSession } from './types.ts';

/** Longer names are no command: they are not even turned into a string. */
const COMMAND_NAME_BYTES_MAX = 32;
/** How much of an unknown command and its arguments the error repeats (as Redis). */
const ECHOED_CHARS_MAX = 128;

interface TableEntry {
  readonly spec: CommandSpec;
  readonly counter: CommandCounter;
  /** Runs before AUTH. */
  readonly noAuth: boolean;
}

const NOAUTH = 'NOAUTH Authentication required.';
/** The first words of an HTTP request, as a RESP inline command reads them. */
const HTTP_REQUEST_WORDS: ReadonlySet<string> = new Set(['post', 'host:']);

export class RespCommands {
  readonly specs: readonly CommandSpec[];
  private readonly byName = new Map<string, TableEntry>();

  constructor(
    private readonly context: CommandContext,
    private readonly logger: Logger,
  ) {
    const specs: CommandSpec[] = [];
    specs.push(...kvCommands(context), ...serverCommands(context, () => this.specs));
    this.specs = specs;
    for (const spec of specs) {
      const entry = { spec, counter: context.stats.counter(spec.name), noAuth: spec.flags.includes('no-auth') };
      this.byName.set(spec.name, entry);
      this.byName.set(spec.name.toUpperCase(), entry);
    }
  }

  /**
   * Runs one command, writing its one reply into `reply`: now (undefined returned) or
   * when the returned promise settles (it never rejects).
   */
  execute(args: readonly Buffer[], reply: ReplyWriter, session: RespSession): Promise<void> | undefined {
    const entry = this.lookup(args[0]);
    if (entry === undefined && isHttpRequest(args[0])) {
      this.refuseHttp(reply, session);
      return undefined;
    }
    if (this.context.auth !== undefined) {
      const refusal = this.refusal(entry, session);
      if (refusal !== undefined) {
        this.writeError(reply, refusal);
        return undefined;
      }
    }
    if (entry === undefined) {
      this.context.stats.unknownCommands += 1;
      this.writeError(reply, unknownCommandText(args));
      return undefined;
    }
    const { spec } = entry;
    entry.counter.calls += 1;
    if (!arityFits(spec, args.length)) {
      this.writeError(reply, `ERR wrong number of arguments for '${spec.name}' command`);
      return undefined;
    }
    let pending: Promise<void> | void;
    try {
      pending = spec.run(args, reply, session);
    } catch (error) {
      this.fail(reply, error, spec.name);
      return undefined;
    }
    if (pending === undefined) return undefined;
    return pending.then(undefined, (error: unknown) => this.fail(reply, error, spec.name));
  }

  /** Closes the connection: nothing the request carries (its body may hold commands) runs. */
  private refuseHttp(reply: ReplyWriter, session: RespSession): void {
    this.context.refusals?.note('HTTP_REQUEST', { from: session.remoteAddress, connection: session.id }, 'refused an HTTP request on the redis port (cross-protocol scripting?); connection closed');
    this.writeError(reply, 'ERR an HTTP request is not a Redis command; closing the connection');
    session.closeAfterReply();
  }

  /** NOAUTH or NOPERM, when the session may not run the command; undefined when it may. */
  private refusal(entry: TableEntry | undefined, session: RespSession): string | undefined {
    const { user } = session;
    if (user === undefined) {
      if (entry?.noAuth === true) return undefined;
      this.context.refusals?.note('NOAUTH', { from: session.remoteAddress, connection: session.id, command: entry?.spec.name }, 'refused redis command: not authenticated');
      return NOAUTH;
    }
    if (entry === undefined || roleAllows(user.role, entry.spec.role)) return undefined;
    this.context.refusals?.note('NOPERM', { from: session.remoteAddress, user: user.name, role: user.role, command: entry.spec.name }, 'refused redis command: role too low');
    return `NOPERM this user has no permissions to run the '${entry.spec.name}' command`;
  }

  private lookup(name: Buffer | undefined): TableEntry | undefined {
    if (name === undefined || name.length > COMMAND_NAME_BYTES_MAX) return undefined;
    const text = name.toString('latin1');
    return this.byName.get(text) ?? this.byName.get(text.toLowerCase());
  }

  private fail(reply: ReplyWriter, error: unknown, command: string): void {
    if (error instanceof CommandError) {
      this.writeError(reply, error.text);
      return;
    }
    const mapped = respErrorOf(error);
    if (mapped.unexpected) this.logger.error({ err: error, command }, 'redis command failed');
    this.writeError(reply, mapped.text);
  }

  private writeError(reply: ReplyWriter, text: string): void {
    const space = text.indexOf(' ');
    this.context.stats.countError(space === -1 ? text : text.slice(0, space));
    reply.error(text);
  }
}

function isHttpRequest(name: Buffer | undefined): boolean {
  return name !== undefined && (name.length === 4 || name.length === 5) && HTTP_REQUEST_WORDS.has(name.toString('latin1').toLowerCase());
}

function arityFits(spec: CommandSpec, count: number): boolean {
  if (spec.arity >= 0 ? count !== spec.arity : count < -spec.arity) return false;
  return spec.argsMax === undefined || count <= spec.argsMax;
}

/** Redis's text: `ERR unknown command 'x', with args beginning with: 'a' 'b' `. */
function unknownCommandText(args: readonly Buffer[]): string {
  const name = (args[0] ?? Buffer.alloc(0)).toString('utf8', 0, ECHOED_CHARS_MAX);
  let echoed = '';
  for (let index = 1; index < args.length && echoed.length < ECHOED_CHARS_MAX; index++) {
    echoed += `'${(args[index] as Buffer).toString('utf8', 0, ECHOED_CHARS_MAX - echoed.length)}' `;
  }
  return `ERR unknown command '${name}', with args beginning with: ${echoed}`;
}
