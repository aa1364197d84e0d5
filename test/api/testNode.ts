/**
 * An in-process node for API tests: the memory engine (with its failure injection), HTTP on
 * a free loopback port, silent logs. `stop()` closes everything; call it from t.after.
 */
import { nodeConfigFrom, type NodeConfig } from '../../src/node/config.ts';
import { startNodeRuntime, type NodeRuntime } from '../../src/io/runtime.ts';
import { systemClock } from '../../src/io/systemClock.ts';
import { silentLogger } from '../../src/ports/logger.ts';
import { MemoryEngine, MemoryMetaStore } from '../../src/storage/memoryEngine.ts';
import { TestNetwork } from '../support/testNetwork.ts';

export interface TestNode {
  readonly runtime: NodeRuntime;
  readonly engine: MemoryEngine;
  readonly meta: MemoryMetaStore;
  readonly config: NodeConfig;
  readonly url: string;
  stop(): Promise<void>;
}

export async function startTestNode(overrides: Record<string, unknown> = {}, meta = new MemoryMetaStore()): Promise<TestNode> {
  const config = nodeConfigFrom({ engine: 'memory', http: '127.0.0.1:0', logLevel: 'silent', ...overrides });
  const engine = new MemoryEngine();
  const runtime = await startNodeRuntime({ config, logger: silentLogger, storage: { engine, meta } });
  return { runtime, engine, meta, config, url: runtime.httpUrl, stop: () => runtime.stop() };
}

/**
 * Several in-process nodes, each with its HTTP API, talking over one in-memory network
 * (real clock), so a test can break the network and watch the HTTP answers.
 */
export async function startTestCluster(
  ids: readonly string[],
  overrides: Record<string, unknown> = {},
): Promise<{ nodes: Map<string, TestNode>; network: TestNetwork; stop(): Promise<void> }> {
  const network = new TestNetwork(systemClock);
  const cluster = ids.map((id, index) => `${id}@127.0.0.1:${7001 + index}`).join(',');
  const nodes = new Map<string, TestNode>();
  for (const id of ids) {
    const config = nodeConfigFrom({ id, cluster, engine: 'memory', http: '127.0.0.1:0', logLevel: 'silent', ...overrides });
    const engine = new MemoryEngine();
    const meta = new MemoryMetaStore();
    const runtime = await startNodeRuntime({ config, logger: silentLogger, storage: { engine, meta }, transport: network.transport(id) });
    nodes.set(id, { runtime, engine, meta, config, url: runtime.httpUrl, stop: () => runtime.stop() });
  }
  return { nodes, network, stop: async () => void (await Promise.all([...nodes.values()].map((node) => node.stop()))) };
}

export interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
  readonly json: () => Record<string, unknown>;
}

/** One HTTP request with a timeout, so no test can hang on the server. */
export async function request(
  node: TestNode,
  method: string,
  path: string,
  options: { body?: string | Uint8Array; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: options.headers,
    body: typeof options.body === 'string' || options.body === undefined ? options.body : Buffer.from(options.body),
    signal: AbortSignal.timeout(10_000),
  });
  const body = Buffer.from(await response.arrayBuffer());
  return {
    status: response.status,
    headers: response.headers,
    body,
    json: () => JSON.parse(body.toString('utf8')) as Record<string, unknown>,
  };
}

export const CONTEXT = 'x-shoal-context';

export function contextOf(reply: Reply): string {
  const context = reply.headers.get(CONTEXT);
  if (context === null) throw new Error(`no ${CONTEXT} header (status ${reply.status})`);
  return context;
}
