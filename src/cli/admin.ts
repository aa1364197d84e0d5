/**
 * `shoal admin status | ring`: read a node's state over its HTTP API. The membership
 * changes (join, leave, remove) are in adminMembership.ts.
 *
 * Every command returns its exit code: 0 done, 1 failure (the node refused or could not be
 * reached), 2 usage (a bad argument, named in the message).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ringSchema } from './adminContract.ts';
import { adminRequest, describeFailure, prettyJson, type AdminAccess } from './adminHttp.ts';
import type { AdminIo } from './adminIo.ts';
import { formatRing } from './planFormat.ts';

export { ADMIN_REQUEST_MS_MAX } from './adminHttp.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export const DEFAULT_NODE_URL = 'http://127.0.0.1:8080';

export interface NodeOptions {
  readonly node: string;
  /** A user of the node's users file (HTTP Basic). */
  readonly user?: string;
  /** Its password (`--password`, or SHOAL_PASSWORD through commander). */
  readonly password?: string;
  /** A PEM file: the CA an https:// node's certificate is checked against. */
  readonly ca?: string;
}

/** The node to ask and how: its URL, credentials, CA. */
export interface NodeTarget {
  readonly base: URL;
  readonly access: AdminAccess;
}

export interface RingOptions extends NodeOptions {
  readonly json?: boolean;
}

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

/** `shoal admin status`: the node's status JSON, indented. */
export async function runAdminStatus(options: NodeOptions, io: AdminIo): Promise<number> {
  const target = parseNodeTarget(options);
  if (!target.ok) return usageError(io, target.message);
  const url = new URL('/admin/status', target.value.base);
  const answer = await adminRequest(url, z.unknown(), { access: target.value.access });
  if (answer.kind !== 'ok') return failure(io, describeFailure(url, answer));
  io.out(`${prettyJson(answer.text)}\n`);
  return EXIT_OK;
}

/** `shoal admin ring`: members, ownership and the change in progress; `--json` for the raw answer. */
export async function runAdminRing(options: RingOptions, io: AdminIo): Promise<number> {
  const target = parseNodeTarget(options);
  if (!target.ok) return usageError(io, target.message);
  const url = new URL('/admin/ring', target.value.base);
  const answer = await adminRequest(url, ringSchema, { access: target.value.access });
  if (answer.kind !== 'ok') return failure(io, describeFailure(url, answer));
  io.out(options.json === true ? `${prettyJson(answer.text)}\n` : lines(formatRing(answer.value)));
  return EXIT_OK;
}

/** `--node`, `--user`, `--password`, `--ca`: the URL, the credentials (a user needs a password), the CA file read. */
export function parseNodeTarget(options: NodeOptions): Checked<NodeTarget> {
  const base = parseNodeUrl(options.node);
  if (!base.ok) return base;
  if (options.user !== undefined && (options.user === '' || options.user.includes(':'))) {
    return { ok: false, message: `--user must be a user name without ":", got ${JSON.stringify(options.user)}` };
  }
  if (options.user !== undefined && options.password === undefined) {
    return { ok: false, message: '--user needs a password: set SHOAL_PASSWORD (or give --password, which other users of this machine can see in ps)' };
  }
  const auth = options.user === undefined || options.password === undefined ? undefined : { user: options.user, password: options.password };
  if (options.ca === undefined) return { ok: true, value: { base: base.value, access: { auth } } };
  try {
    return { ok: true, value: { base: base.value, access: { auth, ca: readFileSync(options.ca) } } };
  } catch (error) {
    return { ok: false, message: `--ca ${options.ca} cannot be read: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** `--node`: an http:// or https:// URL (its path, if any, is ignored). */
export function parseNodeUrl(text: string): Checked<URL> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, message: `--node must be a URL like ${DEFAULT_NODE_URL}, got ${JSON.stringify(text)}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, message: `--node must be an http:// or https:// URL, got ${JSON.stringify(text)}` };
  }
  return { ok: true, value: url };
}

export function usageError(io: AdminIo, message: string): number {
  io.err(`error: ${message}\n`);
  return EXIT_USAGE;
}

export function failure(io: AdminIo, message: string): number {
  io.err(`${message}\n`);
  return EXIT_FAILURE;
}

export function lines(texts: readonly string[]): string {
  return texts.map((text) => `${text}\n`).join('');
}
