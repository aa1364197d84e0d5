/**
 * The connection and server commands of the Redis front end: what redis-cli,
 * redis-benchmark and client libraries send around the data commands (PING, HELLO, CLIENT,
 * SELECT, CONFIG GET, COMMAND, INFO, QUIT…). Answers are Redis 7's where a tool reads them,
 * and a clear error where Shoal has no equivalent.
 *
 * With users configured (context.auth), AUTH [user] password and HELLO 2 AUTH user password
 * [SETNAME name] authenticate the connection (a one-argument AUTH is user `default`, which
 * exists only if the users file names one); a wrong pair is WRONGPASS and changes nothing.
 */
import { AuthenticatorBusyError } from '../auth/authenticator.ts';
import type { Role } from '../auth/roles.ts';
import { infoSections, infoText, REDIS_VERSION_CLAIMED } from './info.ts';
import type { ReplyWriter } from './reply.ts';
import { argAt as at, CommandError, type CommandContext, type CommandSpec, type RespSession } from './types.ts';

const NO_KEYS = [0, 0, 0] as const;
const PROTOCOL_VERSION = 2;
/** The user a one-argument AUTH names (Redis's). */
const DEFAULT_USER = 'default';
const WRONGPASS = 'invalid username-password pair or user is disabled.';
/** Printable ASCII without spaces, as Redis allows in client names. */
const CLIENT_NAME_PATTERN = /^[!-~]*$/;

/** The command table, for COMMAND's replies (the server commands are part of it). */
export type CommandTable = () => readonly CommandSpec[];

export function serverCommands(context: CommandContext, table: CommandTable): CommandSpec[] {
  return [
    { ...spec('ping', 'read', -1, ['fast'], ['@connection', '@fast'], (args, reply) => (args.length > 1 ? reply.bulk(at(args, 1)) : reply.simple('PONG'))), argsMax: 2 },
    spec('echo', 'read', 2, ['fast'], ['@connection', '@fast'], (args, reply) => reply.bulk(at(args, 1))),
    spec('quit', 'read', -1, ['fast', 'no-auth'], ['@connection', '@fast'], (_args, reply, session) => {
      reply.ok();
      session.closeAfterReply();
    }),
    spec('select', 'read', 2, ['fast'], ['@keyspace', '@fast'], (args, reply) => {
      const index = integerArg(at(args, 1));
      if (index !== 0) throw new CommandError('ERR', 'DB index is out of range');
      reply.ok();
    }),
    spec('auth', 'read', -2, ['fast', 'no-auth'], ['@connection', '@fast'], (args, reply, session) => auth(args, reply, session, context)),
    spec('hello', 'read', -1, ['fast', 'no-auth'], ['@connection', '@fast'], (args, reply, session) => hello(args, reply, session, context)),
    spec('client', 'read', -2, [], ['@connection', '@slow'], (args, reply, session) => client(args, reply, session)),
    spec('config', 'admin', -2, [], ['@admin', '@slow'], (args, reply) => config(args, reply, context)),
    spec('command', 'read', -1, [], ['@connection', '@slow'], (args, reply) => command(args, reply, table())),
    spec('info', 'read', -1, [], ['@dangerous', '@slow'], (args, reply) => {
      reply.bulkString(infoText(infoSections(args.slice(1).map((name) => name.toString('latin1'))), context));
    }),
  ];
}

/** AUTH password (user `default`) or AUTH user password. */
function auth(args: readonly Buffer[], reply: ReplyWriter, session: RespSession, context: CommandContext): Promise<void> {
  if (context.auth === undefined) {
    throw new CommandError('ERR', 'AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
  }
  if (args.length > 3) throw new CommandError('ERR', 'syntax error');
  const name = args.length === 3 ? at(args, 1).toString('utf8') : DEFAULT_USER;
  return authenticate(context, session, name, at(args, args.length - 1).toString('utf8')).then(() => reply.ok());
}

/**
 * Checks the pair and, when it is right, makes the connection that user's. A wrong pair
 * is WRONGPASS and leaves the connection as it was (authenticated or not), as in Redis.
 */
async function authenticate(context: CommandContext, session: RespSession, name: string, password: string): Promise<void> {
  const authenticator = context.auth;
  if (authenticator === undefined) return;
  let role: Role | undefined;
  try {
    role = await authenticator.authenticate(name, password);
  } catch (error) {
    if (error instanceof AuthenticatorBusyError) throw new CommandError('BUSY', error.message);
    throw error;
  }
  if (role === undefined) {
    context.refusals?.note('WRONGPASS', { from: session.remoteAddress, user: name.slice(0, 64), connection: session.id }, 'refused redis AUTH: wrong user name or password');
    throw new CommandError('WRONGPASS', WRONGPASS);
  }
  session.user = { name, role };
}

interface HelloOptions {
  readonly credentials: { readonly name: string; readonly password: string } | undefined;
  /** SETNAME's name (undefined: none given; null: an empty name, which clears it). */
  readonly clientName: string | null | undefined;
}

/**
 * HELLO [2 [AUTH user password] [SETNAME name]]: the protocol (RESP2 only), and the
 * connection authenticated and named on the way. Nothing changes unless all of it succeeds.
 */
function hello(args: readonly Buffer[], reply: ReplyWriter, session: RespSession, context: CommandContext): Promise<void> | void {
  if (args.length > 1) {
    const version = integerArg(at(args, 1), 'Protocol version is not an integer or out of range');
    if (version !== PROTOCOL_VERSION) throw new CommandError('NOPROTO', 'unsupported protocol version (Shoal speaks RESP2 only)');
  }
  const options = helloOptions(args);
  const finish = (): void => {
    if (options.clientName !== undefined) session.name = options.clientName ?? undefined;
    writeHello(reply, session);
  };
  if (options.credentials !== undefined && context.auth !== undefined) {
    return authenticate(context, session, options.credentials.name, options.credentials.password).then(finish);
  }
  if (context.auth !== undefined && session.user === undefined) {
    throw new CommandError(
      'NOAUTH',
      'HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
    );
  }
  finish();
}

function helloOptions(args: readonly Buffer[]): HelloOptions {
  let credentials: HelloOptions['credentials'];
  let clientName: HelloOptions['clientName'];
  for (let index = 2; index < args.length; index++) {
    const option = at(args, index).toString('latin1').toLowerCase();
    if (option === 'auth' && index + 2 < args.length) {
      credentials = { name: at(args, index + 1).toString('utf8'), password: at(args, index + 2).toString('utf8') };
      index += 2;
    } else if (option === 'setname' && index + 1 < args.length) {
      clientName = clientNameOf(at(args, ++index)) ?? null;
    } else {
      throw new CommandError('ERR', `Syntax error in HELLO option '${option}'`);
    }
  }
  return { credentials, clientName };
}

function writeHello(reply: ReplyWriter, session: RespSession): void {
  const fields: readonly (readonly [string, string | number])[] = [
    ['server', 'redis'],
    ['version', REDIS_VERSION_CLAIMED],
    ['proto', PROTOCOL_VERSION],
    ['id', session.id],
    ['mode', 'standalone'],
    ['role', 'master'],
  ];
  reply.arrayHeader(fields.length * 2 + 2);
  for (const [name, value] of fields) {
    reply.bulkString(name);
    if (typeof value === 'number') reply.integer(value);
    else reply.bulkString(value);
  }
  reply.bulkString('modules');
  reply.emptyArray();
}

function client(args: readonly Buffer[], reply: ReplyWriter, session: RespSession): void {
  const sub = at(args, 1).toString('latin1').toLowerCase();
  if (sub === 'setname' && args.length === 3) {
    session.name = clientNameOf(at(args, 2));
    reply.ok();
  } else if (sub === 'getname' && args.length === 2) {
    if (session.name === undefined) reply.nil();
    else reply.bulkString(session.name);
  } else if (sub === 'setinfo' && args.length === 4) {
    reply.ok();
  } else if (sub === 'id' && args.length === 2) {
    reply.integer(session.id);
  } else if (['setname', 'getname', 'setinfo', 'id'].includes(sub)) {
    throw new CommandError('ERR', `wrong number of arguments for 'client|${sub}' command`);
  } else {
    throw unknownSubcommand(sub, 'CLIENT');
  }
}

function clientNameOf(bytes: Buffer): string | undefined {
  const name = bytes.toString('latin1');
  if (!CLIENT_NAME_PATTERN.test(name)) throw new CommandError('ERR', 'Client names cannot contain spaces, newlines or special characters.');
  return name === '' ? undefined : name;
}

/** The settings CONFIG GET answers: what benchmarks and tools ask about, with Shoal's truth. */
function configValues({ limits }: CommandContext): readonly (readonly [string, string])[] {
  return [
    ['save', ''],
    ['appendonly', 'no'],
    ['databases', '1'],
    ['timeout', '0'],
    ['maxclients', String(limits.connectionsMax)],
    ['proto-max-bulk-len', String(limits.bulkBytesMax)],
  ];
}

function config(args: readonly Buffer[], reply: ReplyWriter, context: CommandContext): void {
  const sub = at(args, 1).toString('latin1').toLowerCase();
  if (sub !== 'get') throw new CommandError('ERR', `CONFIG ${sub.toUpperCase()} is not supported by Shoal (only CONFIG GET)`);
  if (args.length < 3) throw new CommandError('ERR', "wrong number of arguments for 'config|get' command");
  const patterns = args.slice(2).map((pattern) => globPattern(pattern.toString('latin1')));
  const matches = configValues(context).filter(([name]) => patterns.some((pattern) => pattern.test(name)));
  reply.arrayHeader(matches.length * 2);
  for (const [name, value] of matches) {
    reply.bulkString(name);
    reply.bulkString(value);
  }
}

/** A Redis glob (`*`, `?`; everything else literal) as a case-insensitive RegExp. */
function globPattern(glob: string): RegExp {
  const source = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 'i');
}

/**
 * COMMAND (every entry), COMMAND COUNT, COMMAND INFO name…, COMMAND LIST. COMMAND DOCS is
 * refused as Redis 6 refuses it: redis-cli then builds its help from its own texts plus
 * COMMAND's names and arities (an empty DOCS would leave it with no help at all).
 */
function command(args: readonly Buffer[], reply: ReplyWriter, table: readonly CommandSpec[]): void {
  if (args.length === 1) {
    reply.arrayHeader(table.length);
    for (const entry of table) writeCommandInfo(reply, entry);
    return;
  }
  const sub = at(args, 1).toString('latin1').toLowerCase();
  switch (sub) {
    case 'count':
      reply.integer(table.length);
      return;
    case 'list':
      reply.arrayHeader(table.length);
      for (const entry of table) reply.bulkString(entry.name);
      return;
    case 'info': {
      const names = args.slice(2).map((name) => name.toString('latin1').toLowerCase());
      reply.arrayHeader(names.length);
      for (const name of names) {
        const entry = table.find((candidate) => candidate.name === name);
        if (entry === undefined) reply.nil();
        else writeCommandInfo(reply, entry);
      }
      return;
    }
    default:
      throw unknownSubcommand(sub, 'COMMAND');
  }
}

/** Redis 7's command entry: name, arity, flags, first/last key and step, ACL categories, tips, key specs, subcommands. */
function writeCommandInfo(reply: ReplyWriter, entry: CommandSpec): void {
  reply.arrayHeader(10);
  reply.bulkString(entry.name);
  reply.integer(entry.arity);
  reply.arrayHeader(entry.flags.length);
  for (const flag of entry.flags) reply.simple(flag);
  for (const position of entry.keys) reply.integer(position);
  reply.arrayHeader(entry.categories.length);
  for (const category of entry.categories) reply.simple(category);
  reply.emptyArray();
  reply.emptyArray();
  reply.emptyArray();
}

function unknownSubcommand(sub: string, command: string): CommandError {
  return new CommandError('ERR', `unknown subcommand '${sub.slice(0, 128)}'. Try ${command} HELP.`);
}

function integerArg(bytes: Buffer, message = 'value is not an integer or out of range'): number {
  const text = bytes.toString('latin1');
  if (!/^-?[0-9]{1,15}$/.test(text)) throw new CommandError('ERR', message);
  return Number(text);
}

function spec(name: string, role: Role, arity: number, flags: readonly string[], categories: readonly string[], run: CommandSpec['run']): CommandSpec {
  return { name, arity, flags, role, keys: NO_KEYS, categories, run };
}
