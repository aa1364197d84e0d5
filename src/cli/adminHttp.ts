/**
 * One admin request to a node: JSON in, JSON out, a bounded wait. Every outcome is a value
 * (never a throw), so the commands decide what to print and which exit code to use.
 */
import type { z } from 'zod';
import { errorBodySchema } from './adminContract.ts';

/** How long an admin command waits for one answer from the node. */
export const ADMIN_REQUEST_MS_MAX = 5000;

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
  readonly body?: unknown;
  /** Aborts the request early (Ctrl-C while waiting). */
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

export async function adminRequest<T>(
  url: URL,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  request: AdminRequest = {},
): Promise<AdminAnswer<T>> {
  const fetched = await fetchText(url, request);
  if (fetched.kind === 'unreachable') return fetched;
  const { status, text } = fetched;
  if (status < 200 || status > 299) return refusal(status, text);
  const json = parseJson(text);
  if (json === undefined) return { kind: 'malformed', message: `${url.origin} answered ${status} with non-JSON: ${excerpt(text)}` };
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { kind: 'malformed', message: `${url.origin} answered ${url.pathname} with unexpected JSON: ${issues(parsed.error)}` };
  return { kind: 'ok', value: parsed.data, text };
}

/** The one line to print for a failed request to `url`. */
export function describeFailure(url: URL, failure: AdminFailure): string {
  switch (failure.kind) {
    case 'unreachable':
      return `cannot reach ${url.origin}: ${failure.message}`;
    case 'refused':
      return `error: ${failure.error} (${failure.code ?? `HTTP ${failure.status}`})`;
    case 'malformed':
      return `error: ${failure.message}`;
  }
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

type Fetched = { readonly kind: 'answered'; readonly status: number; readonly text: string } | { readonly kind: 'unreachable'; readonly message: string };

async function fetchText(url: URL, request: AdminRequest): Promise<Fetched> {
  const timeout = AbortSignal.timeout(request.timeoutMs ?? ADMIN_REQUEST_MS_MAX);
  const signal = request.signal === undefined ? timeout : AbortSignal.any([timeout, request.signal]);
  const init: RequestInit = { method: request.method ?? 'GET', signal };
  if (request.body !== undefined) {
    init.body = JSON.stringify(request.body);
    init.headers = { 'content-type': 'application/json' };
  }
  try {
    const response = await fetch(url, init);
    return { kind: 'answered', status: response.status, text: await response.text() };
  } catch (error) {
    if (timeout.aborted) return { kind: 'unreachable', message: `no answer within ${request.timeoutMs ?? ADMIN_REQUEST_MS_MAX} ms` };
    return { kind: 'unreachable', message: describeError(error) };
  }
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
