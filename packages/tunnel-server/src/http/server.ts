// HTTP and HTTPS listeners: raw TCP (or TLS) sockets handed to the proxy, which parses only what
// it must. Half-open is allowed so a client that closes its sending side still gets its response.
import { createServer as createTcpServer, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { ProxyConnection, type ProxyOptions } from './proxy.js';
import type { TlsMaterial } from './tls.js';

export function createHttpServer(options: ProxyOptions): Server {
  return createTcpServer({ allowHalfOpen: true, noDelay: true }, (socket) => new ProxyConnection(socket, 'http', options));
}

export function createHttpsServer(options: ProxyOptions, tls: TlsMaterial): Server {
  const server = createTlsServer({ cert: tls.cert, key: tls.key, allowHalfOpen: true, ALPNProtocols: ['http/1.1'] }, (socket) => new ProxyConnection(socket, 'https', options));
  server.on('connection', (socket) => socket.setNoDelay(true));
  server.on('tlsClientError', () => undefined);
  return server;
}
