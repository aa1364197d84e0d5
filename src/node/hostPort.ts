/**
 * Strict parsing of network addresses given in config: `HOST:PORT`, `[IPv6]:PORT`, and
 * the `ID@HOST:PORT,…` member lists of `--cluster`.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface HostPort {
  /** An IPv4 address, an IPv6 address (without brackets) or a DNS host name. */
  readonly host: string;
  /** 0 asks the operating system for a free port. */
  readonly port: number;
}

export interface ClusterMember {
  readonly id: string;
  readonly address: HostPort;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** Node ids and cluster names: letters, digits, `_` and `-` (no `.`: it separates the actor's epoch). */
export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const PORT_PATTERN = /^[0-9]{1,5}$/;
const LABEL_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const NUMERIC_LABEL_PATTERN = /^[0-9]+$/;
const HOST_NAME_LENGTH_MAX = 253;

/** Parses `HOST:PORT` or `[IPv6]:PORT`; rejects anything else (no defaults, no spaces, no scheme). */
export function parseHostPort(text: string): Parsed<HostPort> {
  const split = splitHostPort(text);
  if (!split.ok) return split;
  const { host, portText, bracketed } = split.value;
  if (!PORT_PATTERN.test(portText)) return fail(`port must be a number 0-65535, got ${JSON.stringify(portText)}`);
  const port = Number(portText);
  if (port > 65535) return fail(`port must be a number 0-65535, got ${port}`);
  if (bracketed) {
    return isIPv6(host) ? { ok: true, value: { host, port } } : fail(`"${host}" is not an IPv6 address`);
  }
  if (isIPv4(host) || isHostName(host)) return { ok: true, value: { host, port } };
  return fail(`"${host}" is not an IPv4 address or a host name`);
}

/** `host:port`, with brackets around IPv6 hosts: the inverse of parseHostPort. */
export function formatHostPort(address: HostPort): string {
  return isIPv6(address.host) ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Parses a comma-separated list of `HOST:PORT`. */
export function parseHostPortList(text: string): Parsed<HostPort[]> {
  const out: HostPort[] = [];
  for (const item of text.split(',')) {
    const parsed = parseHostPort(item);
    if (!parsed.ok) return fail(`bad entry ${JSON.stringify(item)}: ${parsed.reason}`);
    out.push(parsed.value);
  }
  return { ok: true, value: out };
}

/** Parses `ID@HOST:PORT,…`; ids must be distinct and well formed. */
export function parseClusterMembers(text: string): Parsed<ClusterMember[]> {
  const out: ClusterMember[] = [];
  const seen = new Set<string>();
  for (const item of text.split(',')) {
    const at = item.indexOf('@');
    if (at < 0) return fail(`bad entry ${JSON.stringify(item)}: expected ID@HOST:PORT`);
    const id = item.slice(0, at);
    if (!NAME_PATTERN.test(id)) return fail(`bad entry ${JSON.stringify(item)}: id must match ${NAME_PATTERN.source}`);
    if (seen.has(id)) return fail(`id "${id}" appears twice`);
    seen.add(id);
    const address = parseHostPort(item.slice(at + 1));
    if (!address.ok) return fail(`bad entry ${JSON.stringify(item)}: ${address.reason}`);
    out.push({ id, address: address.value });
  }
  return { ok: true, value: out };
}

function splitHostPort(text: string): Parsed<{ host: string; portText: string; bracketed: boolean }> {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return fail(`expected [IPv6]:PORT, got ${JSON.stringify(text)}`);
    return { ok: true, value: { host: text.slice(1, close), portText: text.slice(close + 2), bracketed: true } };
  }
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return fail(`expected HOST:PORT, got ${JSON.stringify(text)}`);
  const host = text.slice(0, colon);
  if (host.includes(':')) return fail(`IPv6 hosts need brackets ([::1]:PORT), got ${JSON.stringify(text)}`);
  return { ok: true, value: { host, portText: text.slice(colon + 1), bracketed: false } };
}

/** A DNS name: dot-separated labels of letters, digits and inner hyphens, not all numeric, 253 characters at most. */
export function isHostName(host: string): boolean {
  if (host.length === 0 || host.length > HOST_NAME_LENGTH_MAX) return false;
  const labels = host.split('.');
  if (!labels.every((label) => LABEL_PATTERN.test(label))) return false;
  // All-numeric names look like (bad) IPv4 addresses, e.g. 127.0.0.256: refuse them.
  return !labels.every((label) => NUMERIC_LABEL_PATTERN.test(label));
}

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
