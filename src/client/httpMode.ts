/**
 * Server-driven coordination: every request goes over HTTP to one node, which coordinates
 * it (or forwards it to a primary). Nodes are taken in turn (round robin); a node that
 * cannot be reached, times out, is overloaded or answers garbage is skipped and the
 * request tried on the next one, within the request's deadline and attemptsMax.
 *
 * A write whose context names a replica (the one that answered the read fastest, paper
 * 4.5) goes to that replica first when the client knows its address: every answer names
 * its node (X-Shoal-Node), so the client learns node ids as it goes.
 *
 * Retrying a write: one the node refused before coordinating (connection refused,
 * OVERLOADED, BUFFER_FULL, NODE_NOT_SERVING) is simply tried elsewhere. One that timed out or met
 * garbage may have reached a coordinator: it is tried elsewhere too, so it lands, but it
 * may then exist twice, as two siblings with the same value, until a write with a context
 * supersedes them. A 503 for a missed quorum is final (the cluster, not the node, could
 * not take it; the write may still take effect where it landed).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { contextCoordinator } from '../core/context.ts';
import type { Deadline } from '../node/deadline.ts';
import type { RequestOptions } from '../node/request.ts';
import type { Backend, CallPlan, ListCall, WriteCall } from './backend.ts';
import { HttpAttemptError, NodeConnection, type HttpAnswer } from './httpRequest.ts';
import type { ResolvedOptions } from './options.ts';
import { ShoalClientError, type ClientErrorCode, type ClientSibling, type GetResult, type ListPage, type WriteResult } from './results.ts';

const CONTEXT_HEADER = 'x-shoal-context';
const NODE_HEADER = 'x-shoal-node';
/** Refused before any coordination: safe to try elsewhere, writes included (AUTH_BUSY: too many password checks at once). */
const REFUSED_CODES: ReadonlySet<string> = new Set(['OVERLOADED', 'BUFFER_FULL', 'NODE_NOT_SERVING', 'AUTH_BUSY']);

/** One attempt's verdict: the answer, or why to try the next node. */
type Attempt<T> = { readonly done: T } | { readonly retry: string };

export class HttpMode implements Backend {
  private readonly connections: readonly NodeConnection[];
  /** Node ids, as contexts name them, to the connection that reached them. */
  private readonly byId = new Map<string, NodeConnection>();
  private nextIndex = 0;

  constructor(private readonly options: ResolvedOptions) {
    this.connections = options.nodes.map((url) => new NodeConnection(url, options.access));
  }

  get(plan: CallPlan): Promise<GetResult> {
    const path = pathOf(plan.key, plan.quorum);
    return this.attempts(this.roundRobin(), plan.deadline, `read of ${JSON.stringify(plan.key)}`, (node, timeoutMs) => node.send('GET', path, {}, undefined, timeoutMs).then((answer) => this.readAnswer(node, answer)));
  }

  write(plan: CallPlan, write: WriteCall): Promise<WriteResult> {
    const headers: Record<string, string | number> = { 'content-length': write.value.length };
    if (write.op === 'put') headers['content-type'] = write.contentType;
    if (write.context !== undefined) headers[CONTEXT_HEADER] = write.context;
    const path = pathOf(plan.key, plan.quorum);
    const method = write.op === 'put' ? 'PUT' : 'DELETE';
    const body = write.op === 'put' ? write.value : undefined;
    const order = this.preferredFirst(write.context);
    return this.attempts(order, plan.deadline, `write of ${JSON.stringify(plan.key)}`, (node, timeoutMs) => node.send(method, path, headers, body, timeoutMs).then((answer) => this.writeAnswer(node, answer)));
  }

  listPage(call: ListCall): Promise<ListPage> {
    const query = new URLSearchParams({ prefix: call.prefix, limit: String(call.limit) });
    if (call.after !== undefined) query.set('after', call.after);
    const path = `/kv?${query.toString()}`;
    return this.attempts(this.roundRobin(), call.deadline, `listing of prefix ${JSON.stringify(call.prefix)}`, (node, timeoutMs) => node.send('GET', path, {}, undefined, timeoutMs).then((answer) => this.listAnswer(answer)));
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.close();
  }

  private async attempts<T>(order: readonly NodeConnection[], deadline: Deadline, subject: string, attempt: (node: NodeConnection, timeoutMs: number) => Promise<Attempt<T>>): Promise<T> {
    const failures: string[] = [];
    let unreachable = 0;
    for (let i = 0; i < Math.min(this.options.attemptsMax, order.length * this.options.attemptsMax); i++) {
      const node = order[i % order.length] as NodeConnection;
      const remainingMs = deadline.remainingMs();
      if (remainingMs <= 0) break;
      try {
        const outcome = await attempt(node, Math.max(1, Math.min(this.options.attemptTimeoutMs, remainingMs)));
        if ('done' in outcome) return outcome.done;
        failures.push(`${node.url.host}: ${outcome.retry}`);
      } catch (error) {
        if (!(error instanceof HttpAttemptError)) throw error;
        failures.push(`${node.url.host}: ${error.message}`);
        unreachable++;
      }
    }
    // BAD_ANSWER when every node tried answered, but none as Shoal does.
    const code = failures.length > 0 && unreachable === 0 ? 'BAD_ANSWER' : 'UNAVAILABLE';
    throw new ShoalClientError(code, `${subject} failed on every node tried: ${failures.join('; ') || 'no time left'}`, failures);
  }

  private readAnswer(node: NodeConnection, answer: HttpAnswer): Attempt<GetResult> {
    this.learn(node, answer.headers);
    const context = headerOf(answer.headers, CONTEXT_HEADER);
    switch (answer.status) {
      case 200:
        if (context === undefined) return { retry: 'a 200 without a context' };
        return { done: { kind: 'value', value: new Uint8Array(answer.body), contentType: headerOf(answer.headers, 'content-type') ?? 'application/octet-stream', context } };
      case 300:
        return siblingsOf(answer.body);
      case 404:
        if (context === undefined) return { retry: `a 404 without a context (${answer.body.subarray(0, 80).toString()})` };
        return { done: { kind: 'absent', context } };
      default:
        return this.failure(answer, true);
    }
  }

  private listAnswer(answer: HttpAnswer): Attempt<ListPage> {
    if (answer.status !== 200) return this.failure(answer, true);
    const json = parseJson(answer.body);
    const keys = json?.keys;
    const next = json?.next;
    if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string') || !(next === null || typeof next === 'string')) return { retry: 'a listing page that is not {keys, next}' };
    return { done: { keys: keys as string[], next: next ?? undefined } };
  }

  private writeAnswer(node: NodeConnection, answer: HttpAnswer): Attempt<WriteResult> {
    this.learn(node, answer.headers);
    if (answer.status !== 204) return this.failure(answer, false);
    const context = headerOf(answer.headers, CONTEXT_HEADER);
    return context === undefined ? { retry: 'a 204 without a context' } : { done: { context } };
  }

  /** A 4xx or 5xx: final, or worth trying elsewhere (see the file comment). */
  private failure(answer: HttpAnswer, isRead: boolean): Attempt<never> {
    const error = errorBodyOf(answer.body);
    if (error === undefined) return { retry: `HTTP ${answer.status} that is not Shoal's` };
    const retriable = answer.status >= 500 && (isRead || REFUSED_CODES.has(error.code ?? '') || answer.status !== 503);
    if (retriable) return { retry: `HTTP ${answer.status}: ${error.message}` };
    throw new ShoalClientError((error.code as ClientErrorCode | undefined) ?? 'BAD_ANSWER', error.message, [], answer.status);
  }

  private learn(node: NodeConnection, headers: IncomingHttpHeaders): void {
    const id = headerOf(headers, NODE_HEADER);
    if (id !== undefined && this.byId.get(id) !== node) this.byId.set(id, node);
  }

  private roundRobin(): NodeConnection[] {
    const start = this.nextIndex;
    this.nextIndex = (this.nextIndex + 1) % this.connections.length;
    return [...this.connections.slice(start), ...this.connections.slice(0, start)];
  }

  /** The replica the context names first (when its address is known), then the others in turn. */
  private preferredFirst(context: string | undefined): NodeConnection[] {
    const order = this.roundRobin();
    if (context === undefined) return order;
    const named = contextCoordinator(context);
    const preferred = named === undefined ? undefined : this.byId.get(named);
    return preferred === undefined ? order : [preferred, ...order.filter((node) => node !== preferred)];
  }
}

function pathOf(key: string, quorum: RequestOptions): string {
  const query = [quorum.n === undefined ? '' : `n=${quorum.n}`, quorum.r === undefined ? '' : `r=${quorum.r}`, quorum.w === undefined ? '' : `w=${quorum.w}`].filter((part) => part !== '');
  return `/kv/${encodeURIComponent(key)}${query.length === 0 ? '' : `?${query.join('&')}`}`;
}

function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function errorBodyOf(body: Buffer): { message: string; code: string | undefined } | undefined {
  const json = parseJson(body);
  if (json === undefined || typeof json.error !== 'string') return undefined;
  return { message: json.error, code: typeof json.code === 'string' ? json.code : undefined };
}

function siblingsOf(body: Buffer): Attempt<GetResult> {
  const json = parseJson(body);
  if (json === undefined || typeof json.context !== 'string' || !Array.isArray(json.siblings)) return { retry: 'a 300 that is not a list of siblings' };
  const siblings: ClientSibling[] = [];
  for (const item of json.siblings as unknown[]) {
    const sibling = item as Record<string, unknown> | null;
    if (sibling === null || typeof sibling !== 'object' || typeof sibling.value !== 'string' || typeof sibling.contentType !== 'string' || typeof sibling.deleted !== 'boolean') {
      return { retry: 'a 300 with a malformed sibling' };
    }
    siblings.push({ value: new Uint8Array(Buffer.from(sibling.value, 'base64')), contentType: sibling.contentType, deleted: sibling.deleted });
  }
  return { done: { kind: 'siblings', siblings, context: json.context } };
}

function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
