/**
 * The users file: who may use a node's client ports (HTTP, RESP), with which role.
 *
 *   { "version": 1,
 *     "users": [ { "name": "alice", "role": "readwrite", "password": "scrypt$32768$8$1$<salt>$<hash>" } ] }
 *
 * `shoal user add | remove | list` edits it (cli/user.ts); a node reads it at start. It
 * holds password hashes only, and is written with mode 0600 all the same.
 */
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { parsePasswordHash } from './passwords.ts';
import { ROLES, type Role } from './roles.ts';

export const USERS_FILE_VERSION = 1;
/** Users in one file at most. */
export const USERS_MAX = 10_000;
/** Largest users file read (10,000 users of ~150 bytes, with room to spare). */
export const USERS_FILE_BYTES_MAX = 4 * 1024 * 1024;
/**
 * A user name: letters, digits and `_ . @ -`. No `:` (HTTP Basic separates the name from
 * the password with it), no spaces or control characters (names go into logs).
 */
export const USER_NAME_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;
/** Only the owner may read or change the file. */
export const USERS_FILE_MODE = 0o600;

export interface UserEntry {
  readonly name: string;
  readonly role: Role;
  /** The password's scrypt hash (passwords.ts), never the password. */
  readonly password: string;
}

export interface UsersFile {
  readonly version: typeof USERS_FILE_VERSION;
  readonly users: readonly UserEntry[];
}

/** A users file that cannot be read or is not valid; the message names the file and the entry. */
export class UsersFileError extends Error {
  readonly code = 'USERS_FILE_INVALID';
  override readonly name = 'UsersFileError';
}

const userSchema = z
  .object({
    name: z.string().regex(USER_NAME_PATTERN, 'must be 1-64 letters, digits, _ . @ or -'),
    role: z.enum(ROLES, { errorMap: () => ({ message: `must be one of ${ROLES.join(', ')}` }) }),
    password: z.string().superRefine((text, ctx) => {
      const parsed = parsePasswordHash(text);
      if (!parsed.ok) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `is not a valid hash: ${parsed.reason}` });
    }),
  })
  .strict();

const fileSchema = z
  .object({
    version: z.literal(USERS_FILE_VERSION, { errorMap: () => ({ message: `must be ${USERS_FILE_VERSION}` }) }),
    users: z.array(userSchema).max(USERS_MAX, `must list at most ${USERS_MAX} users`),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.users.forEach((user, index) => {
      if (seen.has(user.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['users', index, 'name'], message: 'is listed twice' });
      seen.add(user.name);
    });
  });

/** Reads and validates a users file. Throws UsersFileError. */
export function loadUsersFile(path: string): UsersFile {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > USERS_FILE_BYTES_MAX) throw new Error(`larger than ${USERS_FILE_BYTES_MAX} bytes`);
    text = bytes.toString('utf8');
  } catch (error) {
    throw new UsersFileError(`users file ${path} cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  return parseUsersFile(text, path);
}

/** Validates a users file's text; `path` is for messages. Throws UsersFileError. */
export function parseUsersFile(text: string, path: string): UsersFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsersFileError(`users file ${path} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = fileSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  throw new UsersFileError(`users file ${path}: ${describeIssue(parsed.error.issues[0], json)}`);
}

/** Writes the file whole (a temporary file renamed over it, so a reader never sees half of it), mode 0600. */
export function saveUsersFile(path: string, file: UsersFile): void {
  const text = `${JSON.stringify(file, null, 2)}\n`;
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(temporary, 'wx', USERS_FILE_MODE);
  try {
    fchmodSync(fd, USERS_FILE_MODE); // whatever the umask
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** "users[2] (bob): role must be one of …" — the entry by its index and, when it has one, its name. */
function describeIssue(issue: z.ZodIssue | undefined, json: unknown): string {
  if (issue === undefined) return 'invalid';
  const [first, index, field] = issue.path;
  if (first === 'users' && typeof index === 'number') {
    const name = (json as { users: { name?: unknown }[] }).users[index]?.name;
    const entry = `users[${index}]${typeof name === 'string' ? ` (${JSON.stringify(name).slice(0, 80)})` : ''}`;
    if (field === undefined) return `${entry} ${issue.code === 'invalid_type' ? 'must be an object with name, role and password' : issue.message}`;
    const message = issue.code === 'invalid_type' && issue.received === 'undefined' ? 'is missing' : issue.message;
    return `${entry}: ${String(field)} ${message}`;
  }
  if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.join(', ')}${issue.path.length > 0 ? ` in ${issue.path.join('.')}` : ''}`;
  if (issue.path.length === 0) return `must hold a JSON object {"version": ${USERS_FILE_VERSION}, "users": [...]}`;
  const where = issue.path.join('.');
  return `${where} ${issue.code === 'invalid_type' && issue.received === 'undefined' ? 'is missing' : issue.message}`;
}
