/**
 * For the admin CLI's tests: a fake node (node:http on a loopback port) that answers
 * canned JSON per `METHOD /path` and records every request; and an AdminIo that collects
 * output, answers questions from a script, and can simulate Ctrl-C.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import type { Plan, RingView, TransfersView } from '../../src/cli/adminContract.ts';
import type { AdminIo } from '../../src/cli/adminIo.ts';
import type { WaitTiming } from '../../src/cli/adminMembership.ts';

export interface Received {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
}

/** A JSON answer, or 'hang-up' to close the connection without one. */
export type Canned = { readonly status: number; readonly body: unknown } | 'hang-up';

/** `n` counts the requests to this route so far, from 0. */
export type Route = (request: Received, n: number) => Canned;

export interface FakeNode {
  readonly url: string;
  readonly requests: Received[];
  /** The requests other than GET /admin/transfers and GET /admin/ring polls. */
  changes(): Received[];
}

export async function startFakeNode(t: TestContext, routes: Readonly<Record<string, Route>>): Promise<FakeNode> {
  const requests: Received[] = [];
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    void readBody(req).then((text) => {
      const path = new URL(req.url ?? '/', 'http://fake').pathname;
      const received = { method: req.method ?? 'GET', path, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
      requests.push(received);
      const key = `${received.method} ${path}`;
      const n = counts.get(key) ?? 0;
      counts.set(key, n + 1);
      const route = routes[key];
      const canned: Canned = route === undefined ? { status: 404, body: { error: `no route ${key}`, code: 'not-found' } } : route(received, n);
      if (canned === 'hang-up') {
        req.socket.destroy();
        return;
      }
      res.writeHead(canned.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(canned.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    changes: () => requests.filter((r) => r.method !== 'GET'),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (text += chunk));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

export interface TestIo extends AdminIo {
  stdout: string;
  stderr: string;
  readonly questions: string[];
  /** Simulates Ctrl-C: calls the handlers registered with onInterrupt. */
  interrupt(): void;
}

export function testIo(settings: { stdinTty?: boolean; stderrTty?: boolean; answers?: string[]; columns?: number } = {}): TestIo {
  const answers = [...(settings.answers ?? [])];
  const handlers = new Set<() => void>();
  const io: TestIo = {
    stdout: '',
    stderr: '',
    questions: [],
    out: (text) => void (io.stdout += text),
    err: (text) => void (io.stderr += text),
    stdinTty: settings.stdinTty ?? false,
    stderrTty: settings.stderrTty ?? false,
    errColumns: () => settings.columns,
    prompt: (question) => {
      io.questions.push(question);
      return Promise.resolve(answers.shift() ?? '');
    },
    nowMs: () => Date.now(),
    sleep: (ms, signal) =>
      new Promise((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        signal.addEventListener('abort', wake);
      }),
    onInterrupt: (handler) => {
      handlers.add(handler);
      return () => void handlers.delete(handler);
    },
    interrupt: () => handlers.forEach((handler) => handler()),
  };
  return io;
}

/** Fast polling for tests; plain progress lines at most every 50 ms. */
export const FAST: WaitTiming = { pollIntervalMs: 5, plainLineIntervalMs: 50 };

export function ok(body: unknown): Canned {
  return { status: 200, body };
}

/** A join of n4 to n1..n3 applied as ring version 8: 24 transfers, 8 from each. */
export function joinPlan(overrides: Partial<Plan> = {}): Plan {
  const transfers = Array.from({ length: 24 }, (_, i) => ({ partition: i, from: `n${(i % 3) + 1}`, to: 'n4', done: false }));
  return {
    kind: 'join',
    member: 'n4',
    ringVersion: 8,
    transfers,
    transfersDone: 0,
    transfersTotal: 24,
    estimate: { objects: 12_345, bytes: 5 * 1024 * 1024 + 200 * 1024 },
    ownedBefore: { n1: 22, n2: 21, n3: 21 },
    ownedAfter: { n1: 16, n2: 16, n3: 16, n4: 16 },
    ...overrides,
  };
}

export function ringView(overrides: Partial<RingView> = {}): RingView {
  return {
    clusterName: 'shoal',
    replicas: 3,
    partitionCount: 64,
    ringVersion: 8,
    members: [
      { id: 'n1', address: '127.0.0.1:7070', status: 'valid', version: 1, partitions: 22 },
      { id: 'n2', address: '127.0.0.1:7071', status: 'valid', version: 1, partitions: 21 },
      { id: 'n3', address: '127.0.0.1:7072', status: 'valid', version: 1, partitions: 21 },
      { id: 'n4', address: '127.0.0.1:7073', status: 'joining', version: 1, partitions: 0 },
    ],
    owners: Array.from({ length: 64 }, (_, i) => `n${(i % 3) + 1}`),
    plan: null,
    ...overrides,
  };
}

export function transfersView(done: number | null, overrides: Partial<TransfersView> = {}): TransfersView {
  return {
    plan: done === null ? null : { kind: 'join', member: 'n4', ringVersion: 8, transfersDone: done, transfersTotal: 24 },
    objectsSent: done === null ? 12_345 : done * 500,
    bytesSent: done === null ? 5_400_000 : done * 220_000,
    objectsPerS: 1200,
    bytesPerS: 2_000_000,
    nodes: { n1: { objectsSent: 0, bytesSent: 0, objectsPerS: 400, bytesPerS: 700_000, active: 1 } },
    ...overrides,
  };
}

/** Answers the dry run with the plan, and the apply with the plan applied. */
export function changeRoute(plan: Plan = joinPlan()): Route {
  return (request) => {
    const dryRun = (request.body as { dryRun?: unknown }).dryRun === true;
    return ok({ applied: !dryRun, plan });
  };
}
