/**
 * The client's options, validated when the client is built: a misconfigured client fails
 * at construction with a message naming the option and the bad value, never on its first
 * request.
 */
import { z } from 'zod';
import type { NodeAccess } from './httpRequest.ts';
import type { ClientSibling, Resolution } from './results.ts';

export type CoordinationMode = 'server' | 'client';

export interface ClientOptions {
  /** HTTP(S) addresses of some nodes (`http://127.0.0.1:8080`, `https://db1.example:8443`): at least one. */
  readonly nodes: readonly string[];
  /** A user of the nodes' users file: sent as HTTP Basic authorization with every request. */
  readonly auth?: { readonly user: string; readonly password: string };
  /** The CA certificate(s), PEM, that https:// nodes' certificates are checked against (default: the system's). */
  readonly ca?: string | Buffer;
  /**
   * Client-coordinated mode against nodes running mutual TLS: a client certificate and its
   * key (PEM, `shoal cert create-client`), signed by the cluster CA given as `ca`. The
   * nodes then let this client read replicas and hand its writes to a coordinator, and
   * nothing else.
   */
  readonly certificate?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /**
   * 'server' (default): requests go over HTTP to the nodes in turn, and a node coordinates.
   * 'client': the client fetches the ring from a node and coordinates itself, talking to
   * the key's replicas directly over the internode protocol (paper 6.4).
   */
  readonly mode?: CoordinationMode;
  /** A request's whole budget, retries included, ms (default 5000). */
  readonly timeoutMs?: number;
  /** One attempt on one node, ms (server mode; default 2500: past a node's own 2 s request timeout). */
  readonly attemptTimeoutMs?: number;
  /** Attempts per request at most, each on another node (server mode; default 3). */
  readonly attemptsMax?: number;
  /** How often the client-driven mode fetches the membership and ring again, ms (default 10,000). */
  readonly refreshIntervalMs?: number;
  /** Replicas, read and write quorums for every request (default: the cluster's). */
  readonly n?: number;
  readonly r?: number;
  readonly w?: number;
  /**
   * Semantic reconciliation: called when a read finds conflicting versions; what it returns
   * is written back with the read's context, superseding them, and the read answers it.
   * Returning undefined leaves the siblings as they are.
   */
  readonly resolve?: (siblings: readonly ClientSibling[], key: string) => Resolution | undefined;
}

export interface ResolvedOptions {
  readonly nodes: readonly URL[];
  /** Credentials and CA for every HTTP request to a node (client mode's /admin/cluster included). */
  readonly access: NodeAccess;
  /** Client mode's internode TLS: the cluster CA and the client's certificate, when given. */
  readonly internodeTls: { readonly ca: string | Buffer; readonly cert: string | Buffer; readonly key: string | Buffer } | undefined;
  readonly mode: CoordinationMode;
  readonly timeoutMs: number;
  readonly attemptTimeoutMs: number;
  readonly attemptsMax: number;
  readonly refreshIntervalMs: number;
  readonly quorum: { readonly n?: number; readonly r?: number; readonly w?: number };
  readonly resolve: ClientOptions['resolve'];
}

export class ClientConfigError extends Error {
  readonly code = 'CLIENT_CONFIG_INVALID';
  override readonly name = 'ClientConfigError';
}

const pem = () => z.custom<string | Buffer>((value) => (typeof value === 'string' && value !== '') || Buffer.isBuffer(value), 'must be PEM text or a Buffer of it');
const positiveMs = (fallback: number) => z.number().int().positive().max(3_600_000).default(fallback);
const quorumOption = z.number().int().min(1).max(64).optional();

const schema = z
  .object({
    nodes: z.array(z.string()).min(1, 'give at least one node address'),
    auth: z
      .object({
        user: z.string().min(1, 'must not be empty').refine((user) => !user.includes(':'), 'must not contain ":" (HTTP Basic authorization cannot carry it)'),
        password: z.string(),
      })
      .strict()
      .optional(),
    ca: pem().optional(),
    certificate: z.object({ cert: pem(), key: pem() }).strict().optional(),
    mode: z.enum(['server', 'client']).default('server'),
    timeoutMs: positiveMs(5000),
    attemptTimeoutMs: positiveMs(2500),
    attemptsMax: z.number().int().min(1).max(16).default(3),
    refreshIntervalMs: z.number().int().min(100).max(3_600_000).default(10_000),
    n: quorumOption,
    r: quorumOption,
    w: quorumOption,
    resolve: z.function().optional(),
  })
  .strict();

export function resolveOptions(options: ClientOptions): ResolvedOptions {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') ?? 'options';
    throw new ClientConfigError(`invalid Shoal client option ${path}: ${issue?.message ?? 'invalid'} (got ${describe(valueAt(options, issue?.path ?? []))})`);
  }
  const value = parsed.data;
  if (value.certificate !== undefined && value.ca === undefined) throw new ClientConfigError('invalid Shoal client option certificate: give the cluster CA as ca too (the nodes\' certificates are checked against it)');
  const nodes = value.nodes.map((text, i) => nodeUrl(text, i));
  return {
    nodes,
    access: { auth: value.auth, ca: value.ca },
    internodeTls: value.certificate === undefined || value.ca === undefined ? undefined : { ca: value.ca, cert: value.certificate.cert, key: value.certificate.key },
    mode: value.mode,
    timeoutMs: value.timeoutMs,
    attemptTimeoutMs: Math.min(value.attemptTimeoutMs, value.timeoutMs),
    attemptsMax: value.attemptsMax,
    refreshIntervalMs: value.refreshIntervalMs,
    quorum: { n: value.n, r: value.r, w: value.w },
    resolve: options.resolve,
  };
}

function nodeUrl(text: string, index: number): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ClientConfigError(`invalid Shoal client option nodes.${index}: not a URL (got ${JSON.stringify(text)}); give http://HOST:PORT or https://HOST:PORT`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') {
    throw new ClientConfigError(`invalid Shoal client option nodes.${index}: give a node's HTTP address as http://HOST:PORT or https://HOST:PORT (got ${JSON.stringify(text)})`);
  }
  return url;
}

function valueAt(options: unknown, path: readonly (string | number)[]): unknown {
  let value: unknown = options;
  for (const step of path) value = typeof value === 'object' && value !== null ? (value as Record<string | number, unknown>)[step] : undefined;
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
