/**
 * A Shoal cluster of real node processes on loopback, for benchmarks: every member gets
 * its ports up front (each node is started with the whole `--cluster` list), its data in
 * `<tmp>/<id>` under one temp root, and is launched through launchNode() (node-process.ts),
 * so the same cleanup guarantees hold: every node is killed and the temp root removed on
 * stop(), on normal exit, on an uncaught error, and on SIGINT/SIGTERM.
 *
 * waitPeersUp() makes each node talk to every peer (writes at W = N through that node)
 * and then waits until each node's `/admin/status` shows every peer `up`.
 *
 * `secure: true` starts every member with mutual TLS between the nodes, HTTPS and a users
 * file (secure-cluster.ts makes the files in the temp root); the harness's own requests and
 * clients made from `cluster.secure` then speak HTTPS with the CA and the credentials.
 */
import { join } from 'node:path';
import { freePorts } from './free-port.ts';
import { getOnce, KvClient, type SecureAccess } from './http-client.ts';
import { launchNode, makeTempDir, removeTempDir, type ShoalNodeProcess } from './node-process.ts';
import { makeClusterSecurity, type ClusterSecurity } from './secure-cluster.ts';

export interface ClusterOptions {
  /** Number of members (ids n1…nK unless `ids` is given). */
  size: number;
  ids?: readonly string[];
  /** Replication settings, passed explicitly as --n --r --w. */
  n: number;
  r: number;
  w: number;
  /** Further `shoal start` flags for every node. */
  args?: readonly string[];
  /** The `shoal` command to run (another revision's); default this checkout's. */
  script?: string;
  /** Flags for node itself, for every member (e.g. --cpu-prof). */
  nodeArgs?: readonly string[];
  host?: string;
  logLevel?: string;
  readyTimeoutMs?: number;
  /** Launch attempts with fresh ports when a port was taken in between (EADDRINUSE). */
  attempts?: number;
  /**
   * Runs before the ports are chosen and any node starts, with each member's (not yet
   * existing) data dir, e.g. to write each member's store directly. A retried launch runs
   * it again, for fresh dirs (a node that started persists its cluster state).
   */
  prepare?: (members: readonly { id: string; dataDir: string }[]) => Promise<void>;
  /** TLS between the nodes and to clients, Basic authentication on HTTP (see the file comment). */
  secure?: boolean;
}

/** A peer as a node's `/admin/status` shows it. */
export interface PeerStatusView {
  id: string;
  status: string;
  sinceMs?: number;
  lastError?: string;
  failures?: number;
}

export class ShoalCluster {
  constructor(
    readonly nodes: readonly ShoalNodeProcess[],
    /** The `--cluster` list every member was started with. */
    readonly members: string,
    /** Temp root holding each member's data dir. */
    readonly root: string,
    /** Each node's `/admin/status` when it first answered 200. */
    readonly statusAtStart: readonly unknown[],
    /** How clients reach a secure cluster's nodes; undefined when it is plain. */
    readonly secure: SecureAccess | undefined,
  ) {}

  get httpUrls(): string[] {
    return this.nodes.map((node) => node.httpUrl);
  }

  /** Throws (with the node's last output) if any member has exited. */
  assertRunning(doing: string): void {
    for (const node of this.nodes) node.assertRunning(doing);
  }

  /** Every node's `/admin/status` body (or `{ error }` when it did not answer 200). */
  async statuses(): Promise<unknown[]> {
    return Promise.all(this.nodes.map((node) => fetchStatus(node)));
  }

  /**
   * Writes one probe key through each node with `?w=<n>` (so that node reaches N - 1 peers),
   * retrying until it succeeds, then waits until every node's status lists every peer as
   * `up`. Returns how long it took and each node's final peer view.
   */
  async waitPeersUp(n: number, timeoutMs = 30_000): Promise<{ elapsedMs: number; probeWrites: number; peers: Record<string, PeerStatusView[]> }> {
    const started = performance.now();
    const deadline = Date.now() + timeoutMs;
    let probeWrites = 0;
    let lastProblem = '';
    for (const node of this.nodes) {
      const client = new KvClient(node.httpUrl, { maxSockets: 1, timeoutMs: 5000, secure: node.secure });
      try {
        for (let attempt = 0; ; attempt++) {
          node.assertRunning('probing its peers');
          const res = await client.put(`bench-probe-${node.id}-${attempt}`, Buffer.from('probe'), undefined, `?w=${n}`);
          probeWrites++;
          if (res.status === 204) break;
          lastProblem = `probe write through ${node.id}: ${res.status === 0 ? res.error : res.status}`;
          if (Date.now() > deadline) throw new Error(`peers not reachable after ${timeoutMs} ms (${lastProblem})`);
          await sleep(200);
        }
      } finally {
        client.close();
      }
    }
    for (;;) {
      const peers: Record<string, PeerStatusView[]> = {};
      const down: string[] = [];
      for (const [i, status] of (await this.statuses()).entries()) {
        const node = this.nodes[i] as ShoalNodeProcess;
        const view = peersOf(status);
        peers[node.id] = view;
        const others = this.nodes.length - 1;
        const up = view.filter((p) => p.status === 'up').length;
        if (up < others) down.push(`${node.id} sees ${up}/${others} peers up (${JSON.stringify(view)})`);
      }
      if (down.length === 0) return { elapsedMs: Math.round(performance.now() - started), probeWrites, peers };
      if (Date.now() > deadline) throw new Error(`peers not up after ${timeoutMs} ms: ${down.join('; ')}`);
      await sleep(200);
    }
  }

  /** Stops every member (SIGTERM, then SIGKILL) and removes the temp root. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
    removeTempDir(this.root);
  }
}

/** Starts `size` members on loopback as one cluster and waits until each serves `/admin/status`. */
export async function launchCluster(options: ClusterOptions): Promise<ShoalCluster> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchOnce(options);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      if (attempt >= attempts || !text.includes('EADDRINUSE')) throw error;
      process.stderr.write(`[bench] cluster launch attempt ${attempt}: a port was taken (EADDRINUSE); retrying with fresh ports\n`);
    }
  }
}

async function launchOnce(options: ClusterOptions): Promise<ShoalCluster> {
  const host = options.host ?? '127.0.0.1';
  const ids = options.ids ?? Array.from({ length: options.size }, (_, i) => `n${i + 1}`);
  if (ids.length !== options.size) throw new RangeError('launchCluster: ids.length must equal size');
  const root = makeTempDir('shoal-bench-cluster-');
  let security: ClusterSecurity | undefined;
  try {
    if (options.prepare !== undefined) await options.prepare(ids.map((id) => ({ id, dataDir: join(root, id) })));
    if (options.secure === true) security = await makeClusterSecurity(root, ids, host);
  } catch (error) {
    removeTempDir(root);
    throw error;
  }
  const ports = await freePorts(2 * ids.length, host);
  const listenPort = (i: number): number => ports[2 * i] as number;
  const httpPort = (i: number): number => ports[2 * i + 1] as number;
  const members = ids.map((id, i) => `${id}@${host}:${listenPort(i)}`).join(',');
  const launched = await Promise.allSettled(ids.map((id, i) => launchNode({
    id,
    host,
    httpPort: httpPort(i),
    listenPort: listenPort(i),
    dataDir: join(root, id),
    logLevel: options.logLevel ?? 'warn',
    readyTimeoutMs: options.readyTimeoutMs,
    ...(options.script === undefined ? {} : { script: options.script }),
    ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
    secure: security?.access,
    args: [
      '--cluster', members, '--n', String(options.n), '--r', String(options.r), '--w', String(options.w),
      ...(security?.argsFor(id) ?? []), ...(options.args ?? []),
    ],
  })));
  const failed = launched.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  const nodes = launched.flatMap((r) => (r.status === 'fulfilled' ? [r.value.node] : []));
  if (failed.length > 0) {
    await Promise.all(nodes.map((node) => node.stop()));
    removeTempDir(root);
    throw new Error(failed.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('\n'));
  }
  const statusAtStart = launched.map((r) => (r.status === 'fulfilled' ? r.value.status : undefined));
  return new ShoalCluster(nodes, members, root, statusAtStart, security?.access);
}

async function fetchStatus(node: ShoalNodeProcess): Promise<unknown> {
  try {
    const { status, body } = await getOnce(`${node.httpUrl}/admin/status`, 5000, node.secure);
    if (status !== 200) return { error: `status ${status}`, body: body.slice(0, 500) };
    return JSON.parse(body) as unknown;
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** The `peers` array of a status body (empty when absent). */
export function peersOf(status: unknown): PeerStatusView[] {
  if (typeof status !== 'object' || status === null) return [];
  const peers = (status as { peers?: unknown }).peers;
  return Array.isArray(peers) ? (peers as PeerStatusView[]) : [];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
