// HTTP and HTTPS listeners: raw TCP (or TLS) sockets handed to the proxy, which parses only what
// it must, or to the HTTP/2 side (h2.ts: ALPN h2 on TLS, the preface on the plain port). Half-open is allowed so a client that closes its sending side still gets its response.
// Both count their TCP connections in one limiter (per source address and in all) from the
// accept on, before any TLS handshake: past it a connection is closed at once.
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { visitorAddress, type AddressLimiter } from '../limits.js';
import type { Metrics } from '../metrics.js';
import { createH2Acceptor } from './h2.js';
import { ProxyConnection, visitorOf, type ProxyOptions } from './proxy.js';
import type { TlsMaterial } from './tls.js';
import { SSH_ALPN } from '@prevu/core/tunnel-protocol';

/** Takes a slot for the socket until it closes; false (and the socket destroyed) when there is none. */
function admit(socket: Socket, connections: AddressLimiter, metrics: Metrics): boolean {
  const release = connections.acquire(visitorAddress(socket.remoteAddress));
  if (!release) {
    metrics.limitRefusals.inc({ limit: 'http_connections' });
    socket.destroy();
    return false;
  }
  socket.once('close', release);
  return true;
}

export function createHttpServer(options: ProxyOptions, connections: AddressLimiter): Server {
  const h2 = createH2Acceptor(options);
  return createTcpServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    if (admit(socket, connections, options.metrics)) new ProxyConnection(socket, 'http', options, h2);
  });
}

/**
 * `ssh`: where SSH-in-TLS sockets go once their handshake chose SSH_ALPN (the SSH server's own
 * admission applies too). ALPN, not the server name, tells SSH from HTTPS: no browser offers it,
 * so no HTTPS client is ever taken for SSH, and the name stays free to be any the wildcard
 * certificate covers (README, "SSH over TLS on the HTTPS port"). A client that offers no ALPN
 * (curl --http1.1, scripts) gets HTTP/1.1.
 */
export function createHttpsServer(options: ProxyOptions, tls: TlsMaterial, connections: AddressLimiter, ssh?: (socket: Socket) => void): TlsServer {
  const h2 = createH2Acceptor(options);
  const http = ['h2', 'http/1.1'];
  const server = createTlsServer({ cert: tls.cert, key: tls.key, allowHalfOpen: true, ALPNProtocols: ssh ? [...http, SSH_ALPN] : http }, (socket) => {
    if (ssh && socket.alpnProtocol === SSH_ALPN) {
      // ssh2 does not end its side when the peer ends: half-open is for HTTP only
      socket.once('end', () => socket.end());
      return ssh(socket);
    }
    if (socket.alpnProtocol === 'h2') h2(socket, visitorOf(socket, 'https'));
    else new ProxyConnection(socket, 'https', options);
  });
  // 'connection' comes before the handshake: a refused socket never costs one.
  server.on('connection', (socket: Socket) => {
    if (admit(socket, connections, options.metrics)) socket.setNoDelay(true);
  });
  server.on('tlsClientError', () => undefined);
  return server;
}
