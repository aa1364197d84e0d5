/**
 * What every HTTP request passes before any route sees it — the key-value route on the raw
 * server (kvRoute.ts) and fastify's routes alike, in this order:
 *
 * 1. DNS rebinding: a node bound to loopback answers only requests whose Host is a
 *    loopback name (localhost, 127.x.x.x, [::1], any port) — 403 BAD_HOST. Otherwise a web
 *    page whose name resolves to 127.0.0.1 would be same-origin with the node.
 * 2. Cross-site requests: a request that changes something (not GET, HEAD or OPTIONS)
 *    whose Origin is not the Host, or that says `Sec-Fetch-Site: cross-site` — 403
 *    CROSS_ORIGIN. Browsers send a form's POST or a fetch's PUT without asking first;
 *    they always say where it comes from.
 * 3. With users (an Authenticator): `Authorization: Basic base64(user:password)` (Basic
 *    only), else 401 UNAUTHENTICATED with `WWW-Authenticate`; a role below the route's
 *    (requiredRole) — 403 FORBIDDEN; too many password checks at once — 503 AUTH_BUSY.
 * 4. An admin POST with a body must send it as application/json (a restore's as
 *    application/octet-stream) — 415 UNSUPPORTED_MEDIA_TYPE: an HTML form can send
 *    text/plain or url-encoded data across sites without a preflight, never either of these.
 *
 * Every refusal is answered `{error, code}` and changes nothing; each is logged (source
 * address, user) at most once per REFUSAL_LOG_INTERVAL_MS per code. With credentials
 * remembered by the Authenticator, a request costs a header parse, one HMAC and a lookup.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../../ports/logger.ts';
import { AuthenticatorBusyError, type Authenticator } from './authenticator.ts';
import { RefusalLog } from '../../io/refusalLog.ts';
import { roleAllows, type Role } from './roles.ts';

export type HttpRefusalCode = 'BAD_HOST' | 'CROSS_ORIGIN' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'AUTH_BUSY' | 'UNSUPPORTED_MEDIA_TYPE';

export interface HttpRefusal {
  readonly status: number;
  readonly code: HttpRefusalCode;
  readonly error: string;
}

/** undefined: go on to the routes. */
export type GuardVerdict = HttpRefusal | undefined;

export interface HttpGuardOptions {
  /** The node's users; without it every client is trusted with every route (the browser checks still run). */
  readonly auth?: Authenticator;
  /** The API is bound to a loopback address: Host must be a loopback name. */
  readonly loopbackOnly: boolean;
  readonly logger: Logger;
}

/** What the 401 tells a client (a browser then asks for a user and password). */
export const WWW_AUTHENTICATE = 'Basic realm="shoal", charset="UTF-8"';

const LOOPBACK_HOST = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(:\d{1,5})?$/i;
/** A key's own path: one segment after /kv/ (as kvRoute.ts takes it), or the listing. */
const KV_PATH = /^\/kv(\/[^/]*)?$/;
const BASIC = /^basic +([A-Za-z0-9+/=]+) *$/i;
/** Types a browser sends across sites only after a preflight (which this node never grants). */
const ADMIN_MEDIA_TYPE = /^application\/(json|octet-stream)\s*(;.*)?$/i;
/** A path a router might read as another: dot segments, doubled slashes, backslashes. */
const AMBIGUOUS_PATH = /(^|\/)\.\.?(\/|$)|\/\/|\\/;

/**
 * Admin paths that only look: the cluster map (client-coordinated mode fetches it) and the
 * dashboard's JSON (what /metrics shows, gathered for the page).
 */
const ADMIN_PATHS_FOR_READ: ReadonlySet<string> = new Set(['/admin/cluster', '/admin/dashboard']);

/**
 * The role a request needs. Reads of keys, the cluster map, the dashboard and the metrics
 * need read; writes of keys readwrite; every other /admin route admin. Anything else: read to look, admin to change. A path is judged decoded and
 * lower-cased, and one a router could read as another needs admin, so that no spelling
 * of an admin route passes for a lesser one.
 */
export function requiredRole(method: string, rawPath: string): Role {
  const looks = method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
  if (KV_PATH.test(rawPath)) return looks ? 'read' : 'readwrite';
  const path = decodedPath(rawPath);
  if (path === undefined || AMBIGUOUS_PATH.test(path)) return 'admin';
  if (path.startsWith('/admin')) return looks && ADMIN_PATHS_FOR_READ.has(path) ? 'read' : 'admin';
  return looks ? 'read' : 'admin';
}

type Refuse = (request: IncomingMessage, refusal: HttpRefusal, user?: string) => HttpRefusal;

interface VerifiedHeader {
  readonly header: string;
  readonly user: string;
  readonly role: Role;
}

/** Builds the check: it answers at once, or with a promise when a password must be verified. */
export function httpGuard(options: HttpGuardOptions): (request: IncomingMessage) => GuardVerdict | Promise<GuardVerdict> {
  const refusals = new RefusalLog(options.logger);
  const refuse: Refuse = (request, refusal, user) => {
    const fields = { from: request.socket.remoteAddress, method: request.method, url: request.url?.slice(0, 200), user: user?.slice(0, 64), code: refusal.code };
    refusals.note(refusal.code, fields, `refused http request: ${refusal.error}`);
    return refusal;
  };
  const { auth, loopbackOnly } = options;
  // The Authorization header last verified on each connection: a keep-alive client's next
  // requests skip the decoding and the HMAC (it lives as long as the connection, as the
  // request buffers holding the same header do).
  const verifiedOnConnection = new WeakMap<Socket, VerifiedHeader>();
  return (request) => {
    const method = request.method ?? 'GET';
    const browserRefusal = browserCheck(request, method, loopbackOnly);
    if (browserRefusal !== undefined) return refuse(request, browserRefusal);
    const path = pathOf(request.url);
    if (auth === undefined) return mediaVerdict(request, method, path, refuse);
    const header = request.headers.authorization;
    const remembered = header === undefined ? undefined : verifiedOnConnection.get(request.socket);
    if (remembered !== undefined && remembered.header === header) return roleVerdict(request, method, path, remembered.user, remembered.role, refuse);
    const credentials = basicCredentials(header);
    if (credentials === undefined) return refuse(request, UNAUTHENTICATED);
    const { user, password } = credentials;
    const rememberOn = (role: Role | undefined): Role | undefined => {
      if (role !== undefined) verifiedOnConnection.set(request.socket, { header: header as string, user, role });
      return role;
    };
    const known = rememberOn(auth.verifiedRole(user, password));
    if (known !== undefined) return roleVerdict(request, method, path, user, known, refuse);
    return auth.authenticate(user, password).then(
      (role) => roleVerdict(request, method, path, user, rememberOn(role), refuse),
      (error: unknown) => {
        if (error instanceof AuthenticatorBusyError) return refuse(request, { status: 503, code: 'AUTH_BUSY', error: error.message }, user);
        throw error;
      },
    );
  };
}

/** After authentication: the role the route needs, then the body's type. */
function roleVerdict(request: IncomingMessage, method: string, path: string, user: string, role: Role | undefined, refuse: Refuse): GuardVerdict {
  if (role === undefined) return refuse(request, UNAUTHENTICATED, user);
  const needed = requiredRole(method, path);
  if (!roleAllows(role, needed)) return refuse(request, forbidden(user, role, needed), user);
  return mediaVerdict(request, method, path, refuse);
}

function mediaVerdict(request: IncomingMessage, method: string, path: string, refuse: Refuse): GuardVerdict {
  const refusal = adminMediaCheck(request, method, path);
  return refusal === undefined ? undefined : refuse(request, refusal);
}

function pathOf(url = '/'): string {
  const queryAt = url.indexOf('?');
  return queryAt === -1 ? url : url.slice(0, queryAt);
}

const UNAUTHENTICATED: HttpRefusal = {
  status: 401,
  code: 'UNAUTHENTICATED',
  error: 'authentication required: send Authorization: Basic base64(user:password) with a user of the node\'s users file',
};

function forbidden(user: string, role: Role, needed: Role): HttpRefusal {
  return { status: 403, code: 'FORBIDDEN', error: `user ${user} has role ${role}; this request needs ${needed}` };
}

function browserCheck(request: IncomingMessage, method: string, loopbackOnly: boolean): HttpRefusal | undefined {
  const host = request.headers.host;
  if (loopbackOnly && host !== undefined && !LOOPBACK_HOST.test(host)) {
    return { status: 403, code: 'BAD_HOST', error: `this node serves loopback only: Host must be localhost, 127.x.x.x or [::1], got ${JSON.stringify(host.slice(0, 100))}` };
  }
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return undefined;
  const origin = request.headers.origin;
  if ((origin !== undefined && !sameOrigin(origin, host)) || request.headers['sec-fetch-site'] === 'cross-site') {
    return { status: 403, code: 'CROSS_ORIGIN', error: `cross-origin ${method} refused: a browser page of another site cannot change this node` };
  }
  return undefined;
}

/** Whether the Origin header names the host the request was sent to ("null" and malformed origins do not). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const from = new URL(origin);
    return from.host === new URL(`${from.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/** Admin POSTs, however their path is spelled (requiredRole's reading of it). */
function adminMediaCheck(request: IncomingMessage, method: string, path: string): HttpRefusal | undefined {
  if (method !== 'POST' || !requestHasBody(request) || requiredRole('GET', path) !== 'admin') return undefined;
  const type = request.headers['content-type'];
  if (type !== undefined && ADMIN_MEDIA_TYPE.test(type)) return undefined;
  return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', error: `admin requests send their body as Content-Type: application/json (a restore's application/octet-stream), got ${JSON.stringify((type ?? '(none)').slice(0, 100))}` };
}

/** Whether a body follows the headers (one left unread makes the connection unusable for the next request). */
export function requestHasBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** `Authorization: Basic base64(user:password)`; undefined when absent or malformed. */
export function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const encoded = BASIC.exec(header)?.[1];
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function decodedPath(path: string): string | undefined {
  let decoded = path;
  try {
    if (path.includes('%')) decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  return decoded.toLowerCase();
}
