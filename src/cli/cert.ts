/**
 * `shoal cert create-ca | create-node | create-client`: the cluster CA and the certificates
 * it signs (io/certificates.ts), as PEM files in one directory:
 *
 *   ca.crt, ca.key                   the cluster CA (every node's tlsCa is ca.crt; the key
 *                                    is needed only where certificates are made)
 *   node-<id>.crt, node-<id>.key     a node's tlsCert and tlsKey
 *   client-<user>.crt, .key          a client's
 *
 * Keys are written with mode 0600 and certificates 0644 whatever the umask, and synced to
 * disk; a directory made here is 0700. No file is replaced without --overwrite.
 *
 * Exit codes: 0 written, 1 refused or failed (a file exists, no CA, a CA that cannot sign,
 * a file that cannot be written), 2 usage (a bad id, user, host or --valid-days).
 */
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import {
  CA_VALID_DAYS_DEFAULT, CertificateError, certificateIdentity, checkName, CLIENT_VALID_DAYS_DEFAULT, createCertificateAuthority,
  createClientCertificate, createNodeCertificate, NODE_VALID_DAYS_DEFAULT, nodeCertificateHosts, VALID_DAYS_MAX,
  type CertificateAndKey, type CertificateErrorCode, type CertificateRole,
} from '../io/certificates.ts';
import { makeDirectories } from '../io/dataDirLock.ts';
import { reasonOf, unlinkQuietly } from '../io/files.ts';

export interface CertificatePaths {
  readonly cert: string;
  readonly key: string;
}

/** The client certificate `createDevCertificates` makes, for the admin commands against a secure dev cluster. */
export const DEV_CLIENT_USER = 'admin';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;
const DIRECTORY_MODE = 0o700;
const CA_KEY_HELP = 'the CA key (default DIR/ca.key)';
/** A certificate this close to its end is made again by createDevCertificates rather than kept. */
const REUSE_VALIDITY_MS_MIN = 24 * 60 * 60 * 1000;
/** Bad input, not a failure: exit code 2. */
const USAGE_CODES: ReadonlySet<CertificateErrorCode> = new Set(['NAME_INVALID', 'COMMON_NAME_INVALID', 'HOST_INVALID', 'HOSTS_TOO_MANY', 'VALID_DAYS_INVALID']);

/** A certificate file that exists, is missing, or cannot be read or written; the message names it. */
export class CertFileError extends Error {
  readonly code = 'CERT_FILE_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CertFileError';
  }
}

/** A bad flag value (exit code 2). */
class CertUsageError extends Error {}

// ---- file names ----

/** `DIR/ca.crt`, and the CA key at `caKey` (default `DIR/ca.key`). */
export function caPaths(dir: string, caKey?: string): CertificatePaths {
  return { cert: join(dir, 'ca.crt'), key: caKey ?? join(dir, 'ca.key') };
}

/** `DIR/node-<id>.crt` and `.key`; throws a CertificateError for an id that is not a valid node id. */
export function nodeCertPaths(dir: string, nodeId: string): CertificatePaths {
  const id = checkName(nodeId, 'node id');
  return { cert: join(dir, `node-${id}.crt`), key: join(dir, `node-${id}.key`) };
}

/** `DIR/client-<user>.crt` and `.key`; throws a CertificateError for a name that is not a valid user name. */
export function clientCertPaths(dir: string, user: string): CertificatePaths {
  const name = checkName(user, 'user name');
  return { cert: join(dir, `client-${name}.crt`), key: join(dir, `client-${name}.key`) };
}

// ---- commands ----

interface CommonOptions {
  readonly certsDir: string;
  readonly caKey?: string;
  readonly validDays?: string;
  readonly overwrite?: boolean;
}

interface NodeOptions extends CommonOptions {
  readonly host: readonly string[];
}

export function addCertCommands(cert: Command): void {
  const createCa = cert.command('create-ca').description('make the cluster CA: DIR/ca.crt and its key');
  common(createCa, 'where to write the CA key (default DIR/ca.key)', `how long the CA is valid (default ${CA_VALID_DAYS_DEFAULT})`)
    .action((options: CommonOptions) => run('create-ca', () => createCaFiles(options)));

  const createNode = cert
    .command('create-node')
    .description("make a node's certificate and key, signed by the CA: DIR/node-ID.crt and DIR/node-ID.key")
    .argument('<id>', 'the node id (its --id)')
    .requiredOption('--host <names>', 'DNS names and IP addresses the node is reached at, comma-separated or repeated (localhost, 127.0.0.1 and ::1 are always added)', addHosts);
  common(createNode, CA_KEY_HELP, validDaysHelp(NODE_VALID_DAYS_DEFAULT))
    .action((id: string, options: NodeOptions) => run('create-node', () => createNodeFiles(id, options)));

  const createClient = cert
    .command('create-client')
    .description("make a client's certificate and key, signed by the CA: DIR/client-USER.crt and DIR/client-USER.key")
    .argument('<user>', 'the user name');
  common(createClient, CA_KEY_HELP, validDaysHelp(CLIENT_VALID_DAYS_DEFAULT))
    .action((user: string, options: CommonOptions) => run('create-client', () => createClientFiles(user, options)));
}

function validDaysHelp(fallback: number): string {
  return `how long the certificate is valid (default ${fallback}; never past the CA's end)`;
}

function common(command: Command, caKeyHelp: string, validDaysHelpText: string): Command {
  return command
    .requiredOption('--certs-dir <dir>', 'the directory of ca.crt and the certificates (made if missing)')
    .option('--ca-key <file>', caKeyHelp)
    .option('--valid-days <days>', validDaysHelpText)
    .option('--overwrite', 'replace files that exist');
}

function addHosts(value: string, previous: readonly string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',')];
}

/** Runs a command: its lines on stdout, or its error on stderr and the exit code. */
function run(command: string, make: () => readonly string[]): void {
  try {
    for (const line of make()) process.stdout.write(`${line}\n`);
  } catch (error) {
    const exitCode = exitCodeOf(error);
    if (exitCode === undefined) throw error;
    process.stderr.write(`shoal cert ${command}: ${(error as Error).message}\n`);
    process.exitCode = exitCode;
  }
}

function exitCodeOf(error: unknown): number | undefined {
  if (error instanceof CertUsageError) return EXIT_USAGE;
  if (error instanceof CertificateError) return USAGE_CODES.has(error.code) ? EXIT_USAGE : EXIT_FAILURE;
  if (error instanceof CertFileError) return EXIT_FAILURE;
  return undefined;
}

function createCaFiles(options: CommonOptions): string[] {
  const validDays = parseValidDays(options.validDays, CA_VALID_DAYS_DEFAULT);
  const paths = caPaths(options.certsDir, options.caKey);
  prepare(paths, options);
  const ca = createCertificateAuthority({ validDays });
  writePair(paths, ca, options.overwrite === true);
  return [
    `wrote ${paths.key}: the CA's private key (mode 0600); keep it where certificates are made, not on the nodes`,
    `wrote ${paths.cert}: ${summary(ca.certPem)}; every node's --tls-ca`,
  ];
}

function createNodeFiles(id: string, options: NodeOptions): string[] {
  const paths = nodeCertPaths(options.certsDir, id);
  const hosts = nodeCertificateHosts(options.host);
  const validDays = parseValidDays(options.validDays, NODE_VALID_DAYS_DEFAULT);
  const ca = readCa(options);
  prepare(paths, options);
  const pair = signWithCa(ca, options, () => createNodeCertificate(ca, { nodeId: id, hosts: options.host, validDays }));
  writePair(paths, pair, options.overwrite === true);
  return [
    `wrote ${paths.key}: node ${id}'s private key (mode 0600)`,
    `wrote ${paths.cert}: ${summary(pair.certPem)}; names ${hosts.join(', ')}`,
    `start node ${id} with --tls-ca ${caPaths(options.certsDir, options.caKey).cert} --tls-cert ${paths.cert} --tls-key ${paths.key}`,
  ];
}

function createClientFiles(user: string, options: CommonOptions): string[] {
  const paths = clientCertPaths(options.certsDir, user);
  const validDays = parseValidDays(options.validDays, CLIENT_VALID_DAYS_DEFAULT);
  const ca = readCa(options);
  prepare(paths, options);
  const pair = signWithCa(ca, options, () => createClientCertificate(ca, { user, validDays }));
  writePair(paths, pair, options.overwrite === true);
  return [`wrote ${paths.key}: ${user}'s private key (mode 0600)`, `wrote ${paths.cert}: ${summary(pair.certPem)}`];
}

function parseValidDays(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const days = /^[0-9]{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (days >= 1 && days <= VALID_DAYS_MAX) return days;
  throw new CertUsageError(`--valid-days must be a whole number of days 1-${VALID_DAYS_MAX}, got ${JSON.stringify(text)}`);
}

function readCa(options: CommonOptions): CertificateAndKey {
  const paths = caPaths(options.certsDir, options.caKey);
  const hint = `make the CA first with shoal cert create-ca --certs-dir ${options.certsDir}${options.caKey === undefined ? '' : ` --ca-key ${options.caKey}`}`;
  return { certPem: readText(paths.cert, 'the CA certificate', hint), keyPem: readText(paths.key, 'the CA key', hint) };
}

/** Signs, naming the CA's files when the CA is what is wrong. */
function signWithCa(ca: CertificateAndKey, options: CommonOptions, sign: () => CertificateAndKey): CertificateAndKey {
  try {
    return sign();
  } catch (error) {
    if (!(error instanceof CertificateError) || USAGE_CODES.has(error.code)) throw error;
    const paths = caPaths(options.certsDir, options.caKey);
    throw new CertificateError(error.code, `${error.message} (CA certificate ${paths.cert}, CA key ${paths.key})`, { cause: error });
  }
}

/** Makes the directories and refuses, before anything is made, to replace a file without `overwrite`. */
function prepare(paths: CertificatePaths, options: CommonOptions): void {
  ensureDirectory(options.certsDir);
  ensureDirectory(dirname(paths.key));
  if (options.overwrite === true) return;
  for (const path of [paths.key, paths.cert]) {
    if (exists(path)) throw new CertFileError(`${path} exists; give --overwrite to replace it`);
  }
}

/** "O=shoal, OU=node, CN=n1, valid until 2031-12-06T12:03:32Z". */
function summary(certPem: string): string {
  const certificate = new X509Certificate(certPem);
  const until = new Date(Date.parse(certificate.validTo)).toISOString().replace('.000Z', 'Z');
  return `${certificate.subject.split('\n').join(', ')}, valid until ${until}`;
}

// ---- shoal dev --secure ----

export interface DevCertificates {
  readonly ca: CertificatePaths;
  readonly nodes: ReadonlyMap<string, CertificatePaths>;
  /** The client certificate of DEV_CLIENT_USER. */
  readonly client: CertificatePaths;
  /** The files made this time (none when everything was already there). */
  readonly written: readonly string[];
}

/**
 * The certificates of a local secure cluster in `dir`: a CA, one certificate per node
 * naming `hosts` (and the local names), and one for the client DEV_CLIENT_USER. Running it
 * again keeps what is there: the CA always (a CA half there, without its key or its
 * certificate, is an error rather than replaced), and each other certificate that the CA
 * signed for the same holder and hosts, with its key, valid for a day more at least; any
 * other is made again in place. Throws CertificateError or CertFileError.
 */
export function createDevCertificates(dir: string, nodeIds: readonly string[], hosts: readonly string[]): DevCertificates {
  const nodes = new Map(nodeIds.map((id) => [id, nodeCertPaths(dir, id)] as const));
  const client = clientCertPaths(dir, DEV_CLIENT_USER);
  const names = nodeCertificateHosts(hosts);
  ensureDirectory(dir);
  const written: string[] = [];
  const caFiles = caPaths(dir);
  const ca = reuseOrCreateCa(caFiles, written);
  const caCertificate = parseCertificate(ca.certPem, caFiles.cert);
  for (const [id, paths] of nodes) {
    if (reusable(paths, caCertificate, 'node', id, names)) continue;
    written.push(...writePair(paths, createNodeCertificate(ca, { nodeId: id, hosts }), true));
  }
  if (!reusable(client, caCertificate, 'client', DEV_CLIENT_USER, [])) {
    written.push(...writePair(client, createClientCertificate(ca, { user: DEV_CLIENT_USER }), true));
  }
  return { ca: caFiles, nodes, client, written };
}

function reuseOrCreateCa(paths: CertificatePaths, written: string[]): CertificateAndKey {
  const certThere = exists(paths.cert);
  const keyThere = exists(paths.key);
  if (certThere && keyThere) return { certPem: readText(paths.cert, 'the CA certificate'), keyPem: readText(paths.key, 'the CA key') };
  if (certThere || keyThere) {
    const [there, missing] = certThere ? [paths.cert, paths.key] : [paths.key, paths.cert];
    throw new CertFileError(`${missing} is missing beside ${there}: restore it, or delete ${there} to make a new CA (and new certificates)`);
  }
  const ca = createCertificateAuthority();
  written.push(...writePair(paths, ca, false));
  return ca;
}

/** An existing certificate and key worth keeping (see createDevCertificates). */
function reusable(paths: CertificatePaths, caCertificate: X509Certificate, role: CertificateRole, name: string, hosts: readonly string[]): boolean {
  if (!exists(paths.cert) || !exists(paths.key)) return false;
  try {
    const certificate = new X509Certificate(readFileSync(paths.cert));
    const identity = certificateIdentity(certificate);
    return (
      certificate.checkIssued(caCertificate) &&
      certificate.verify(caCertificate.publicKey) &&
      certificate.checkPrivateKey(createPrivateKey(readFileSync(paths.key))) &&
      identity?.role === role &&
      identity.name === name &&
      Date.parse(certificate.validTo) - Date.now() >= REUSE_VALIDITY_MS_MIN &&
      hosts.every((host) => (isIP(host) === 0 ? certificate.checkHost(host) : certificate.checkIP(host)) !== undefined)
    );
  } catch {
    return false; // unreadable or not PEM: made again
  }
}

// ---- files ----

/** Writes the key (0600), then the certificate (0644); returns their paths. */
function writePair(paths: CertificatePaths, pair: CertificateAndKey, overwrite: boolean): string[] {
  writeSecurely(paths.key, pair.keyPem, KEY_MODE, overwrite);
  try {
    writeSecurely(paths.cert, pair.certPem, CERT_MODE, overwrite);
  } catch (error) {
    // A new key without its certificate would only stand in the way of trying again.
    if (!overwrite) unlinkQuietly(paths.key);
    throw error;
  }
  syncDirectory(dirname(paths.cert));
  if (dirname(paths.key) !== dirname(paths.cert)) syncDirectory(dirname(paths.key));
  return [paths.cert, paths.key];
}

/**
 * Writes `text` to `path` with exactly `mode` and syncs it. A new file is created
 * exclusively (an existing one is refused); with `overwrite` the text goes to a new file
 * beside it that is then renamed over it, so a reader sees the old file or the new one, and
 * a key never sits for a moment under the old file's mode.
 */
function writeSecurely(path: string, text: string, mode: number, overwrite: boolean): void {
  if (!overwrite) {
    writeNewFile(path, text, mode);
    return;
  }
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeNewFile(temporary, text, mode);
  try {
    renameSync(temporary, path);
  } catch (error) {
    unlinkQuietly(temporary);
    throw new CertFileError(`cannot replace ${path}: ${reasonOf(error)}`, { cause: error });
  }
}

function writeNewFile(path: string, text: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new CertFileError(`${path} exists; give --overwrite to replace it`, { cause: error });
    throw new CertFileError(`cannot create ${path}: ${reasonOf(error)}`, { cause: error });
  }
  try {
    fchmodSync(fd, mode); // openSync's mode passes through the umask
    writeFileSync(fd, text);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkQuietly(path);
    throw new CertFileError(`cannot write ${path}: ${reasonOf(error)}`, { cause: error });
  }
  closeSync(fd);
}

/** Makes `dir` (mode 0700) and its parents when missing; leaves an existing directory as it is. */
function ensureDirectory(dir: string): void {
  if (exists(dir)) {
    if (!statSync(dir).isDirectory()) throw new CertFileError(`${dir} is not a directory`);
    return;
  }
  try {
    makeDirectories(dirname(dir));
    mkdirSync(dir, { mode: DIRECTORY_MODE });
    chmodSync(dir, DIRECTORY_MODE); // mkdir's mode passes through the umask
  } catch (error) {
    throw new CertFileError(`cannot create the directory ${dir}: ${reasonOf(error)}`, { cause: error });
  }
}

/** So that the new names survive a crash as well as the contents do (best effort: not every platform can). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // the files themselves are synced
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function readText(path: string, what: string, hintWhenMissing?: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    if (missing && hintWhenMissing !== undefined) throw new CertFileError(`${what} ${path} does not exist; ${hintWhenMissing}`, { cause: error });
    throw new CertFileError(`cannot read ${what} ${path}: ${reasonOf(error)}`, { cause: error });
  }
}

function parseCertificate(pem: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new CertFileError(`${path} is not a PEM certificate: ${reasonOf(error)}`, { cause: error });
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new CertFileError(`cannot look at ${path}: ${reasonOf(error)}`, { cause: error });
  }
}


