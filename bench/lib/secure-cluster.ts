/**
 * What a benchmark cluster needs to run secure, made fresh in its temp root: a cluster CA,
 * a certificate per member (for mutual TLS between the nodes and HTTPS to clients), and one
 * users file holding a single user, BENCH_USER, with a password drawn for this cluster.
 * The user is an admin because the status and metrics routes the harness polls want one.
 * Each member is started with its own --tls-cert/--tls-key beside the shared --tls-ca and
 * --users-file (argsFor); every client gets the CA and the Basic credentials (access).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatePassword, hashPassword } from '../../src/api/auth/passwords.ts';
import { saveUsersFile } from '../../src/api/auth/usersFile.ts';
import { createCertificateAuthority, createNodeCertificate } from '../../src/io/certificates.ts';
import { basicAuthorization, type SecureAccess } from './http-client.ts';

export const BENCH_USER = 'bench';
/** Under the cluster's temp root, beside the members' data dirs; the dot keeps it apart from any node id. */
const SECURITY_DIR = '.security';
/** Private keys and the users file: the owner alone reads them. */
const PRIVATE_FILE_MODE = 0o600;

export interface ClusterSecurity {
  /** How clients (the load generator, the harness's status polls) reach the members. */
  readonly access: SecureAccess;
  /** The `shoal start` flags of member `id`: its certificate and key, the CA, the users file. */
  argsFor(id: string): string[];
}

/** Makes the CA, a certificate for each of `ids` naming `host`, and the users file, under `root`. */
export async function makeClusterSecurity(root: string, ids: readonly string[], host: string): Promise<ClusterSecurity> {
  const dir = join(root, SECURITY_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = createCertificateAuthority({ commonName: 'shoal bench CA' });
  const caFile = writeFile(dir, 'ca.crt', ca.certPem, 0o644);
  const nodeFiles = new Map(ids.map((id) => {
    const own = createNodeCertificate(ca, { nodeId: id, hosts: [host] });
    return [id, { cert: writeFile(dir, `${id}.crt`, own.certPem, 0o644), key: writeFile(dir, `${id}.key`, own.keyPem, PRIVATE_FILE_MODE) }] as const;
  }));
  const password = generatePassword();
  const usersFile = join(dir, 'users.json');
  saveUsersFile(usersFile, { version: 1, users: [{ name: BENCH_USER, role: 'admin', password: await hashPassword(password) }] });
  return {
    access: { caPem: ca.certPem, authorization: basicAuthorization(BENCH_USER, password) },
    argsFor(id) {
      const own = nodeFiles.get(id);
      if (own === undefined) throw new Error(`makeClusterSecurity: no certificate made for ${id}`);
      return ['--tls-ca', caFile, '--tls-cert', own.cert, '--tls-key', own.key, '--users-file', usersFile];
    },
  };
}

function writeFile(dir: string, name: string, text: string, mode: number): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode });
  return path;
}
