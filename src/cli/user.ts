/**
 * `shoal user add | remove | list`: the users file a node reads with `--users-file`
 * (api/auth/usersFile.ts). Passwords are stored as scrypt hashes; the file is written
 * whole (renamed into place) with mode 0600.
 *
 *   shoal user add alice --role readwrite --users-file users.json    generates a password, prints it once (stdout)
 *   echo "$PW" | shoal user add bob --role read --users-file users.json --password-stdin
 *   shoal user list --users-file users.json
 *   shoal user remove bob --users-file users.json
 *
 * A running node reads the file when it starts: restart it for a change to take effect.
 * Exit codes: 0 done, 1 refused or failed (a duplicate name, an unknown user, an
 * unreadable or invalid file), 2 usage (a bad name, role or password).
 */
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { generatePassword, hashPassword, PASSWORD_BYTES_MAX } from '../api/auth/passwords.ts';
import { isRole, ROLES, type Role } from '../api/auth/roles.ts';
import { loadUsersFile, saveUsersFile, USER_NAME_PATTERN, USERS_FILE_VERSION, USERS_MAX, type UserEntry, type UsersFile } from '../api/auth/usersFile.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** Shortest password accepted from stdin (generated ones are 32 characters). */
export const PASSWORD_CHARS_MIN = 8;
/** The environment variable of `--users-file` (the node's own setting's). */
export const USERS_FILE_ENV = 'SHOAL_USERS_FILE';

/** What the user commands need from the process; tests pass their own. */
export interface UserIo {
  /** Results: a generated password, the list. */
  out(text: string): void;
  /** Messages. */
  err(text: string): void;
  /** The first line of stdin (for --password-stdin). */
  readStdinLine(): Promise<string>;
}

export interface UserAddOptions {
  readonly role?: string;
  readonly usersFile: string;
  readonly passwordStdin?: boolean;
  readonly replace?: boolean;
}

/** `shoal user add NAME --role ROLE --users-file FILE [--password-stdin] [--replace]`. */
export async function runUserAdd(name: string, options: UserAddOptions, io: UserIo): Promise<number> {
  if (!USER_NAME_PATTERN.test(name)) return usage(io, `NAME must be 1-64 letters, digits, _ . @ or -, got ${JSON.stringify(name)}`);
  if (options.role === undefined || !isRole(options.role)) return usage(io, `--role must be one of ${ROLES.join(', ')}, got ${JSON.stringify(options.role ?? '')}`);
  const file = readOrNew(options.usersFile, io);
  if (file === undefined) return EXIT_FAILURE;
  const existing = file.users.findIndex((user) => user.name === name);
  if (existing !== -1 && options.replace !== true) return fail(io, `user ${name} already exists in ${options.usersFile}; add --replace to give it a new password and role`);
  if (existing === -1 && file.users.length >= USERS_MAX) return fail(io, `${options.usersFile} already holds ${USERS_MAX} users, the most a users file may`);
  const password = options.passwordStdin === true ? passwordFrom(await io.readStdinLine()) : { ok: true as const, value: generatePassword() };
  if (!password.ok) return usage(io, password.message);
  const entry: UserEntry = { name, role: options.role, password: await hashPassword(password.value) };
  const users = existing === -1 ? [...file.users, entry] : file.users.map((user, index) => (index === existing ? entry : user));
  if (!write(options.usersFile, { version: USERS_FILE_VERSION, users }, io)) return EXIT_FAILURE;
  io.err(`${existing === -1 ? 'added' : 'replaced'} user ${name} (role ${options.role}) in ${options.usersFile}; nodes read it when they start\n`);
  if (options.passwordStdin !== true) {
    io.err(`its password is printed below, this once only: store it now\n`);
    io.out(`${password.value}\n`);
  }
  return EXIT_OK;
}

/** `shoal user remove NAME --users-file FILE`. */
export function runUserRemove(name: string, options: { readonly usersFile: string }, io: UserIo): number {
  const file = read(options.usersFile, io);
  if (file === undefined) return EXIT_FAILURE;
  if (!file.users.some((user) => user.name === name)) return fail(io, `no user ${JSON.stringify(name)} in ${options.usersFile}`);
  if (!write(options.usersFile, { version: USERS_FILE_VERSION, users: file.users.filter((user) => user.name !== name) }, io)) return EXIT_FAILURE;
  io.err(`removed user ${name} from ${options.usersFile}; nodes read it when they start\n`);
  return EXIT_OK;
}

/** `shoal user list --users-file FILE`: one `NAME ROLE` line per user. */
export function runUserList(options: { readonly usersFile: string }, io: UserIo): number {
  const file = read(options.usersFile, io);
  if (file === undefined) return EXIT_FAILURE;
  if (file.users.length === 0) io.err(`no users in ${options.usersFile}\n`);
  const width = Math.max(4, ...file.users.map((user) => user.name.length));
  for (const user of file.users) io.out(`${user.name.padEnd(width)}  ${user.role}\n`);
  return EXIT_OK;
}

/**
 * For `shoal dev --secure`: makes `name` (default `admin`) an admin in `usersFile` (the
 * file created if missing, a user of that name replaced) with a generated password, and
 * returns the password. Throws UsersFileError for an invalid existing file.
 */
export async function createAdminUser(usersFile: string, name = 'admin'): Promise<string> {
  const file = existsSync(usersFile) ? loadUsersFile(usersFile) : emptyFile();
  const password = generatePassword();
  const entry: UserEntry = { name, role: 'admin' satisfies Role, password: await hashPassword(password) };
  saveUsersFile(usersFile, { version: USERS_FILE_VERSION, users: [...file.users.filter((user) => user.name !== name), entry] });
  return password;
}

export function addUserCommands(user: Command): void {
  const usersFile = (): Option => new Option('--users-file <file>', 'the users file (JSON, mode 0600)').env(USERS_FILE_ENV).makeOptionMandatory();
  user
    .command('add')
    .description('add a user (prints a generated password once, unless --password-stdin)')
    .argument('<name>', 'user name: letters, digits, _ . @ -')
    .addOption(new Option('--role <role>', 'what the user may do').choices(ROLES).makeOptionMandatory())
    .addOption(usersFile())
    .option('--password-stdin', "read the password from stdin's first line instead of generating one")
    .option('--replace', 'replace a user of the same name (a new password and role)')
    .action(async (name: string, options: UserAddOptions) => exit(await runUserAdd(name, options, processUserIo())));
  user
    .command('remove')
    .description('remove a user')
    .argument('<name>', 'user name')
    .addOption(usersFile())
    .action((name: string, options: { usersFile: string }) => exit(runUserRemove(name, options, processUserIo())));
  user
    .command('list')
    .description('list the users and their roles')
    .addOption(usersFile())
    .action((options: { usersFile: string }) => exit(runUserList(options, processUserIo())));
}

export function processUserIo(): UserIo {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    readStdinLine: () => firstLine(process.stdin),
  };
}

/** The first line of `stream`, reading no more than a password's worth past it. */
async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.includes('\n') || text.length > PASSWORD_BYTES_MAX) break;
  }
  return text.split('\n')[0]?.replace(/\r$/, '') ?? '';
}

function passwordFrom(line: string): { ok: true; value: string } | { ok: false; message: string } {
  if (line.length < PASSWORD_CHARS_MIN) return { ok: false, message: `the password on stdin must be at least ${PASSWORD_CHARS_MIN} characters` };
  if (Buffer.byteLength(line, 'utf8') > PASSWORD_BYTES_MAX) return { ok: false, message: `the password on stdin must be at most ${PASSWORD_BYTES_MAX} bytes` };
  return { ok: true, value: line };
}

function emptyFile(): UsersFile {
  return { version: USERS_FILE_VERSION, users: [] };
}

/** The file, or a new empty one when it does not exist yet; undefined after reporting an error. */
function readOrNew(path: string, io: UserIo): UsersFile | undefined {
  return existsSync(path) ? read(path, io) : emptyFile();
}

function read(path: string, io: UserIo): UsersFile | undefined {
  try {
    return loadUsersFile(path);
  } catch (error) {
    io.err(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return undefined;
  }
}

function write(path: string, file: UsersFile, io: UserIo): boolean {
  try {
    saveUsersFile(path, file);
    return true;
  } catch (error) {
    io.err(`error: cannot write ${path}: ${error instanceof Error ? error.message : String(error)}\n`);
    return false;
  }
}

function usage(io: UserIo, message: string): number {
  io.err(`error: ${message}\n`);
  return EXIT_USAGE;
}

function fail(io: UserIo, message: string): number {
  io.err(`error: ${message}\n`);
  return EXIT_FAILURE;
}

function exit(code: number): void {
  if (code !== 0) process.exitCode = code;
}
