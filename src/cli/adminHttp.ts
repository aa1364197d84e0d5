/**
 * One admin request to a node: JSON in, JSON out (or bytes, for backups), a bounded wait,
 * over HTTP or HTTPS (node:http / node:https: fetch cannot be given a CA), with the user's
 * credentials. Every outcome is a value (never a throw), so the commands decide what to
 * print and which exit code to use.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { z } from 'zod';
import { errorBodySchema } from './adminContract.ts';

/** How long an admin command waits for one answer from the node. */
export const ADMIN_REQUEST_MS_MAX = 5000;
/** Larger answers are not a node's (the ring of 65,536 partitions is a few MiB). */
export const ADMIN_ANSWER_BYTES_MAX = 64 * 1024 * 1024;

/** How to reach the node: a user of its users file, and the CA its https:// certificate is checked against. */
export interface AdminAccess {
  readonly auth?: { readonly user: string; readonly password: string };
  readonly ca?: Buffer;
}

export type AdminAnswer<T> =
  | { readonly kind: 'ok'; readonly value: T; readonly text: string }
  /** A 4xx or 5xx; `code` is the machine-readable reason when the node gave one. */
  | { readonly kind: 'refused'; readonly status: number; readonly error: string; readonly code: string | undefined }
  /** No answer: connection refused, reset, timed out, or aborted by the caller. */
  | { readonly kind: 'unreachable'; readonly message: string }
  /** A 2xx whose body is not what the contract says. */
  | { readonly kind: 'malformed'; readonly message: string };

export type AdminFailure = Exclude<AdminAnswer<unknown>, { kind: 'ok' }>;

export interface AdminRequest {
  readonly method?: 'GET' | 'POST';
  readonly access?: AdminAccess;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Sent as application/octet-stream instead (a restore's objects). */
  readonly bytes?: Uint8Array;
  /** Aborts the request early (Ctrl-C while waiting). */
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

export async function adminRequest<T>(
  url: URL,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  request: AdminRequest = {},
): Promise<AdminAnswer<T>> {
  const fetched = await fetchBody(url, request);
  if (fetched.kind === 'unreachable') return fetched;
  const { status } = fetched;
  const text = fetched.body.toString('utf8');
  if (status < 200 || status > 299) return refusal(status, text);
  const json = parseJson(text);
  if (json === undefined) return { kind: 'malformed', message: `${url.origin} answered ${status} with non-JSON: ${excerpt(text)}` };
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { kind: 'malformed', message: `${url.origin} answered ${url.pathname} with unexpected JSON: ${issues(parsed.error)}` };
  return { kind: 'ok', value: parsed.data, text };
}

export type AdminBytesAnswer = { readonly kind: 'ok'; readonly body: Buffer; readonly headers: IncomingHttpHeaders } | AdminFailure;

/** A request whose answer is bytes (a backup page): the body and headers of a 2xx as they are. */
export async function adminBytesRequest(url: URL, request: AdminRequest = {}): Promise<AdminBytesAnswer> {
  const fetched = await fetchBody(url, request);
  if (fetched.kind === 'unreachable') return fetched;
  if (fetched.status < 200 || fetched.status > 299) return refusal(fetched.status, fetched.body.toString('utf8'));
  return { kind: 'ok', body: fetched.body, headers: fetched.headers };
}

/** What to print for a failed request to `url` (with a hint on a second line where one helps). */
export function describeFailure(url: URL, failure: AdminFailure): string {
  switch (failure.kind) {
    case 'unreachable':
      return `cannot reach ${url.origin}: ${failure.message}${/certificate/i.test(failure.message) ? '\nhint: give the CA that signed the node\'s certificate with --ca FILE' : ''}`;
    case 'refused':
      return `error: ${failure.error} (${failure.code ?? `HTTP ${failure.status}`})${refusalHint(failure.code)}`;
    case 'malformed':
      return `error: ${failure.message}`;
  }
}

function refusalHint(code: string | undefined): string {
  if (code === 'UNAUTHENTICATED') return '\nhint: give --user NAME and the password with SHOAL_PASSWORD (or --password)';
  if (code === 'FORBIDDEN') return "\nhint: this needs a user with a higher role (shoal user list shows them)";
  return '';
}

/** The message of a network error, with its cause (fetch hides ECONNREFUSED there). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as Error & { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}

/** Indents JSON text two spaces; text that is not JSON comes back as is. */
export function prettyJson(text: string): string {
  const json = parseJson(text);
  return json === undefined ? text : JSON.stringify(json, null, 2);
}

type Fetched =
  | { readonly kind: 'answered'; readonly status: number; readonly headers: IncomingHttpHeaders; readonly body: Buffer }
  | { readonly kind: 'unreachable'; readonly message: string };

async function fetchBody(url: URL, request: AdminRequest): Promise<Fetched> {
  const timeoutMs = request.timeoutMs ?? ADMIN_REQUEST_MS_MAX;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = request.signal === undefined ? timeout : AbortSignal.any([timeout, request.signal]);
  try {
    return await exchange(url, request, signal);
  } catch (error) {
    if (timeout.aborted) return { kind: 'unreachable', message: `no answer within ${timeoutMs} ms` };
    return { kind: 'unreachable', message: describeError(error) };
  }
}

/** The request sent (a JSON body as application/json, as the node requires of admin POSTs), the answer read whole. */
function exchange(url: URL, request: AdminRequest, signal: AbortSignal): Promise<Fetched> {
  const json = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body), 'utf8');
  const body = request.bytes ?? json;
  const headers: Record<string, string | number> = {};
  if (body !== undefined) {
    headers['content-type'] = request.bytes === undefined ? 'application/json' : 'application/octet-stream';
    headers['content-length'] = body.length;
  }
  const auth = request.access?.auth;
  if (auth !== undefined) headers.authorization = `Basic ${Buffer.from(`${auth.user}:${auth.password}`, 'utf8').toString('base64')}`;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    // agent: false — one connection per request, none left open to hold the process.
    const outgoing = send(url, { method: request.method ?? 'GET', headers, signal, agent: false, ca: request.access?.ca }, (response) => {
      readBody(response).then((body) => resolve({ kind: 'answered', status: response.statusCode ?? 0, headers: response.headers, body }), reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

function readBody(response: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    response.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > ADMIN_ANSWER_BYTES_MAX) response.destroy(new Error(`answer larger than ${ADMIN_ANSWER_BYTES_MAX} bytes`));
      else chunks.push(chunk);
    });
    response.on('end', () => resolve(Buffer.concat(chunks)));
    response.on('error', reject);
    // Settles nothing after 'end'; otherwise the answer was cut off (reset, or aborted by the signal).
    response.on('close', () => reject(new Error('the answer was cut off')));
  });
}

function refusal(status: number, text: string): AdminFailure {
  const body = errorBodySchema.safeParse(parseJson(text));
  if (body.success) return { kind: 'refused', status, error: body.data.error, code: body.data.code };
  return { kind: 'refused', status, error: excerpt(text) || 'empty answer', code: undefined };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function issues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
    .join('; ');
}

const EXCERPT_CHARS_MAX = 200;

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= EXCERPT_CHARS_MAX ? flat : `${flat.slice(0, EXCERPT_CHARS_MAX)}…`;
}
