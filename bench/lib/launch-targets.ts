/**
 * Starting the systems a YCSB comparison drives, by name. Each target is a system of its
 * own (its own processes and data), so two targets never share keys:
 *
 *   shoal-http     a Shoal cluster of `shoalNodes` nodes over HTTP, round robin over the nodes
 *   shoal-resp     one Shoal node through its Redis-protocol front end (`--resp`), via ioredis
 *   redis          redis-server, persistence off, via the same ioredis driver
 *   etcd           an etcd cluster of `etcdMembers` members, over its v3 JSON gateway
 *   shoal-client   SLOT: Shoal's TypeScript client (src/client), server- or client-driven
 *
 * A target that cannot run here (binary missing, front end not built) is a SkipRecord.
 */
import { launchCluster, type ShoalCluster } from './cluster.ts';
import { launchEtcdCluster, etcdClusterTarget } from './etcd.ts';
import { freePort } from './free-port.ts';
import { launchNode } from './node-process.ts';
import { launchRedisServer, redisTarget, waitForPong } from './redis.ts';
import {
  respTarget, shoalClientTarget, shoalHttpTarget, startOrSkip, TargetUnavailable,
  type BenchTarget, type ClientMode, type ContextPolicy, type SkipRecord,
} from './targets.ts';

export const TARGET_NAMES = ['shoal-http', 'shoal-resp', 'redis', 'etcd', 'shoal-client-server-driven', 'shoal-client-client-driven'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export interface TargetSettings {
  /** Members of a shoal-http (and shoal-client) cluster. */
  shoalNodes: number;
  /** Extra `shoal start` flags for every Shoal node. */
  shoalArgs: readonly string[];
  etcdMembers: number;
  contexts: ContextPolicy;
}

export function parseTargetNames(list: string): TargetName[] {
  return list.split(',').map((name) => {
    const trimmed = name.trim();
    if (!(TARGET_NAMES as readonly string[]).includes(trimmed)) throw new RangeError(`unknown target ${JSON.stringify(trimmed)} (expected some of ${TARGET_NAMES.join(',')})`);
    return trimmed as TargetName;
  });
}

export function launchTarget(name: TargetName, settings: TargetSettings): Promise<BenchTarget | SkipRecord> {
  return startOrSkip(async () => {
    switch (name) {
      case 'shoal-http':
        return shoalHttpClusterTarget(await launchShoalCluster(settings.shoalNodes, settings.shoalArgs), settings.contexts, name);
      case 'shoal-resp':
        return launchShoalRespTarget(settings.shoalArgs);
      case 'redis':
        return redisTarget(await launchRedisServer());
      case 'etcd':
        return etcdClusterTarget(await launchEtcdCluster(settings.etcdMembers));
      case 'shoal-client-server-driven':
      case 'shoal-client-client-driven':
        return launchShoalClientTarget(name === 'shoal-client-server-driven' ? 'server-driven' : 'client-driven', settings);
    }
  });
}

/** A Shoal cluster for benchmarks: N = min(3, nodes), R = W = min(2, N); every peer seen up before it is used. */
export async function launchShoalCluster(nodes: number, args: readonly string[]): Promise<ShoalCluster> {
  const n = Math.min(3, nodes);
  const quorum = Math.min(2, n);
  const cluster = await launchCluster({ size: nodes, n, r: quorum, w: quorum, args });
  try {
    if (nodes > 1) await cluster.waitPeersUp(n);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

export function shoalHttpClusterTarget(cluster: ShoalCluster, contexts: ContextPolicy, name = 'shoal-http', route?: (key: string) => number): BenchTarget {
  const nodes = cluster.nodes.length;
  return shoalHttpTarget({
    name,
    description: `Shoal, ${nodes} node${nodes > 1 ? 's' : ''} over ${cluster.secure === undefined ? 'HTTP' : 'HTTPS with Basic authentication, mutual TLS between the nodes'} (${route === undefined ? 'round robin over the nodes' : 'routed by key'}), contexts: ${contexts}`,
    httpUrls: cluster.httpUrls,
    secure: cluster.secure,
    contexts,
    route,
    processes: cluster.nodes,
    facts: { members: cluster.members, nodeCommands: cluster.nodes.map((node) => node.command) },
    stop: () => cluster.stop(),
  });
}

/** One Shoal node with `--resp` on a free port, driven through ioredis like Redis. */
export async function launchShoalRespTarget(args: readonly string[], name = 'shoal-resp'): Promise<BenchTarget> {
  const host = '127.0.0.1';
  const port = await freePort(host);
  let launched;
  try {
    launched = await launchNode({ id: name === 'shoal-resp' ? 'resp1' : name, args: ['--resp', `${host}:${port}`, ...args] });
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    if (/resp.*not available|unknown option '--resp'/i.test(text)) {
      throw new TargetUnavailable('Shoal\'s Redis-protocol front end (`shoal start --resp`) is not available in this checkout yet');
    }
    throw error;
  }
  const { node } = launched;
  try {
    await waitForPong(host, port, node, 10_000);
  } catch (error) {
    await node.stop();
    throw error;
  }
  return respTarget({
    name,
    description: `Shoal, one node through its RESP front end (${args.join(' ') || 'default flags'})`,
    host,
    port,
    processes: [node],
    facts: { command: node.command, address: `${host}:${port}` },
    stop: () => node.stop(),
  });
}

/** The slot for src/client: a cluster is started for it, and stopped again while the slot is empty. */
async function launchShoalClientTarget(mode: ClientMode, settings: TargetSettings): Promise<BenchTarget> {
  const cluster = await launchShoalCluster(settings.shoalNodes, settings.shoalArgs);
  try {
    return await shoalClientTarget(mode, cluster.httpUrls, {
      name: `shoal-client-${mode}`,
      description: `Shoal's TypeScript client, ${mode}, ${cluster.nodes.length} nodes`,
      processes: cluster.nodes,
      facts: { members: cluster.members },
      stop: () => cluster.stop(),
    });
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/** Starts every target (one after the other: start-up is CPU-heavy); the ones that cannot run come back as skips. */
export async function launchTargets(names: readonly TargetName[], settings: TargetSettings, log: (line: string) => void): Promise<{ targets: BenchTarget[]; skipped: Record<string, SkipRecord> }> {
  const targets: BenchTarget[] = [];
  const skipped: Record<string, SkipRecord> = {};
  try {
    for (const name of names) {
      log(`starting ${name}`);
      const started = await launchTarget(name, settings);
      if ('skipped' in started) {
        skipped[name] = started;
        log(`SKIPPED ${name}: ${started.reason}${started.install !== undefined ? ` (install: ${started.install})` : ''}`);
      } else {
        targets.push(started);
      }
    }
  } catch (error) {
    await Promise.all(targets.map((t) => t.stop()));
    throw error;
  }
  return { targets, skipped };
}
