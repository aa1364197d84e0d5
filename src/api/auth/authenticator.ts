/**
 * Checks a user name and password against the users file, cheaply when it can.
 *
 * A scrypt verification costs 50-100 ms of CPU and 32 MiB, too much per request. So:
 * - credentials verified recently are remembered (VERIFIED_CREDENTIALS_MAX of them, for
 *   VERIFIED_CREDENTIAL_TTL_MS), keyed by an HMAC of name and password under a key drawn
 *   at random per process: a hit costs one HMAC and one Map lookup, and the cache holds
 *   neither passwords nor anything that verifies them offline;
 * - at most SCRYPT_IN_FLIGHT_MAX verifications run at once; past it authenticate() rejects
 *   with AuthenticatorBusyError (HTTP 503, a RESP error), so a flood of wrong passwords
 *   costs a bounded share of CPU and memory. Concurrent checks of the same credentials
 *   share one verification;
 * - an unknown user is checked against a hash that matches nothing, at the same cost, so
 *   the time taken does not tell which user names exist.
 * Only successes are remembered: wrong passwords vary, and each one is worth its scrypt.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { formatHash, KEY_BYTES, PASSWORD_BYTES_MAX, SALT_BYTES, SCRYPT_N, SCRYPT_P, SCRYPT_R, verifyPassword } from './passwords.ts';
import type { Role } from './roles.ts';
import type { UserEntry, UsersFile } from './usersFile.ts';

/** Verified credentials remembered at most. */
export const VERIFIED_CREDENTIALS_MAX = 1000;
/** How long a verified credential is remembered. */
export const VERIFIED_CREDENTIAL_TTL_MS = 5 * 60_000;
/**
 * scrypt verifications running at once at most. They run on libuv's thread pool (4 threads
 * by default), which file system calls and DNS lookups share: two leave them room.
 */
export const SCRYPT_IN_FLIGHT_MAX = 2;

/** Nothing hashes to an all-zero key: the hash an unknown user's password is checked against. */
const NO_USER_HASH = formatHash({ n: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P, salt: Buffer.alloc(SALT_BYTES), key: Buffer.alloc(KEY_BYTES) });

/** Too many verifications are running: try again shortly. */
export class AuthenticatorBusyError extends Error {
  readonly code = 'AUTH_BUSY';
  override readonly name = 'AuthenticatorBusyError';
  constructor(inFlightMax: number = SCRYPT_IN_FLIGHT_MAX) {
    super(`too many password checks in progress (${inFlightMax}); try again shortly`);
  }
}

export interface AuthenticatorOptions {
  /** The password check (default: scrypt, verifyPassword); tests count its calls. */
  readonly verify?: (password: string, encoded: string) => Promise<boolean>;
  readonly nowMs?: () => number;
  readonly credentialsMax?: number;
  readonly credentialTtlMs?: number;
  readonly verificationsInFlightMax?: number;
}

interface Verified {
  readonly role: Role;
  readonly expiresMs: number;
}

export class Authenticator {
  private readonly users: ReadonlyMap<string, UserEntry>;
  private readonly hmacKey = randomBytes(32);
  private readonly verified = new Map<string, Verified>();
  /** Verifications running, by credential key; at most verificationsInFlightMax. */
  private readonly inFlight = new Map<string, Promise<Role | undefined>>();
  private readonly verify: (password: string, encoded: string) => Promise<boolean>;
  private readonly nowMs: () => number;
  private readonly credentialsMax: number;
  private readonly credentialTtlMs: number;
  private readonly verificationsInFlightMax: number;

  constructor(users: UsersFile | readonly UserEntry[], options: AuthenticatorOptions = {}) {
    const entries = 'users' in users ? users.users : users;
    this.users = new Map(entries.map((user) => [user.name, user]));
    this.verify = options.verify ?? verifyPassword;
    this.nowMs = options.nowMs ?? Date.now;
    this.credentialsMax = options.credentialsMax ?? VERIFIED_CREDENTIALS_MAX;
    this.credentialTtlMs = options.credentialTtlMs ?? VERIFIED_CREDENTIAL_TTL_MS;
    this.verificationsInFlightMax = options.verificationsInFlightMax ?? SCRYPT_IN_FLIGHT_MAX;
  }

  /**
   * The user's role when the password is right, undefined when not (or the user is
   * unknown). Rejects with AuthenticatorBusyError when SCRYPT_IN_FLIGHT_MAX checks are running.
   */
  authenticate(name: string, password: string): Promise<Role | undefined> {
    const key = this.credentialKey(name, password);
    const known = this.rememberedRole(key);
    if (known !== undefined) return Promise.resolve(known);
    if (Buffer.byteLength(password, 'utf8') > PASSWORD_BYTES_MAX) return Promise.resolve(undefined);
    const running = this.inFlight.get(key);
    if (running !== undefined) return running;
    if (this.inFlight.size >= this.verificationsInFlightMax) return Promise.reject(new AuthenticatorBusyError(this.verificationsInFlightMax));
    const verification = this.check(key, name, password).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, verification);
    return verification;
  }

  /** The role of credentials verified recently, without any scrypt; undefined when not remembered. */
  verifiedRole(name: string, password: string): Role | undefined {
    return this.rememberedRole(this.credentialKey(name, password));
  }

  private async check(key: string, name: string, password: string): Promise<Role | undefined> {
    const user = this.users.get(name);
    const matches = await this.verify(password, user?.password ?? NO_USER_HASH);
    if (user === undefined || !matches) return undefined;
    this.remember(key, user.role);
    return user.role;
  }

  private credentialKey(name: string, password: string): string {
    // Names cannot hold NUL (USER_NAME_PATTERN): name and password cannot run into each other.
    return createHmac('sha256', this.hmacKey).update(name).update('\0').update(password).digest('base64');
  }

  private rememberedRole(key: string): Role | undefined {
    const entry = this.verified.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresMs > this.nowMs()) return entry.role;
    this.verified.delete(key);
    return undefined;
  }

  /** Past credentialsMax the oldest entry goes (a Map iterates in insertion order). */
  private remember(key: string, role: Role): void {
    this.verified.delete(key);
    if (this.verified.size >= this.credentialsMax) {
      const oldest = this.verified.keys().next();
      if (oldest.done !== true) this.verified.delete(oldest.value);
    }
    this.verified.set(key, { role, expiresMs: this.nowMs() + this.credentialTtlMs });
  }
}
