/**
 * Password hashes: scrypt (node:crypto), written as one string that carries its own
 * parameters, so they can be raised later without invalidating the hashes already stored:
 *
 *   scrypt$<N>$<r>$<p>$<salt, base64>$<key, base64>
 *
 * The parameters a hash may name are bounded (PASSWORD_HASH_LIMITS): a users file cannot
 * make one verification take gigabytes of memory or seconds of CPU.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** The cost of new hashes: N = 2^15, r = 8, p = 1 (32 MiB, ~50-100 ms), the values OWASP suggests for scrypt. */
export const SCRYPT_N = 2 ** 15;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;
export const SALT_BYTES = 16;
export const KEY_BYTES = 32;
/** Random bytes in a generated password: 192 bits, 32 base64url characters. */
export const GENERATED_PASSWORD_BYTES = 24;
/** Longer passwords are refused without hashing (a flood of huge ones costs nothing). */
export const PASSWORD_BYTES_MAX = 1024;

/** What a stored hash may name: bounds on the work and memory of verifying it. */
export const PASSWORD_HASH_LIMITS = {
  nMin: 2 ** 10,
  nMax: 2 ** 20,
  rMax: 32,
  pMax: 16,
  /** scrypt's working memory, 128 * N * r bytes. */
  memoryBytesMax: 256 * 1024 * 1024,
  /** N * r * p: about the CPU work, 16 times the default's. */
  workMax: 16 * SCRYPT_N * SCRYPT_R * SCRYPT_P,
  saltBytesMin: 8,
  saltBytesMax: 64,
  keyBytesMin: 16,
  keyBytesMax: 64,
} as const;

/** Node's scrypt refuses more than its 32 MiB default of memory; N = 2^15, r = 8 needs a little more. */
const MEMORY_SLACK_BYTES = 1024 * 1024;

export interface PasswordHash {
  readonly n: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

export type ParsedHash = { readonly ok: true; readonly hash: PasswordHash } | { readonly ok: false; readonly reason: string };

const FORMAT = 'scrypt$<N>$<r>$<p>$<saltBase64>$<hashBase64>';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const DECIMAL = /^[1-9][0-9]{0,9}$/;

/** A new hash of `password` with a random salt, at the default cost. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await deriveKey(password, { n: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P, salt }, KEY_BYTES);
  return formatHash({ n: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P, salt, key });
}

/** Whether `password` matches `encoded` (false for a malformed hash). Compares in constant time. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parsePasswordHash(encoded);
  if (!parsed.ok || Buffer.byteLength(password, 'utf8') > PASSWORD_BYTES_MAX) return false;
  const { hash } = parsed;
  const key = await deriveKey(password, hash, hash.key.length);
  return timingSafeEqual(key, hash.key);
}

/** A strong random password (base64url, no padding), for `shoal user add` without --password-stdin. */
export function generatePassword(): string {
  return randomBytes(GENERATED_PASSWORD_BYTES).toString('base64url');
}

export function formatHash(hash: PasswordHash): string {
  return `scrypt$${hash.n}$${hash.r}$${hash.p}$${hash.salt.toString('base64')}$${hash.key.toString('base64')}`;
}

/** Reads a stored hash, checking every part against PASSWORD_HASH_LIMITS. */
export function parsePasswordHash(encoded: string): ParsedHash {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return { ok: false, reason: `must be ${FORMAT}` };
  const [, nText, rText, pText, saltText, keyText] = parts as [string, string, string, string, string, string];
  if (![nText, rText, pText].every((text) => DECIMAL.test(text))) return { ok: false, reason: `N, r and p must be positive integers (${FORMAT})` };
  if (!BASE64.test(saltText) || !BASE64.test(keyText)) return { ok: false, reason: `salt and hash must be base64 (${FORMAT})` };
  const hash = { n: Number(nText), r: Number(rText), p: Number(pText), salt: Buffer.from(saltText, 'base64'), key: Buffer.from(keyText, 'base64') };
  const reason = limitViolation(hash);
  return reason === undefined ? { ok: true, hash } : { ok: false, reason };
}

function limitViolation({ n, r, p, salt, key }: PasswordHash): string | undefined {
  const limits = PASSWORD_HASH_LIMITS;
  if (n < limits.nMin || n > limits.nMax || (n & (n - 1)) !== 0) return `N must be a power of two ${limits.nMin}-${limits.nMax}, got ${n}`;
  if (r > limits.rMax) return `r must be 1-${limits.rMax}, got ${r}`;
  if (p > limits.pMax) return `p must be 1-${limits.pMax}, got ${p}`;
  if (128 * n * r > limits.memoryBytesMax) return `N * r needs more than ${limits.memoryBytesMax / (1024 * 1024)} MiB to verify`;
  if (n * r * p > limits.workMax) return `N * r * p must be at most ${limits.workMax}, got ${n * r * p}`;
  if (salt.length < limits.saltBytesMin || salt.length > limits.saltBytesMax) return `salt must be ${limits.saltBytesMin}-${limits.saltBytesMax} bytes, got ${salt.length}`;
  if (key.length < limits.keyBytesMin || key.length > limits.keyBytesMax) return `hash must be ${limits.keyBytesMin}-${limits.keyBytesMax} bytes, got ${key.length}`;
  return undefined;
}

function deriveKey(password: string, { n, r, p, salt }: Pick<PasswordHash, 'n' | 'r' | 'p' | 'salt'>, keyBytes: number): Promise<Buffer> {
  const options: ScryptOptions = { N: n, r, p, maxmem: 128 * r * (n + p + 2) + MEMORY_SLACK_BYTES };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyBytes, options, (error, key) => (error === null ? resolve(key) : reject(error)));
  });
}
