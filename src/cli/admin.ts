/**
 * `shoal admin status | ring`: read a node's state over its HTTP API. The membership
 * changes (join, leave, remove) are in adminMembership.ts.
 *
 * Every command returns its exit code: 0 done, 1 failure (the node refused or could not be
 * reached), 2 usage (a bad argument, named in the message).
 */
import { z } from 'zod';
import { ringSchema } from './adminContract.ts';
import { adminRequest, describeFailure, prettyJson } from './adminHttp.ts';
import type { AdminIo } from './adminIo.ts';
import { formatRing } from './planFormat.ts';

export { ADMIN_REQUEST_MS_MAX } from './adminHttp.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export const DEFAULT_NODE_URL = 'http://127.0.0.1:8080';

export interface NodeOptions {
  readonly node: string;
}

export interface RingOptions extends NodeOptions {
  readonly json?: boolean;
}

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

/** `shoal admin status`: the node's status JSON, indented. */
export async function runAdminStatus(options: NodeOptions, io: AdminIo): Promise<number> {
  const base = parseNodeUrl(options.node);
  if (!base.ok) return usageError(io, base.message);
  const url = new URL('/admin/status', base.value);
  const answer = await adminRequest(url, z.unknown());
  if (answer.kind !== 'ok') return failure(io, describeFailure(url, answer));
  io.out(`${prettyJson(answer.text)}\n`);
  return EXIT_OK;
}

/** `shoal admin ring`: members, ownership and the change in progress; `--json` for the raw answer. */
export async function runAdminRing(options: RingOptions, io: AdminIo): Promise<number> {
  const base = parseNodeUrl(options.node);
  if (!base.ok) return usageError(io, base.message);
  const url = new URL('/admin/ring', base.value);
  const answer = await adminRequest(url, ringSchema);
  if (answer.kind !== 'ok') return failure(io, describeFailure(url, answer));
  io.out(options.json === true ? `${prettyJson(answer.text)}\n` : lines(formatRing(answer.value)));
  return EXIT_OK;
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
