/**
 * A private test network of Linux network namespaces, for fault tests on a real network
 * stack (needs root, `ip` from iproute2 and `iptables`).
 *
 * Layout, for a run of process PID with a random 4-hex-digit TAG:
 *
 *   shoal-realnet-PID-TAG-sw   the switch: a bridge `br0` and one veth end per member
 *   shoal-realnet-PID-TAG-n1…  one namespace per node: `lo` up, `eth0` = 10.213.X.(10+k)/24
 *   rnPID-TAG                  a veth in the root namespace, 10.213.X.1/24, plugged into the
 *                              bridge: the test process (the client) reaches every node by it
 *
 * X is picked so that no address or route of the root namespace uses 10.213.X.0/24. The
 * bridge lives in its own namespace, so the root namespace's firewall never sees the
 * nodes' traffic, and deleting the switch namespace removes the root veth with it. Faults
 * are iptables rules inside the nodes' namespaces (each has its own, empty, tables), so
 * nothing outside the test's namespaces is touched.
 *
 * Cleanup is synchronous (spawnSync) so that it can also run from a process 'exit' hook.
 * Namespaces (with the processes inside), root veths and temporary directories left by a
 * run whose process is gone (a crash, a SIGKILL) are found by the PID in their names and
 * removed before a new run creates its own.
 */
import { spawnSync, execFile } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const NAMESPACE_PREFIX = 'shoal-realnet-';
/** The run's temporary directory (node data and logs) under os.tmpdir(): `shoal-realnet-PID-…`. */
export const TEMP_DIRECTORY_PREFIX = `shoal-realnet-${process.pid}-`;
const TEMP_DIRECTORY_PATTERN = /^shoal-realnet-(\d+)-/;
const NAMESPACE_PATTERN = /^shoal-realnet-(\d+)-[0-9a-f]{4}-/;
const ROOT_LINK_PATTERN = /^rn(\d+)-[0-9a-f]{4}$/;
/** 10.213.X.0/24 for X in this range: private, and unlikely to be anyone else's. */
const SUBNET_THIRD_OCTET_FIRST = 100;
const SUBNET_THIRD_OCTET_LAST = 249;
const NODE_HOST_FIRST = 11;
const COMMAND_MS_MAX = 10_000;

/** Absolute paths of the tools, found on PATH or in the sbin directories. */
export interface NetTools {
  readonly ip: string;
  readonly iptables: string;
}

export interface TestNet {
  readonly tools: NetTools;
  readonly switchNamespace: string;
  /** One per node, in node order. */
  readonly nodeNamespaces: readonly string[];
  /** The node addresses, in node order. */
  readonly nodeAddresses: readonly string[];
  /** The root namespace's address on the test subnet: where the client's traffic comes from. */
  readonly clientAddress: string;
  readonly rootLink: string;
  readonly subnet: string;
}

/** Why this machine cannot run the test (undefined: it can try). */
export function missingPrerequisite(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, veth pairs, iptables)';
  if (findTool('ip') === undefined) return 'ip not found: install iproute2 (apt-get install -y iproute2)';
  if (findTool('iptables') === undefined) return 'iptables not found: install it (apt-get install -y iptables)';
  return undefined;
}

export function netTools(): NetTools {
  const ip = findTool('ip');
  const iptables = findTool('iptables');
  if (ip === undefined || iptables === undefined) throw new Error('ip or iptables not found');
  return { ip, iptables };
}

function findTool(name: string): string | undefined {
  const directories = [...(process.env.PATH ?? '').split(':').filter((dir) => dir !== ''), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of directories) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Runs a command, failing with its stderr. */
async function run(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { timeout: COMMAND_MS_MAX });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || (error instanceof Error ? error.message : String(error))}`);
  }
}

/** Runs a command for cleanup: failures are returned, never thrown. */
function runQuietly(command: string, args: readonly string[]): { ok: boolean; stdout: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: COMMAND_MS_MAX });
  return { ok: result.status === 0, stdout: result.stdout ?? '' };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function namespacesNow(tools: NetTools): string[] {
  return runQuietly(tools.ip, ['netns', 'list'])
    .stdout.split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

/** Kills every process inside the namespace (SIGCONT first, for stopped ones), then deletes it. */
function deleteNamespace(tools: NetTools, namespace: string): void {
  const pids = runQuietly(tools.ip, ['netns', 'pids', namespace])
    .stdout.split('\n')
    .map(Number)
    .filter((pid) => Number.isSafeInteger(pid) && pid > 0);
  for (const pid of pids) {
    for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }
  runQuietly(tools.ip, ['netns', 'del', namespace]);
}

/**
 * Removes the namespaces, root veths and temporary directories of earlier runs whose process
 * is gone. Those of a live process (another run going on now) are left alone. Returns what
 * was removed.
 */
export function removeLeftovers(tools: NetTools): string[] {
  const removed: string[] = [];
  for (const namespace of namespacesNow(tools)) {
    const match = NAMESPACE_PATTERN.exec(namespace);
    if (match === null || processAlive(Number(match[1]))) continue;
    deleteNamespace(tools, namespace);
    removed.push(namespace);
  }
  const links = runQuietly(tools.ip, ['-o', 'link', 'show']).stdout.split('\n');
  for (const line of links) {
    const name = line.split(':')[1]?.trim().split('@')[0] ?? '';
    const match = ROOT_LINK_PATTERN.exec(name);
    if (match === null || processAlive(Number(match[1]))) continue;
    runQuietly(tools.ip, ['link', 'del', name]);
    removed.push(name);
  }
  for (const entry of readdirSync(tmpdir())) {
    const match = TEMP_DIRECTORY_PATTERN.exec(entry);
    if (match === null || processAlive(Number(match[1]))) continue;
    rmSync(join(tmpdir(), entry), { recursive: true, force: true });
    removed.push(join(tmpdir(), entry));
  }
  return removed;
}

/** A /24 under 10.213.0.0/16 that no root-namespace address or route mentions. */
async function freeSubnetPrefix(tools: NetTools): Promise<string> {
  const inUse = (await run(tools.ip, ['-4', '-o', 'addr', 'show'])) + (await run(tools.ip, ['-4', 'route', 'show', 'table', 'all']));
  const span = SUBNET_THIRD_OCTET_LAST - SUBNET_THIRD_OCTET_FIRST + 1;
  for (let attempt = 0; attempt < span; attempt++) {
    const third = SUBNET_THIRD_OCTET_FIRST + ((process.pid + attempt) % span);
    const prefix = `10.213.${third}`;
    if (!inUse.includes(`${prefix}.`)) return prefix;
  }
  throw new Error('no free 10.213.X.0/24 subnet');
}

/** Everything a TestNet made, for cleanup: filled in as it is made. */
export interface NetResources {
  readonly tools: NetTools;
  readonly namespaces: string[];
  rootLink: string | undefined;
}

/**
 * Creates the network (see the file comment). `resources` is filled in as each piece is
 * made, so a failure halfway leaves nothing that `destroyNet(resources)` misses.
 */
export async function createNet(tools: NetTools, nodeCount: number, resources: NetResources): Promise<TestNet> {
  const tag = randomBytes(2).toString('hex');
  const base = `${NAMESPACE_PREFIX}${process.pid}-${tag}`;
  const switchNamespace = `${base}-sw`;
  const nodeNamespaces = Array.from({ length: nodeCount }, (_, index) => `${base}-n${index + 1}`);
  const rootLink = `rn${process.pid}-${tag}`;
  const prefix = await freeSubnetPrefix(tools);
  const clientAddress = `${prefix}.1`;
  const nodeAddresses = nodeNamespaces.map((_, index) => `${prefix}.${NODE_HOST_FIRST + index}`);
  const ip = (...args: string[]): Promise<string> => run(tools.ip, args);

  for (const namespace of [switchNamespace, ...nodeNamespaces]) {
    await ip('netns', 'add', namespace);
    resources.namespaces.push(namespace);
  }
  await ip('-n', switchNamespace, 'link', 'set', 'lo', 'up');
  await ip('-n', switchNamespace, 'link', 'add', 'br0', 'type', 'bridge');
  await ip('-n', switchNamespace, 'link', 'set', 'br0', 'up');

  resources.rootLink = rootLink;
  await ip('link', 'add', rootLink, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', switchNamespace);
  await ip('-n', switchNamespace, 'link', 'set', 'uplink', 'master', 'br0', 'up');
  await ip('addr', 'add', `${clientAddress}/24`, 'dev', rootLink);
  await ip('link', 'set', rootLink, 'up');

  for (const [index, namespace] of nodeNamespaces.entries()) {
    const port = `port${index + 1}`;
    await ip('-n', switchNamespace, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace);
    await ip('-n', switchNamespace, 'link', 'set', port, 'master', 'br0', 'up');
    await ip('-n', namespace, 'link', 'set', 'lo', 'up');
    await ip('-n', namespace, 'addr', 'add', `${nodeAddresses[index]}/24`, 'dev', 'eth0');
    await ip('-n', namespace, 'link', 'set', 'eth0', 'up');
  }
  return { tools, switchNamespace, nodeNamespaces, nodeAddresses, clientAddress, rootLink, subnet: `${prefix}.0/24` };
}

/** Deletes every namespace (killing what runs inside) and the root veth. Synchronous, idempotent. */
export function destroyNet(resources: NetResources): void {
  for (const namespace of resources.namespaces.splice(0)) deleteNamespace(resources.tools, namespace);
  if (resources.rootLink !== undefined) {
    // Normally gone with the switch namespace; this catches a failure between the two.
    if (runQuietly(resources.tools.ip, ['link', 'show', resources.rootLink]).ok) runQuietly(resources.tools.ip, ['link', 'del', resources.rootLink]);
    resources.rootLink = undefined;
  }
}

/** iptables in a namespace (`-w`: wait for the xtables lock other runs may hold). */
export async function iptables(net: TestNet, namespace: string, args: readonly string[]): Promise<void> {
  await run(net.tools.ip, ['netns', 'exec', namespace, net.tools.iptables, '-w', ...args]);
}

/** The namespace hears nothing from `sources` (its INPUT drops their packets). */
export async function dropFrom(net: TestNet, namespace: string, sources: readonly string[]): Promise<void> {
  await iptables(net, namespace, ['-A', 'INPUT', '-s', sources.join(','), '-j', 'DROP']);
}

/** The namespace sends nothing to `destinations` (its OUTPUT drops their packets). */
export async function dropTo(net: TestNet, namespace: string, destinations: readonly string[]): Promise<void> {
  await iptables(net, namespace, ['-A', 'OUTPUT', '-d', destinations.join(','), '-j', 'DROP']);
}

/** Removes every filter rule of the namespace (its tables are the test's alone). */
export async function flushRules(net: TestNet, namespace: string): Promise<void> {
  await iptables(net, namespace, ['-F']);
}
