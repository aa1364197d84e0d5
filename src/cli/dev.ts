/**
 * `shoal dev`: a local cluster of `--nodes` node processes on loopback, one `shoal start`
 * each, all given the same `--cluster` list. Node k (from 1) serves HTTP on
 * httpPort + k - 1 and internode traffic on listenPort + k - 1 (and, with --resp-port, the
 * Redis protocol on respPort + k - 1), and keeps its data in
 * DIR/node<k>. Each node's JSON log goes to DIR/node<k>.log; warnings and errors are also
 * echoed to stderr. Ctrl-C or SIGTERM stops every node cleanly (they flush), then exits.
 *
 * `--secure` runs the cluster the way a production one runs: a cluster CA and a certificate
 * per node made in DIR/certs (shoal cert), mutual TLS between the nodes, HTTPS (and Redis
 * over TLS with --resp-port: its ports are TLS, authenticated), and a users file with an
 * `admin` user whose password is made once, kept in DIR/admin-password (mode 0600) and
 * printed at every start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { makeDirectories } from '../io/dataDirLock.ts';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { adminRequest, type AdminAccess } from './adminHttp.ts';
import { createDevCertificates, type DevCertificates } from './cert.ts';
import { createAdminUser } from './user.ts';

export interface DevOptions {
  readonly nodes: string;
  readonly data: string;
  readonly httpPort: string;
  readonly listenPort: string;
  /** Absent: no Redis-protocol front end. */
  readonly respPort?: string;
  readonly host: string;
  /** Certificates, TLS everywhere and an admin user (see the file comment). */
  readonly secure?: boolean;
}

/** What a --secure cluster's nodes and the operator need. */
interface DevSecurity {
  readonly certificates: DevCertificates;
  readonly usersFile: string;
  readonly adminPassword: string;
  readonly caPem: Buffer;
}

interface DevNode {
  readonly id: string;
  readonly httpUrl: string;
  readonly respAddress: string | undefined;
  readonly security: DevSecurity | undefined;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

const NODES_MAX = 16;
const STOP_GRACE_MS = 30_000;
const START_TIMEOUT_MS = 30_000;
const SHOAL_BIN = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url));

export async function runDev(nodeArgs: readonly string[], options: DevOptions): Promise<void> {
  const settings = parseDevOptions(options);
  if (typeof settings === 'string') {
    process.stderr.write(`shoal dev: ${settings}\n`);
    process.exitCode = 2;
    return;
  }
  const ids = Array.from({ length: settings.nodes }, (_, index) => `node${index + 1}`);
  const cluster = ids.map((id, index) => `${id}@${settings.host}:${settings.listenPort + index}`).join(',');
  try {
    makeDirectories(settings.data);
  } catch (error) {
    process.stderr.write(`shoal dev: cannot create the data directory ${settings.data}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
    return;
  }
  let security: DevSecurity | undefined;
  try {
    security = options.secure === true ? await prepareSecurity(settings, ids) : undefined;
  } catch (error) {
    process.stderr.write(`shoal dev: cannot prepare certificates and users in ${settings.data}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
    return;
  }
  const nodes = ids.map((id, index) => launchNode(id, index, settings, cluster, [...securityArgs(security, id, settings, index), ...nodeArgs], security));
  let stopping = false;
  const stopAll = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\nshoal dev: ${signal}, stopping ${nodes.length} nodes…\n`);
    const codes = await Promise.all(nodes.map(stopNode));
    process.exitCode = codes.every((code) => code === 0) ? 0 : 1;
  };
  process.on('SIGINT', () => void stopAll('SIGINT'));
  process.on('SIGTERM', () => void stopAll('SIGTERM'));
  for (const node of nodes) {
    void node.exited.then((code) => {
      if (!stopping) {
        process.stderr.write(`shoal dev: ${node.id} exited unexpectedly (code ${code}); stopping the others\n`);
        void stopAll('a node exited');
      }
    });
  }
  await reportReady(nodes, settings.data);
}

interface DevSettings {
  readonly nodes: number;
  readonly data: string;
  readonly httpPort: number;
  readonly listenPort: number;
  readonly respPort: number | undefined;
  readonly host: string;
}

function parseDevOptions(options: DevOptions): DevSettings | string {
  const nodes = Number(options.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > NODES_MAX) return `--nodes must be an integer 1-${NODES_MAX}, got "${options.nodes}"`;
  const httpPort = Number(options.httpPort);
  const listenPort = Number(options.listenPort);
  const respPort = options.respPort === undefined ? undefined : Number(options.respPort);
  const ports: [string, number, string][] = [['--http-port', httpPort, options.httpPort], ['--listen-port', listenPort, options.listenPort]];
  if (respPort !== undefined) ports.push(['--resp-port', respPort, options.respPort as string]);
  for (const [name, port, text] of ports) {
    if (!Number.isInteger(port) || port < 1 || port + nodes - 1 > 65535) return `${name} must be a port 1-${65536 - nodes}, got "${text}"`;
  }
  return { nodes, data: resolve(options.data), httpPort, listenPort, respPort, host: options.host };
}

/** The cluster's CA and node certificates (made once, reused), and the admin user and its password. */
async function prepareSecurity(settings: DevSettings, ids: readonly string[]): Promise<DevSecurity> {
  const certificates = createDevCertificates(join(settings.data, 'certs'), ids, [settings.host]);
  const usersFile = join(settings.data, 'users.json');
  const passwordFile = join(settings.data, 'admin-password');
  let adminPassword: string;
  if (existsSync(usersFile) && existsSync(passwordFile)) adminPassword = readFileSync(passwordFile, 'utf8').trim();
  else {
    adminPassword = await createAdminUser(usersFile);
    writeFileSync(passwordFile, `${adminPassword}\n`, { mode: 0o600 });
  }
  return { certificates, usersFile, adminPassword, caPem: readFileSync(certificates.ca.cert) };
}

/** A --secure node's flags: its certificate, the users file; its Redis port speaks TLS. */
function securityArgs(security: DevSecurity | undefined, id: string, settings: DevSettings, index: number): string[] {
  if (security === undefined) return [];
  const own = security.certificates.nodes.get(id);
  if (own === undefined) throw new Error(`no certificate made for ${id}`);
  const resp = settings.respPort === undefined ? [] : ['--resp-tls', `${settings.host}:${settings.respPort + index}`];
  return ['--tls-ca', security.certificates.ca.cert, '--tls-cert', own.cert, '--tls-key', own.key, '--users-file', security.usersFile, ...resp];
}

function launchNode(id: string, index: number, settings: DevSettings, cluster: string, extraArgs: readonly string[], security: DevSecurity | undefined): DevNode {
  const scheme = security === undefined ? 'http' : 'https';
  const http = `${settings.host}:${settings.httpPort + index}`;
  const resp = settings.respPort === undefined ? undefined : `${settings.host}:${settings.respPort + index}`;
  const plainResp = resp === undefined || security !== undefined ? [] : ['--resp', resp];
  const args = [
    SHOAL_BIN, 'start', '--id', id, '--cluster', cluster, '--listen', `${settings.host}:${settings.listenPort + index}`,
    '--http', http, ...plainResp, '--data', join(settings.data, id), ...extraArgs,
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(join(settings.data, `${id}.log`), { flags: 'a' });
  child.stdout?.pipe(log);
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(`[${id}] ${chunk.toString()}`));
  echoWarnings(id, child);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { id, httpUrl: `${scheme}://${http}`, respAddress: resp, security, child, exited };
}

/** Echoes a node's warn/error log lines (pino levels >= 40) to stderr, prefixed with its id. */
function echoWarnings(id: string, child: ChildProcess): void {
  if (child.stdout === null) return;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const level = /"level":(\d+)/.exec(line)?.[1];
    if (level !== undefined && Number(level) >= 40) process.stderr.write(`[${id}] ${line}\n`);
  });
}

async function reportReady(nodes: readonly DevNode[], data: string): Promise<void> {
  const ready = await Promise.all(nodes.map((node) => waitServing(node)));
  if (!ready.every(Boolean)) return;
  process.stdout.write(`shoal dev: ${nodes.length} nodes serving (data and logs in ${data}); Ctrl-C stops them\n`);
  const security = nodes[0]?.security;
  const redis = security === undefined ? 'redis' : 'redis+tls';
  for (const node of nodes) process.stdout.write(`  ${node.id}  ${node.httpUrl}${node.respAddress === undefined ? '' : `  ${redis} ${node.respAddress}`}\n`);
  if (security !== undefined) printSecureUsage(security, nodes[0] as DevNode);
}

function printSecureUsage(security: DevSecurity, first: DevNode): void {
  const ca = security.certificates.ca.cert;
  process.stdout.write(
    [
      `  TLS everywhere, clients authenticate. CA: ${ca}`,
      `  admin password: ${security.adminPassword}  (user admin; kept in ${join(dirname(security.usersFile), 'admin-password')})`,
      `  try: curl --cacert ${ca} -u admin:${security.adminPassword} -X PUT --data hello ${first.httpUrl}/kv/greeting`,
      `       shoal admin status --node ${first.httpUrl} --ca ${ca} --user admin --password ${security.adminPassword}`,
      '',
    ].join('\n'),
  );
}

/** Polls the node's status endpoint until it answers 200 (true), or it exits / times out (false). */
async function waitServing(node: DevNode): Promise<boolean> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited = false;
  void node.exited.then(() => (exited = true));
  while (!exited && Date.now() < deadline) {
    const answer = await adminRequest(new URL('/admin/status', node.httpUrl), z.unknown(), { access: accessOf(node.security), timeoutMs: 1000 });
    if (answer.kind === 'ok') return true;
    await new Promise((done) => setTimeout(done, 100));
  }
  if (!exited) process.stderr.write(`shoal dev: ${node.id} did not start within ${START_TIMEOUT_MS} ms\n`);
  return false;
}

/** How to reach a node: as the admin, trusting the dev CA, when --secure. */
function accessOf(security: DevSecurity | undefined): AdminAccess {
  return security === undefined ? {} : { auth: { user: 'admin', password: security.adminPassword }, ca: security.caPem };
}

async function stopNode(node: DevNode): Promise<number | null> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return node.child.exitCode;
  node.child.kill('SIGTERM');
  const timer = setTimeout(() => node.child.kill('SIGKILL'), STOP_GRACE_MS);
  const code = await node.exited;
  clearTimeout(timer);
  return code;
}
