// The node-to-node hop: an HTTP/1.1 client connection at a node that does not hold its hostname is
// carried, byte for byte, to the node that does, whose proxy takes it as its own client's (routing,
// private access, limits, X-Forwarded-*). An HTTP/2 client session may carry streams for hostnames
// on several nodes, so it is carried per stream instead: h2.ts re-issues each such stream on an
// HTTP/2 session over a hop to its node (one hop per client session and node), whose h2 side
// serves it as its own client's. The hop opens with one line
//   PREVU-HOP1 <scheme>[+h2] <address> <port> <time ms> <nonce> <hmac>\n
// (`+h2`: the hop carries HTTP/2 streams, not a connection; a line without it reads as before)
// where hmac is HMAC-SHA256 under the cluster secret over the rest and the id of the node it is
// for: only a node knowing the secret can speak for a visitor address, a line is good for SKEW_MS,
// once, and at that node only (each node remembers its own nonces). The hop is plain
// TCP: the listener belongs on the nodes' private network (tunnel-server README, "Cluster").
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { connect, createServer, isIP, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Hop, Visitor } from '../http/proxy.js';

const MAX_LINE = 512;
const SKEW_MS = 30_000;
const LINE_TIMEOUT_MS = 5_000;
/** Nonces remembered for SKEW_MS; past this many at once, hops are refused rather than memory grown. */
const MAX_NONCES = 200_000;
const CONNECT_TIMEOUT_MS = 3_000;

const mac = (secret: Buffer, text: string) => createHmac('sha256', secret).update(text).digest('base64url');

/** `<host>:<port>` of a node id `<host>:<port>#<boot id>`. */
function hopAddress(node: string): { host: string; port: number } {
  const address = node.slice(0, node.lastIndexOf('#'));
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(address.slice(colon + 1)) };
}

/** Opens a hop to a node; undefined when it cannot be reached (it died, or is unreachable from here). */
export function dialHop(secret: Buffer, node: string, log: Logger): Promise<Hop | undefined> {
  return new Promise((resolve) => {
    const hop = connect({ ...hopAddress(node), noDelay: true, allowHalfOpen: true, timeout: CONNECT_TIMEOUT_MS });
    const fail = (error: Error) => {
      log.warn({ node, err: error.message }, 'hop to the node holding the tunnel failed');
      hop.destroy();
      resolve(undefined);
    };
    hop.once('error', fail);
    hop.once('timeout', () => fail(new Error('connect timed out')));
    hop.once('connect', () => {
      hop.removeListener('error', fail).removeAllListeners('timeout').setTimeout(0);
      const open = (visitor: Visitor, h2: boolean) => {
        const fields = `PREVU-HOP1 ${visitor.scheme}${h2 ? '+h2' : ''} ${visitor.address} ${visitor.port} ${Date.now()} ${randomBytes(12).toString('base64url')}`;
        hop.write(`${fields} ${mac(secret, `${fields} ${node}`)}\n`);
      };
      const carry = (socket: Socket, first: Buffer, visitor: Visitor) => {
        open(visitor, false);
        hop.write(first);
        socket.on('error', () => hop.destroy());
        hop.on('error', () => socket.destroy());
        socket.once('close', () => hop.destroy());
        hop.once('close', () => socket.writableEnded || socket.destroy());
        // Half-closes pass through (pipe ends the other side): a response still flows after the request ended.
        socket.pipe(hop);
        hop.pipe(socket);
      };
      const h2 = (visitor: Visitor) => {
        open(visitor, true);
        // HTTP/2 never half-closes: the far side's EOF ends the session.
        hop.allowHalfOpen = false;
        return hop;
      };
      resolve({ carry, h2 });
    });
  });
}

/**
 * The listener other nodes' hops arrive at (`node`: this node's id); an authenticated one is
 * handed on with its visitor, and `h2` when it carries HTTP/2 streams.
 */
export function createHopServer(secret: Buffer, node: string, log: Logger, accept: (socket: Socket, visitor: Visitor, h2: boolean) => void): Server {
  const nonces = new Map<string, number>(); // nonce -> ms seen, oldest first
  const verify = (line: string): { visitor: Visitor; h2: boolean } | undefined => {
    const parts = line.split(' ');
    if (parts.length !== 7 || parts[0] !== 'PREVU-HOP1') return undefined;
    const [, carried, address, port, time, nonce, given] = parts as [string, string, string, string, string, string, string];
    const expected = Buffer.from(mac(secret, `${parts.slice(0, 6).join(' ')} ${node}`));
    if (Buffer.byteLength(given) !== expected.length || !timingSafeEqual(Buffer.from(given), expected)) return undefined;
    const now = Date.now();
    if (Math.abs(now - Number(time)) > SKEW_MS || nonces.has(nonce)) return undefined;
    for (const [old, at] of nonces) {
      if (now - at <= SKEW_MS) break;
      nonces.delete(old);
    }
    if (nonces.size >= MAX_NONCES) return undefined;
    nonces.set(nonce, now);
    const h2 = carried.endsWith('+h2');
    const scheme = h2 ? carried.slice(0, -3) : carried;
    if ((scheme !== 'http' && scheme !== 'https') || !isIP(address) || !/^\d{1,5}$/.test(port)) return undefined;
    return { visitor: { scheme, address, port: Number(port) }, h2 };
  };
  return createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), LINE_TIMEOUT_MS);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => clearTimeout(timer));
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf(0x0a);
      if (end < 0) {
        if (buf.length > MAX_LINE) socket.destroy();
        return;
      }
      socket.off('data', onData).pause();
      clearTimeout(timer);
      const verified = end <= MAX_LINE ? verify(buf.toString('latin1', 0, end)) : undefined;
      if (!verified) {
        log.warn({ from: socket.remoteAddress }, 'hop refused: not signed with the cluster secret, stale or replayed');
        return void socket.destroy();
      }
      if (end + 1 < buf.length) socket.unshift(buf.subarray(end + 1));
      accept(socket, verified.visitor, verified.h2);
      // node:http2 reads the socket on its own (the bytes put back first): resumed, it would read them here too.
      if (!verified.h2) socket.resume();
    };
    socket.on('data', onData);
  });
}
