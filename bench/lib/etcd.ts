/**
 * An etcd cluster for side-by-side comparisons: K `etcd` processes on free loopback ports
 * with one `--initial-cluster` list, data dirs under one temp dir; every process killed
 * and the dir removed on stop(), exit, error and SIGINT (node-process.ts).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { freePorts } from './free-port.ts';
import { makeTempDir, removeTempDir, spawnManaged, type ManagedProcess } from './node-process.ts';
import { etcdTarget, type BenchTarget } from './targets.ts';
import { requireExecutable } from './tools.ts';

export interface EtcdCluster {
  members: { name: string; clientUrl: string; process: ManagedProcess }[];
  version: string;
  /** Time from spawning the members until every one reported healthy (a leader elected). */
  startMs: number;
  stop(): Promise<void>;
}

export async function launchEtcdCluster(size: number, host = '127.0.0.1'): Promise<EtcdCluster> {
  const bin = requireExecutable('etcd', 'etcd-server');
  const root = makeTempDir('shoal-bench-etcd-');
  const ports = await freePorts(2 * size, host);
  const names = Array.from({ length: size }, (_, i) => `m${i + 1}`);
  const peerUrl = (i: number): string => `http://${host}:${ports[2 * i + 1] as number}`;
  const clientUrl = (i: number): string => `http://${host}:${ports[2 * i] as number}`;
  const initialCluster = names.map((name, i) => `${name}=${peerUrl(i)}`).join(',');
  const token = `shoal-bench-${randomBytes(4).toString('hex')}`;
  const started = performance.now();
  const members: EtcdCluster['members'] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(members.map((m) => m.process.stop()));
    removeTempDir(root);
  };
  try {
    for (const [i, name] of names.entries()) {
      const child = await spawnManaged({
        label: `etcd ${name}`,
        command: bin,
        args: [
          '--name', name, '--data-dir', join(root, name),
          '--listen-client-urls', clientUrl(i), '--advertise-client-urls', clientUrl(i),
          '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i),
          '--initial-cluster', initialCluster, '--initial-cluster-token', token, '--initial-cluster-state', 'new',
          '--logger', 'zap', '--log-level', 'warn',
        ],
        stopTimeoutMs: 5000,
      });
      members.push({ name, clientUrl: clientUrl(i), process: child });
    }
    await Promise.all(members.map((m) => waitHealthy(m.clientUrl, m.process, 30_000)));
  } catch (error) {
    await stop();
    throw error;
  }
  return { members, version: versionOf(bin), startMs: Math.round(performance.now() - started), stop };
}

/** etcd as a YCSB target (its JSON gateway, round robin over the members). */
export function etcdClusterTarget(cluster: EtcdCluster): BenchTarget {
  return etcdTarget({
    name: 'etcd',
    description: `etcd ${cluster.version}, ${cluster.members.length} members on loopback (defaults: every write fsynced by a quorum)`,
    clientUrls: cluster.members.map((m) => m.clientUrl),
    processes: cluster.members.map((m) => m.process),
    facts: { version: cluster.version, members: cluster.members.map((m) => ({ name: m.name, clientUrl: m.clientUrl, command: m.process.command })), startMs: cluster.startMs },
    stop: () => cluster.stop(),
  });
}

/** Polls GET /health until `{"health":"true"}` (the member sees a leader). */
async function waitHealthy(clientUrl: string, member: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer';
  while (Date.now() < deadline) {
    member.assertRunning('waiting for it to be healthy');
    try {
      const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = await res.text();
      if (res.status === 200 && body.includes('"true"')) return;
      lastError = `status ${res.status}: ${body.slice(0, 200)}`;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${member.label} not healthy after ${timeoutMs} ms (${lastError})\n${member.output()}`);
}

function versionOf(bin: string): string {
  try {
    return /etcd Version: (\S+)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
