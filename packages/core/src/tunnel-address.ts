// Where a tunnel server's SSH is: `host:port` (its SSH port), or `tls://host:port` (also written
// `ssh+tls://host:port`: SSH inside TLS on its HTTPS port, for networks that let only 443 out).
// The one parser for the profile, the CLI and the agent, and the one way to open the TLS socket
// SSH then runs on. A leaf module (node:tls only): the agent bundles it.
import { connect, rootCertificates, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { SSH_ALPN } from './tunnel-protocol.js';

export interface TunnelAddress {
  tls: boolean;
  host: string;
  port: number;
}

const ADDRESS = /^(?:(tls|ssh\+tls):\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** The address, or undefined when it is none of the forms above (port 1 to 65535). */
export function parseTunnelAddress(address: string): TunnelAddress | undefined {
  const m = ADDRESS.exec(address.trim());
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) return undefined;
  return { tls: m[1] !== undefined, host: m[2]!.replace(/^\[|\]$/g, ''), port };
}

export const TUNNEL_ADDRESS_HINT = 'must be host:port (the SSH port) or tls://host:port (SSH over TLS on the HTTPS port)';

/**
 * The certificates a TLS connection trusts: Node's own (the system's, NODE_EXTRA_CA_CERTS) when
 * no CA is given; with one, the bundled roots and that CA (Node 20 cannot add to its default set).
 */
export function trustedCas(caPem: string | undefined): string[] | undefined {
  return caPem ? [...rootCertificates, caPem] : undefined;
}

export interface TlsTunnelOptions {
  /** The name the certificate must cover (and the SNI): default the address's host. */
  servername?: string;
  /** A PEM CA to trust besides the system ones (a private CA). */
  ca?: string;
  lookup?: ConnectionOptions['lookup'];
  timeoutMs?: number;
}

/** Why a TLS socket for SSH could not be opened: the handshake, the certificate, or a server without SSH over TLS. */
export class TlsTunnelError extends Error {
  override name = 'TlsTunnelError';
  constructor(
    message: string,
    readonly kind: 'connect' | 'certificate' | 'no-ssh',
    readonly code?: string,
  ) {
    super(message);
  }
}

/** A verified TLS connection that chose SSH_ALPN, ready for ssh2's `sock`. */
export function openTlsTunnel(address: TunnelAddress, options: TlsTunnelOptions = {}): Promise<TLSSocket> {
  const servername = options.servername ?? address.host;
  return new Promise((resolve, reject) => {
    const ca = trustedCas(options.ca);
    const socket = connect({
      host: address.host,
      port: address.port,
      servername,
      ALPNProtocols: [SSH_ALPN],
      ...(ca ? { ca } : {}),
      ...(options.lookup ? { lookup: options.lookup } : {}),
    });
    const timer = setTimeout(() => socket.destroy(new TlsTunnelError('ETIMEDOUT', 'connect', 'ETIMEDOUT')), options.timeoutMs ?? 10_000);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      if (socket.alpnProtocol !== SSH_ALPN) {
        socket.destroy();
        return reject(new TlsTunnelError(`the TLS server did not choose ALPN ${SSH_ALPN}`, 'no-ssh'));
      }
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error instanceof TlsTunnelError) return reject(error);
      const code = error.code ?? '';
      // OpenSSL's verify codes and Node's name check: the certificate, not the network; a server
      // with ALPN but without prevu-ssh (an older one, a proxy) ends the handshake with an alert
      const kind = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME/.test(code) ? 'certificate' : /NO_APPLICATION_PROTOCOL/.test(code) ? 'no-ssh' : 'connect';
      reject(new TlsTunnelError(error.code ?? error.message, kind, error.code));
    });
  });
}
