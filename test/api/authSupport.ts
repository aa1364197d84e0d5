/**
 * For the authentication tests: a throwaway CA and node certificate, users with
 * real scrypt hashes, the HTTP API of a test node served with `auth` / `tls` (io/runtime.ts
 * does not pass them yet), and a raw HTTP(S) request that can set any header (Host too).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TestContext } from 'node:test';
import { Authenticator, type AuthenticatorOptions } from '../../src/api/auth/authenticator.ts';
import { hashPassword } from '../../src/api/auth/passwords.ts';
import type { Role } from '../../src/api/auth/roles.ts';
import type { UserEntry } from '../../src/api/auth/usersFile.ts';
import { buildHttpApi } from '../../src/api/http.ts';
import type { TlsFiles } from '../../src/api/tls.ts';
import { createCertificateAuthority, createNodeCertificate } from '../../src/io/certificates.ts';
import { silentLogger, type Logger } from '../../src/ports/logger.ts';
import type { TestNode } from './testNode.ts';

export interface TestUser {
  readonly name: string;
  readonly password: string;
  readonly role: Role;
}

export const READER: TestUser = { name: 'reader', password: 'reader-secret-1', role: 'read' };
export const WRITER: TestUser = { name: 'writer', password: 'writer-secret-1', role: 'readwrite' };
export const ADMIN: TestUser = { name: 'boss', password: 'admin-secret-1', role: 'admin' };

let hashed: Promise<UserEntry[]> | undefined;

/** READER, WRITER and ADMIN as a users file lists them (hashed once per process: scrypt is slow on purpose). */
export function testUsers(): Promise<UserEntry[]> {
  hashed ??= Promise.all([READER, WRITER, ADMIN].map(async (user) => ({ name: user.name, role: user.role, password: await hashPassword(user.password) })));
  return hashed;
}

export async function testAuthenticator(options: AuthenticatorOptions = {}): Promise<Authenticator> {
  return new Authenticator(await testUsers(), options);
}

export function basic(user: Pick<TestUser, 'name' | 'password'>): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user.name}:${user.password}`).toString('base64')}` };
}

export interface Certificate extends TlsFiles {
  readonly key: string;
  readonly cert: string;
  /** The CA that signed `cert`: what a client trusts. */
  readonly ca: string;
}

let certificate: Certificate | undefined;

/** A node certificate for localhost and 127.0.0.1 from a throwaway cluster CA (io/certificates.ts). */
export function testCertificate(): Certificate {
  if (certificate !== undefined) return certificate;
  const ca = createCertificateAuthority();
  const own = createNodeCertificate(ca, { nodeId: 'node1', hosts: [] });
  certificate = { key: own.keyPem, cert: own.certPem, ca: ca.certPem };
  return certificate;
}

/** The test node's HTTP API again, on another loopback port, with `auth` and/or `tls`. Closed by t.after. */
export async function serveApi(t: TestContext, node: TestNode, extra: { auth?: Authenticator; tls?: TlsFiles; logger?: Logger } = {}): Promise<string> {
  const app = buildHttpApi({ node: node.runtime.node, config: node.config, metrics: node.runtime.metrics, logger: extra.logger ?? silentLogger, auth: extra.auth, tls: extra.tls });
  await app.listen({ host: '127.0.0.1', port: 0, listenTextResolver: () => '' });
  t.after(() => app.close());
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `${extra.tls === undefined ? 'http' : 'https'}://127.0.0.1:${address.port}`;
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  json(): Record<string, unknown>;
}

/** One request with exactly these headers (Host included, when given), over a fresh connection, within 10 s. */
export function send(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; ca?: string | Buffer } = {},
): Promise<Answer> {
  const url = new URL(path, base);
  const sendRequest = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = sendRequest(url, { method, headers: options.headers, agent: false, ca: options.ca, signal: AbortSignal.timeout(10_000) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body, json: () => JSON.parse(body.toString('utf8')) as Record<string, unknown> });
      });
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

/** A logger that keeps its warnings (and everything else it was told, for "no password logged" checks). */
export function recordingLogger(): Logger & { warnings: { fields: Record<string, unknown>; message: string }[]; everything: () => string } {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const all: string[] = [];
  const keep = (fields: object, message: string) => all.push(`${message} ${JSON.stringify(fields)}`);
  return {
    warnings,
    everything: () => all.join('\n'),
    debug: keep,
    info: keep,
    error: keep,
    warn: (fields, message) => {
      keep(fields, message);
      warnings.push({ fields: fields as Record<string, unknown>, message });
    },
  };
}
