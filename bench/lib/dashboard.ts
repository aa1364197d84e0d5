/**
 * What the dashboard benchmark and the dashboard screenshot share: a mixed key-value load
 * (half GETs, half PUTs, spread over the nodes), and simulated viewers — plain HTTP clients
 * that each poll a node's dashboard JSON once a second on their own keep-alive connection,
 * as an open page does.
 */
import { KvClient } from './http-client.ts';
import type { Operation } from './load.ts';
import { keyName, valuePool } from './values.ts';

export const DASHBOARD_JSON_PATH = '/admin/dashboard';

/** An open-loop operation: even sequence numbers PUT, odd ones GET, node and key by turn. */
export function mixedKvOperation(urls: readonly string[], keys: number, valueBytes: number, concurrency: number): { op: Operation; close(): void } {
  const perNode = Math.max(1, Math.ceil(concurrency / urls.length));
  const clients = urls.map((url) => new KvClient(url, { maxSockets: perNode, timeoutMs: 10_000 }));
  const values = valuePool(valueBytes, 1);
  const op: Operation = async (seq) => {
    const client = clients[Math.floor(seq / 2) % clients.length] as KvClient;
    const key = keyName('dash-', (seq * 7919) % keys);
    const result = seq % 2 === 0 ? await client.put(key, values[seq % values.length] as Buffer) : await client.get(key);
    const ok = result.status === 204 || result.status === 200 || result.status === 300 || result.status === 404;
    return { ok, label: result.status === 0 ? (result.error ?? 'error') : String(result.status), kind: seq % 2 === 0 ? 'put' : 'get' };
  };
  return { op, close: () => clients.forEach((client) => client.close()) };
}

export interface ViewerStats {
  readonly requests: number;
  readonly failures: number;
  readonly bytes: number;
}

/**
 * `count` viewers of `url`'s dashboard JSON, each asking every `intervalMs` (their starts
 * spread over one interval), until stopped.
 */
export function startViewers(url: string, count: number, intervalMs: number): { stop(): Promise<ViewerStats> } {
  let running = true;
  const stats = { requests: 0, failures: 0, bytes: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const clients = Array.from({ length: count }, () => new KvClient(url, { maxSockets: 1, timeoutMs: 10_000 }));
  const inFlight = new Set<Promise<void>>();
  const poll = (client: KvClient): void => {
    if (!running) return;
    const request = client.request('GET', DASHBOARD_JSON_PATH, {}, undefined, true).then((result) => {
      stats.requests++;
      if (result.status !== 200) stats.failures++;
      stats.bytes += result.body?.length ?? 0;
    });
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
    later(() => poll(client), intervalMs);
  };
  const later = (run: () => void, delayMs: number): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, delayMs);
    timers.add(timer);
  };
  clients.forEach((client, i) => later(() => poll(client), (i * intervalMs) / count));
  return {
    async stop() {
      running = false;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all(inFlight);
      for (const client of clients) client.close();
      return { ...stats };
    },
  };
}
