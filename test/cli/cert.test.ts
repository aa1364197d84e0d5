/**
 * `shoal cert create-ca | create-node | create-client` through runCli (in this process),
 * and createDevCertificates: the files, their modes, what they verify against, and the
 * refusals.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { CertFileError, caPaths, clientCertPaths, createDevCertificates, DEV_CLIENT_USER, nodeCertPaths } from '../../src/cli/cert.ts';
import { runCli } from '../../src/cli/program.ts';
import { CertificateError, certificateIdentity } from '../../src/io/certificates.ts';

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * `shoal ARGS` in this process, its output captured and its exit code returned (and reset).
 * Only text is captured: the test runner's own reports, which go to stdout as bytes, pass.
 */
async function shoal(args: readonly string[]): Promise<Run> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const writeOut = process.stdout.write;
  const writeErr = process.stderr.write;
  process.stdout.write = capture(stdout, writeOut.bind(process.stdout));
  process.stderr.write = capture(stderr, writeErr.bind(process.stderr));
  try {
    const returned = await runCli(['node', 'shoal', ...args]);
    const code = returned ?? (typeof process.exitCode === 'number' ? process.exitCode : 0);
    return { code, stdout: stdout.join(''), stderr: stderr.join('') };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
    process.exitCode = undefined;
  }
}

function capture(into: string[], write: typeof process.stdout.write): typeof process.stdout.write {
  return ((chunk: string | Uint8Array, ...rest: never[]) => (typeof chunk === 'string' ? into.push(chunk) > 0 : write(chunk, ...rest))) as typeof process.stdout.write;
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-cert-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

function certificateAt(path: string): X509Certificate {
  return new X509Certificate(readFileSync(path));
}

/** Runs with the given umask, restoring the old one after. */
async function withUmask<T>(mask: number, run: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask);
  try {
    return await run();
  } finally {
    process.umask(previous);
  }
}

test('create-ca, create-node and create-client write the files, keys 0600 and certificates 0644 whatever the umask', async (t) => {
  const dir = join(tempDir(t), 'deep', 'certs');
  const ca = await withUmask(0o077, () => shoal(['cert', 'create-ca', '--certs-dir', dir]));
  assert.equal(ca.code, 0, ca.stderr);
  const node = await withUmask(0o000, () => shoal(['cert', 'create-node', 'n1', '--host', 'db1.example.com,10.0.0.5', '--host', 'fe80::1', '--certs-dir', dir]));
  assert.equal(node.code, 0, node.stderr);
  const client = await shoal(['cert', 'create-client', 'alice', '--certs-dir', dir, '--valid-days', '30']);
  assert.equal(client.code, 0, client.stderr);

  assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'ca.key', 'client-alice.crt', 'client-alice.key', 'node-n1.crt', 'node-n1.key']);
  assert.equal(modeOf(dir), 0o700, 'a directory made here');
  for (const file of ['ca.key', 'node-n1.key', 'client-alice.key']) assert.equal(modeOf(join(dir, file)), 0o600, file);
  for (const file of ['ca.crt', 'node-n1.crt', 'client-alice.crt']) assert.equal(modeOf(join(dir, file)), 0o644, file);
  for (const file of ['ca.crt', 'ca.key']) assert.ok(ca.stdout.includes(join(dir, file)), `create-ca names ${file}`);
  for (const file of ['node-n1.crt', 'node-n1.key']) assert.ok(node.stdout.includes(join(dir, file)), `create-node names ${file}`);
  for (const file of ['client-alice.crt', 'client-alice.key']) assert.ok(client.stdout.includes(join(dir, file)), `create-client names ${file}`);
  assert.match(node.stdout, /names db1\.example\.com, 10\.0\.0\.5, fe80::1, localhost, 127\.0\.0\.1, ::1/);

  const caCertificate = certificateAt(join(dir, 'ca.crt'));
  const nodeCertificate = certificateAt(join(dir, 'node-n1.crt'));
  assert.ok(nodeCertificate.verify(caCertificate.publicKey));
  assert.ok(nodeCertificate.checkIssued(caCertificate));
  assert.deepEqual(certificateIdentity(nodeCertificate), { role: 'node', name: 'n1' });
  assert.equal(nodeCertificate.checkHost('db1.example.com'), 'db1.example.com');
  assert.equal(nodeCertificate.checkIP('fe80::1'), 'fe80::1');
  const clientCertificate = certificateAt(join(dir, 'client-alice.crt'));
  assert.ok(clientCertificate.verify(caCertificate.publicKey));
  assert.deepEqual(certificateIdentity(clientCertificate), { role: 'client', name: 'alice' });
  assert.ok(Date.parse(clientCertificate.validTo) - Date.now() < 31 * 86_400_000, '--valid-days 30');
});

test('no file is replaced without --overwrite; with it the new key is 0600 again', async (t) => {
  const dir = tempDir(t);
  assert.equal((await shoal(['cert', 'create-ca', '--certs-dir', dir])).code, 0);
  assert.equal((await shoal(['cert', 'create-node', 'n1', '--host', 'h1', '--certs-dir', dir])).code, 0);
  const caBefore = readFileSync(join(dir, 'ca.crt'), 'utf8');
  const keyBefore = readFileSync(join(dir, 'node-n1.key'), 'utf8');

  const again = await shoal(['cert', 'create-ca', '--certs-dir', dir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /ca\.(key|crt) exists; give --overwrite to replace it/);
  assert.ok(again.stderr.includes(dir), 'names the file with its directory');
  assert.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), caBefore);

  const nodeAgain = await shoal(['cert', 'create-node', 'n1', '--host', 'h1', '--certs-dir', dir]);
  assert.equal(nodeAgain.code, 1);
  assert.ok(nodeAgain.stderr.includes(`${join(dir, 'node-n1.key')} exists`), nodeAgain.stderr);
  assert.equal(readFileSync(join(dir, 'node-n1.key'), 'utf8'), keyBefore);

  unlinkSync(join(dir, 'node-n1.key'));
  const certOnly = await shoal(['cert', 'create-node', 'n1', '--host', 'h1', '--certs-dir', dir]);
  assert.equal(certOnly.code, 1, 'the certificate alone is still there');
  assert.ok(certOnly.stderr.includes(`${join(dir, 'node-n1.crt')} exists`), certOnly.stderr);
  assert.ok(!existsSync(join(dir, 'node-n1.key')), 'nothing written when refused');

  writeFileSync(join(dir, 'node-n1.key'), keyBefore);
  chmodSync(join(dir, 'node-n1.key'), 0o644);
  const replaced = await shoal(['cert', 'create-node', 'n1', '--host', 'h1', '--certs-dir', dir, '--overwrite']);
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.notEqual(readFileSync(join(dir, 'node-n1.key'), 'utf8'), keyBefore);
  assert.equal(modeOf(join(dir, 'node-n1.key')), 0o600, 'not the old file’s mode');
  assert.ok(certificateAt(join(dir, 'node-n1.crt')).verify(certificateAt(join(dir, 'ca.crt')).publicKey));
  assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'ca.key', 'node-n1.crt', 'node-n1.key'], 'no temporary file left');
});

test('bad ids, users, hosts and --valid-days are usage errors (exit 2) naming the value, and write nothing', async (t) => {
  const dir = tempDir(t);
  assert.equal((await shoal(['cert', 'create-ca', '--certs-dir', dir])).code, 0);
  const cases: [readonly string[], RegExp][] = [
    [['cert', 'create-node', 'bad id', '--host', 'h1', '--certs-dir', dir], /shoal cert create-node: node id "bad id" must be 1-64 letters, digits/],
    [['cert', 'create-node', '../escape', '--host', 'h1', '--certs-dir', dir], /node id "\.\.\/escape"/],
    [['cert', 'create-node', 'n1', '--host', 'good.example,bad_host', '--certs-dir', dir], /host "bad_host" is not a DNS name or an IP address/],
    [['cert', 'create-node', 'n1', '--host', 'h1', '--certs-dir', dir, '--valid-days', '0'], /--valid-days must be a whole number of days 1-36500, got "0"/],
    [['cert', 'create-client', 'al ice', '--certs-dir', dir], /user name "al ice"/],
    [['cert', 'create-client', 'alice', '--certs-dir', dir, '--valid-days', '36501'], /got "36501"/],
    [['cert', 'create-ca', '--certs-dir', join(dir, 'other'), '--valid-days', 'ten'], /got "ten"/],
    [['cert', 'create-node', 'n1', '--certs-dir', dir], /required option '--host <names>' not specified/],
  ];
  for (const [args, message] of cases) {
    const result = await shoal(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'ca.key']);
});

test('without a CA, create-node and create-client fail (exit 1) naming the missing file and create-ca', async (t) => {
  const dir = tempDir(t);
  const node = await shoal(['cert', 'create-node', 'n1', '--host', 'h1', '--certs-dir', dir]);
  assert.equal(node.code, 1);
  assert.ok(node.stderr.includes(`the CA certificate ${join(dir, 'ca.crt')} does not exist; make the CA first with shoal cert create-ca --certs-dir ${dir}`), node.stderr);
  assert.deepEqual(readdirSync(dir), []);

  const keys = join(tempDir(t), 'offline');
  assert.equal((await shoal(['cert', 'create-ca', '--certs-dir', dir, '--ca-key', join(keys, 'ca.key')])).code, 0);
  assert.deepEqual(readdirSync(dir), ['ca.crt'], 'the CA key went elsewhere');
  assert.equal(modeOf(join(keys, 'ca.key')), 0o600);
  const noKey = await shoal(['cert', 'create-client', 'alice', '--certs-dir', dir]);
  assert.equal(noKey.code, 1);
  assert.ok(noKey.stderr.includes(`the CA key ${join(dir, 'ca.key')} does not exist`), noKey.stderr);
  const withKey = await shoal(['cert', 'create-client', 'alice', '--certs-dir', dir, '--ca-key', join(keys, 'ca.key')]);
  assert.equal(withKey.code, 0, withKey.stderr);

  const strangerKeys = tempDir(t);
  assert.equal((await shoal(['cert', 'create-ca', '--certs-dir', strangerKeys])).code, 0);
  const wrongKey = await shoal(['cert', 'create-client', 'bob', '--certs-dir', dir, '--ca-key', join(strangerKeys, 'ca.key')]);
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.stderr, /the CA key does not belong to the CA certificate .*\(CA certificate .*ca\.crt, CA key .*ca\.key\)/);
  assert.ok(!existsSync(join(dir, 'client-bob.key')));
});

test('the file names', () => {
  assert.deepEqual(caPaths('/c'), { cert: '/c/ca.crt', key: '/c/ca.key' });
  assert.deepEqual(caPaths('/c', '/vault/ca.key'), { cert: '/c/ca.crt', key: '/vault/ca.key' });
  assert.deepEqual(nodeCertPaths('/c', 'node-1'), { cert: '/c/node-node-1.crt', key: '/c/node-node-1.key' });
  assert.deepEqual(clientCertPaths('/c', 'alice'), { cert: '/c/client-alice.crt', key: '/c/client-alice.key' });
  assert.throws(() => nodeCertPaths('/c', '../x'), CertificateError);
  assert.throws(() => clientCertPaths('/c', 'a/b'), CertificateError);
});

test('createDevCertificates makes a CA, the nodes’ and admin’s certificates once, and keeps them after', (t) => {
  const dir = join(tempDir(t), 'certs');
  const ids = ['node1', 'node2', 'node3'];
  const first = createDevCertificates(dir, ids, ['127.0.0.1']);
  assert.equal(first.written.length, 2 + 2 * ids.length + 2);
  assert.equal(modeOf(dir), 0o700);
  assert.deepEqual(first.ca, caPaths(dir));
  assert.deepEqual(first.client, clientCertPaths(dir, DEV_CLIENT_USER));
  const caCertificate = certificateAt(first.ca.cert);
  for (const id of ids) {
    const paths = first.nodes.get(id);
    assert.deepEqual(paths, nodeCertPaths(dir, id));
    assert.equal(modeOf(paths!.key), 0o600);
    const certificate = certificateAt(paths!.cert);
    assert.ok(certificate.verify(caCertificate.publicKey));
    assert.deepEqual(certificateIdentity(certificate), { role: 'node', name: id });
  }
  assert.deepEqual(certificateIdentity(certificateAt(first.client.cert)), { role: 'client', name: 'admin' });

  const contents = () => Object.fromEntries(readdirSync(dir).map((file) => [file, readFileSync(join(dir, file), 'utf8')]));
  const before = contents();
  assert.deepEqual(createDevCertificates(dir, ids, ['127.0.0.1']).written, [], 'all kept');
  assert.deepEqual(contents(), before);

  unlinkSync(nodeCertPaths(dir, 'node2').key);
  assert.deepEqual(createDevCertificates(dir, ids, ['127.0.0.1']).written, [nodeCertPaths(dir, 'node2').cert, nodeCertPaths(dir, 'node2').key], 'only the broken pair');
  assert.equal(readFileSync(caPaths(dir).cert, 'utf8'), before['ca.crt'], 'the same CA');

  const moreHosts = createDevCertificates(dir, [...ids, 'node4'], ['127.0.0.1', 'dev.example']);
  assert.equal(moreHosts.written.length, 2 * 4, 'every node again for the new host, none for admin');
  assert.equal(certificateAt(nodeCertPaths(dir, 'node4').cert).checkHost('dev.example'), 'dev.example');
});

test('createDevCertificates refuses a CA half there, and bad ids before writing anything', (t) => {
  const dir = tempDir(t);
  createDevCertificates(dir, ['n1'], []);
  unlinkSync(caPaths(dir).key);
  assert.throws(() => createDevCertificates(dir, ['n1'], []), (error: unknown) => {
    assert.ok(error instanceof CertFileError);
    assert.ok(error.message.includes(`${caPaths(dir).key} is missing beside ${caPaths(dir).cert}`), error.message);
    return true;
  });
  const empty = join(tempDir(t), 'certs');
  assert.throws(() => createDevCertificates(empty, ['n1', 'bad id'], []), /node id "bad id"/);
  assert.throws(() => createDevCertificates(empty, ['n1'], ['bad_host']), /host "bad_host"/);
  assert.ok(!existsSync(empty));
});
