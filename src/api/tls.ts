/** What the client ports (HTTP, RESP) need to serve TLS. */

/** A TLS server's key and certificate (PEM); `ca`: the CA certificates it trusts, for client certificates. */
export interface TlsFiles {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  readonly ca?: string | Buffer;
}

/** Longest TLS handshake (node's default is 120 s: too long a hold on a socket for a slow or silent client). */
export const TLS_HANDSHAKE_MS_MAX = 10_000;
