/**
 * Certificates for mutual TLS in a Shoal cluster, made with node:crypto alone: it makes the
 * keys and the signatures, and the X.509 v3 structure (RFC 5280) is built here (io/der.ts).
 *
 * One cluster CA signs two kinds of certificate, each naming its holder in its subject:
 * `O=shoal, OU=node, CN=<node id>` for a node (a TLS server to clients and peers, and a TLS
 * client when it dials a peer), and `O=shoal, OU=client, CN=<user>` for a client. A node
 * accepts a peer only with a certificate chained to the cluster CA, and then learns who the
 * peer is from that certificate (certificateIdentity), not from what the peer says.
 *
 * Keys are ECDSA P-256, signatures ecdsa-with-SHA256 (RFC 5758), key identifiers the SHA-1
 * of the public key (RFC 5280 4.2.1.2, method 1).
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { isHostName, NAME_PATTERN } from '../node/hostPort.ts';
import { reasonOf } from './files.ts';
import {
  bitString, boolean, certificateTime, childrenOf, contentOf, DER_TAG, DerError, encodingOf, explicit, explicitTag, implicit,
  namedBits, octetString, oid, readElement, sequence, setOfOne, smallInteger, unsignedInteger, utf8String, type DerElement,
} from './der.ts';

export const ORGANIZATION = 'shoal';
export const CA_COMMON_NAME_DEFAULT = 'shoal cluster CA';
export const CA_VALID_DAYS_DEFAULT = 3650;
export const NODE_VALID_DAYS_DEFAULT = 1825;
export const CLIENT_VALID_DAYS_DEFAULT = 1825;
export const VALID_DAYS_MAX = 36_500;
export const HOSTS_MAX = 100;
/** Names every node certificate carries besides its own hosts, so that HTTPS clients on the node's machine verify it. */
export const LOCAL_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** notBefore is this far in the past, so that a peer whose clock is a little behind accepts a certificate made just now. */
const CLOCK_SKEW_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const SERIAL_BYTES = 16;
/** ub-common-name (RFC 5280, appendix A). */
const COMMON_NAME_PATTERN = /^[^\p{Cc}]{1,64}$/u;

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extendedKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** KeyUsage bit numbers (RFC 5280 4.2.1.3). */
const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;
/** GeneralName choices (RFC 5280 4.2.1.6), [n] IMPLICIT. */
const GENERAL_NAME = { dnsName: 2, ipAddress: 7 } as const;
/** AuthorityKeyIdentifier's keyIdentifier is [0] IMPLICIT. */
const KEY_IDENTIFIER_TAG = 0;
const VERSION_TAG = 0;
const EXTENSIONS_TAG = 3;
const VERSION_3 = 2;
/** In a TBSCertificate after the version: serialNumber, signature, issuer, validity, subject. */
const SUBJECT_FIELD = 4;
/** RFC 5758 3.2: the parameters are absent. */
const SIGNATURE_ALGORITHM = sequence(oid(OID.ecdsaWithSha256));

export interface CertificateAndKey {
  readonly certPem: string;
  /** PKCS #8, unencrypted. */
  readonly keyPem: string;
}

export type CertificateRole = 'node' | 'client';

export interface CertificateIdentity {
  readonly role: CertificateRole;
  /** The node id or the user name. */
  readonly name: string;
}

export type CertificateErrorCode =
  | 'NAME_INVALID'
  | 'COMMON_NAME_INVALID'
  | 'HOST_INVALID'
  | 'HOSTS_TOO_MANY'
  | 'VALID_DAYS_INVALID'
  | 'CA_CERTIFICATE_INVALID'
  | 'CA_KEY_INVALID'
  | 'CA_KEY_MISMATCH'
  | 'CA_EXPIRED';

/** A bad input (the message names the value) or a CA that cannot sign. */
export class CertificateError extends Error {
  constructor(readonly code: CertificateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CertificateError';
  }
}

// ---- what callers make ----

/** A new cluster CA: `O=shoal, OU=ca, CN=<commonName>`, allowed to sign end-entity certificates only. */
export function createCertificateAuthority(options: { readonly commonName?: string; readonly validDays?: number } = {}): CertificateAndKey {
  const commonName = checkCommonName(options.commonName ?? CA_COMMON_NAME_DEFAULT);
  const validDays = checkValidDays(options.validDays ?? CA_VALID_DAYS_DEFAULT);
  const keys = newKeyPair();
  const name = shoalName('ca', commonName);
  const nowMs = Date.now();
  const tbs = tbsCertificate({
    issuer: name,
    subject: name,
    notBeforeMs: nowMs - CLOCK_SKEW_MS,
    notAfterMs: nowMs + validDays * DAY_MS,
    publicKey: keys.publicKey,
    extensions: [
      // pathLenConstraint 0: the cluster CA signs nodes and clients, never another CA.
      extension(OID.basicConstraints, true, sequence(boolean(true), smallInteger(0))),
      extension(OID.keyUsage, true, namedBits([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
      extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(keys.publicKey))),
    ],
  });
  return { certPem: signCertificate(tbs, keys.privateKey), keyPem: privateKeyPem(keys.privateKey) };
}

/**
 * A node's certificate, signed by `ca`: `O=shoal, OU=node, CN=<nodeId>`, for TLS servers
 * and clients, naming `hosts` and LOCAL_HOSTS. It expires with the CA if that comes sooner.
 */
export function createNodeCertificate(
  ca: CertificateAndKey,
  options: { readonly nodeId: string; readonly hosts: readonly string[]; readonly validDays?: number },
): CertificateAndKey {
  const nodeId = checkName(options.nodeId, 'node id');
  const hosts = nodeCertificateHosts(options.hosts);
  const validDays = checkValidDays(options.validDays ?? NODE_VALID_DAYS_DEFAULT);
  const altNames = extension(OID.subjectAltName, false, sequence(...hosts.map(generalName)));
  return issue(ca, { role: 'node', name: nodeId, validDays, extendedKeyUsages: [OID.serverAuth, OID.clientAuth], more: [altNames] });
}

/** A client's certificate, signed by `ca`: `O=shoal, OU=client, CN=<user>`, for TLS clients only. */
export function createClientCertificate(ca: CertificateAndKey, options: { readonly user: string; readonly validDays?: number }): CertificateAndKey {
  const user = checkName(options.user, 'user name');
  const validDays = checkValidDays(options.validDays ?? CLIENT_VALID_DAYS_DEFAULT);
  return issue(ca, { role: 'client', name: user, validDays, extendedKeyUsages: [OID.clientAuth], more: [] });
}

/**
 * The names a node certificate for `hosts` carries, in order: `hosts`, then LOCAL_HOSTS,
 * each once (DNS names in lower case). Throws when a host is neither a DNS name nor an IP
 * address (IPv6 without brackets or zone).
 */
export function nodeCertificateHosts(hosts: readonly string[]): string[] {
  if (hosts.length > HOSTS_MAX) throw new CertificateError('HOSTS_TOO_MANY', `a node certificate names at most ${HOSTS_MAX} hosts, got ${hosts.length}`);
  const seen = new Set<string>();
  const names: string[] = [];
  for (const host of [...hosts, ...LOCAL_HOSTS]) {
    const name = checkHost(host);
    const key = isIPv6(name) ? ipv6Bytes(name).toString('hex') : name; // ::1 and 0:0:0:0:0:0:0:1 are one address
    if (seen.has(key)) continue;
    seen.add(key);
    names.push(name);
  }
  return names;
}

/** Throws a CertificateError naming `name` unless it is a valid node id or user name. */
export function checkName(name: string, what: 'node id' | 'user name'): string {
  if (typeof name === 'string' && NAME_PATTERN.test(name)) return name;
  throw new CertificateError('NAME_INVALID', `${what} ${JSON.stringify(name)} must be 1-64 letters, digits, "_" or "-"`);
}

/** Throws a CertificateError naming `days` unless it is a whole number of days 1-VALID_DAYS_MAX. */
export function checkValidDays(days: number): number {
  if (Number.isInteger(days) && days >= 1 && days <= VALID_DAYS_MAX) return days;
  throw new CertificateError('VALID_DAYS_INVALID', `validity must be a whole number of days 1-${VALID_DAYS_MAX}, got ${String(days)}`);
}

// ---- who a peer is ----

/** A parsed certificate, or what `tlsSocket.getPeerCertificate()` returns (`{}` when the peer sent none). */
export type PeerCertificateLike = X509Certificate | { readonly subject?: unknown };

/**
 * The node or client a certificate names: its subject must be exactly `O=shoal`, `OU=node`
 * or `OU=client`, and a valid name as `CN`, each once and nothing else. Undefined for any
 * other subject (the CA's own, a foreign one, a missing certificate). This reads the
 * subject only: the TLS handshake is what proves the certificate chains to the cluster CA.
 */
export function certificateIdentity(certificate: PeerCertificateLike): CertificateIdentity | undefined {
  const attributes = certificate instanceof X509Certificate ? attributesOfText(certificate.subject) : attributesOfObject(certificate.subject);
  return attributes === undefined ? undefined : identityOf(attributes);
}

/** X509Certificate's subject: one `KEY=value` line per attribute. */
function attributesOfText(subject: string): Map<string, string> | undefined {
  const attributes = new Map<string, string>();
  for (const line of subject.split('\n')) {
    const equals = line.indexOf('=');
    const key = line.slice(0, equals);
    if (equals <= 0 || attributes.has(key)) return undefined;
    attributes.set(key, line.slice(equals + 1));
  }
  return attributes;
}

/** getPeerCertificate()'s subject: `{ O, OU, CN }`, with an array for an attribute that repeats. */
function attributesOfObject(subject: unknown): Map<string, string> | undefined {
  if (typeof subject !== 'object' || subject === null) return undefined;
  const attributes = new Map<string, string>();
  for (const [key, value] of Object.entries(subject)) {
    if (typeof value !== 'string') return undefined;
    attributes.set(key, value);
  }
  return attributes;
}

function identityOf(attributes: ReadonlyMap<string, string>): CertificateIdentity | undefined {
  if (attributes.size !== 3 || attributes.get('O') !== ORGANIZATION) return undefined;
  const role = attributes.get('OU');
  const name = attributes.get('CN');
  if ((role !== 'node' && role !== 'client') || name === undefined || !NAME_PATTERN.test(name)) return undefined;
  return { role, name };
}

// ---- signing ----

interface LeafPlan {
  readonly role: CertificateRole;
  readonly name: string;
  readonly validDays: number;
  readonly extendedKeyUsages: readonly string[];
  /** Extensions of this kind of certificate only (a node's subjectAltName). */
  readonly more: readonly Buffer[];
}

function issue(ca: CertificateAndKey, leaf: LeafPlan): CertificateAndKey {
  const nowMs = Date.now();
  const issuer = loadIssuer(ca, nowMs);
  const keys = newKeyPair();
  const tbs = tbsCertificate({
    issuer: issuer.name,
    subject: shoalName(leaf.role, leaf.name),
    notBeforeMs: nowMs - CLOCK_SKEW_MS,
    // Not past the CA's own end: the chain would stop verifying then anyway, so say so.
    notAfterMs: Math.min(nowMs + leaf.validDays * DAY_MS, issuer.notAfterMs),
    publicKey: keys.publicKey,
    extensions: [
      extension(OID.basicConstraints, true, sequence()), // cA FALSE, its DEFAULT, left out as DER wants
      extension(OID.keyUsage, true, namedBits([KEY_USAGE.digitalSignature])),
      extension(OID.extendedKeyUsage, false, sequence(...leaf.extendedKeyUsages.map((usage) => oid(usage)))),
      extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier(keys.publicKey))),
      extension(OID.authorityKeyIdentifier, false, sequence(implicit(KEY_IDENTIFIER_TAG, issuer.keyId))),
      ...leaf.more,
    ],
  });
  return { certPem: signCertificate(tbs, issuer.key), keyPem: privateKeyPem(keys.privateKey) };
}

interface Issuer {
  readonly key: KeyObject;
  /** The CA certificate's subject, byte for byte: a certificate's issuer must match it exactly. */
  readonly name: Buffer;
  readonly keyId: Buffer;
  readonly notAfterMs: number;
}

/** The CA, checked: a CA certificate, current, whose key is `ca.keyPem`. */
function loadIssuer(ca: CertificateAndKey, nowMs: number): Issuer {
  const certificate = parseCaCertificate(ca.certPem);
  const key = parseCaKey(ca.keyPem);
  const subject = oneLine(certificate.subject);
  if (!certificate.checkPrivateKey(key)) throw new CertificateError('CA_KEY_MISMATCH', `the CA key does not belong to the CA certificate (${subject})`);
  const notAfterMs = Date.parse(certificate.validTo);
  if (Number.isNaN(notAfterMs)) throw new CertificateError('CA_CERTIFICATE_INVALID', `the CA certificate's end of validity is unreadable: "${certificate.validTo}"`);
  if (notAfterMs <= nowMs) throw new CertificateError('CA_EXPIRED', `the CA certificate (${subject}) expired on ${certificate.validTo}`);
  const fields = issuerFields(certificate.raw);
  return { key, name: fields.subject, keyId: fields.keyId ?? keyIdentifier(certificate.publicKey), notAfterMs };
}

function parseCaCertificate(pem: string): X509Certificate {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error) {
    throw new CertificateError('CA_CERTIFICATE_INVALID', `the CA certificate is not a PEM X.509 certificate: ${reasonOf(error)}`, { cause: error });
  }
  if (!certificate.ca) throw new CertificateError('CA_CERTIFICATE_INVALID', `the certificate ${oneLine(certificate.subject)} is not a CA certificate (no basicConstraints CA:TRUE)`);
  return certificate;
}

function parseCaKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new CertificateError('CA_KEY_INVALID', `the CA key is not a PEM private key: ${reasonOf(error)}`, { cause: error });
  }
  // The signature algorithm written into certificates is ecdsa-with-SHA256.
  if (key.asymmetricKeyType !== 'ec') throw new CertificateError('CA_KEY_INVALID', `the CA key must be an ECDSA key, got ${String(key.asymmetricKeyType)}`);
  return key;
}

/** The subject (whole, as encoded) and the subjectKeyIdentifier (when present) of a CA certificate in DER. */
function issuerFields(der: Buffer): { subject: Buffer; keyId: Buffer | undefined } {
  try {
    const tbs = childrenOf(der, readElement(der, 0))[0];
    if (tbs?.tag !== DER_TAG.sequence) throw new DerError('no TBSCertificate');
    const fields = childrenOf(der, tbs);
    const first = fields[0]?.tag === explicitTag(VERSION_TAG) ? 1 : 0; // a v1 certificate has no version field
    const subject = fields[first + SUBJECT_FIELD];
    if (subject?.tag !== DER_TAG.sequence) throw new DerError('no subject');
    const extensions = fields.find((field) => field.tag === explicitTag(EXTENSIONS_TAG));
    return { subject: Buffer.from(encodingOf(der, subject)), keyId: extensions === undefined ? undefined : subjectKeyIdentifierIn(der, extensions) };
  } catch (error) {
    if (!(error instanceof DerError)) throw error;
    throw new CertificateError('CA_CERTIFICATE_INVALID', `the CA certificate's DER is malformed: ${error.message}`, { cause: error });
  }
}

function subjectKeyIdentifierIn(der: Buffer, extensionsField: DerElement): Buffer | undefined {
  const list = childrenOf(der, extensionsField)[0];
  if (list === undefined) return undefined;
  const wanted = oid(OID.subjectKeyIdentifier);
  for (const entry of childrenOf(der, list)) {
    const parts = childrenOf(der, entry);
    const id = parts[0];
    const value = parts[parts.length - 1];
    if (id === undefined || value === undefined || !encodingOf(der, id).equals(wanted)) continue;
    const inner = contentOf(der, value);
    const keyId = readElement(inner, 0);
    if (keyId.tag !== DER_TAG.octetString || keyId.end !== inner.length) throw new DerError('malformed subjectKeyIdentifier');
    return Buffer.from(contentOf(inner, keyId));
  }
  return undefined;
}

interface ToBeSigned {
  readonly issuer: Buffer;
  readonly subject: Buffer;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly publicKey: KeyObject;
  readonly extensions: readonly Buffer[];
}

function tbsCertificate(plan: ToBeSigned): Buffer {
  return sequence(
    explicit(VERSION_TAG, smallInteger(VERSION_3)),
    unsignedInteger(serialNumber()),
    SIGNATURE_ALGORITHM,
    plan.issuer,
    sequence(certificateTime(new Date(plan.notBeforeMs)), certificateTime(new Date(plan.notAfterMs))),
    plan.subject,
    plan.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(EXTENSIONS_TAG, sequence(...plan.extensions)),
  );
}

function signCertificate(tbs: Buffer, issuerKey: KeyObject): string {
  const signature = sign('sha256', tbs, { key: issuerKey, dsaEncoding: 'der' }); // an ECDSA-Sig-Value, as X.509 wants
  return pem('CERTIFICATE', sequence(tbs, SIGNATURE_ALGORITHM, bitString(signature)));
}

/** 16 random octets read as a positive integer: the top bit clear (DER integers are signed), never zero. */
function serialNumber(): Buffer {
  for (;;) {
    const bytes = randomBytes(SERIAL_BYTES);
    bytes[0] = (bytes[0] as number) & 0x7f;
    if (bytes.some((byte) => byte !== 0)) return bytes;
  }
}

// ---- parts ----

function newKeyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** SHA-1 of the subjectPublicKey bits: RFC 5280 4.2.1.2, method 1 (what OpenSSL writes too). */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const bits = childrenOf(spki, readElement(spki, 0))[1];
  if (bits?.tag !== DER_TAG.bitString) throw new DerError('a public key without its BIT STRING');
  return createHash('sha1').update(contentOf(spki, bits).subarray(1)).digest(); // past the unused-bits octet
}

/** `O=shoal, OU=<role>, CN=<commonName>`: one attribute per RDN, UTF8String values. */
function shoalName(role: 'ca' | CertificateRole, commonName: string): Buffer {
  return sequence(attribute(OID.organization, ORGANIZATION), attribute(OID.organizationalUnit, role), attribute(OID.commonName, commonName));
}

function attribute(type: string, value: string): Buffer {
  return setOfOne(sequence(oid(type), utf8String(value)));
}

/** DER leaves out `critical` when it is FALSE, its DEFAULT. */
function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));
}

/** A checked host (see nodeCertificateHosts) as a dNSName or an iPAddress. */
function generalName(host: string): Buffer {
  if (isIPv4(host)) return implicit(GENERAL_NAME.ipAddress, Buffer.from(host.split('.').map(Number)));
  if (isIPv6(host)) return implicit(GENERAL_NAME.ipAddress, ipv6Bytes(host));
  return implicit(GENERAL_NAME.dnsName, Buffer.from(host, 'ascii'));
}

function checkHost(host: string): string {
  if (typeof host === 'string') {
    if (isIPv4(host) || (isIPv6(host) && !host.includes('%'))) return host;
    if (isHostName(host)) return host.toLowerCase();
  }
  const hint = typeof host === 'string' && host.startsWith('[') ? ' (give IPv6 addresses without brackets)' : '';
  throw new CertificateError('HOST_INVALID', `host ${JSON.stringify(host)} is not a DNS name or an IP address${hint}`);
}

/** The 16 octets of an IPv6 address that isIPv6 accepts (no zone): `::` expanded, a dotted IPv4 tail read as two groups. */
function ipv6Bytes(address: string): Buffer {
  const gap = address.indexOf('::');
  const head = groupsOf(gap < 0 ? address : address.slice(0, gap));
  const tail = gap < 0 ? [] : groupsOf(address.slice(gap + 2));
  const groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  if (groups.length !== 8) throw new CertificateError('HOST_INVALID', `host "${address}" is not an IPv6 address`);
  const bytes = Buffer.alloc(16);
  groups.forEach((group, index) => bytes.writeUInt16BE(group, index * 2));
  return bytes;
}

function groupsOf(part: string): number[] {
  if (part === '') return [];
  return part.split(':').flatMap((group) => {
    if (!group.includes('.')) return [parseInt(group, 16)];
    const [a, b, c, d] = group.split('.').map(Number) as [number, number, number, number];
    return [a * 256 + b, c * 256 + d];
  });
}

function checkCommonName(commonName: string): string {
  if (typeof commonName === 'string' && COMMON_NAME_PATTERN.test(commonName)) return commonName;
  throw new CertificateError('COMMON_NAME_INVALID', `common name ${JSON.stringify(commonName)} must be 1-64 characters, none of them control characters`);
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function oneLine(subject: string): string {
  return subject.split('\n').join(', ');
}

