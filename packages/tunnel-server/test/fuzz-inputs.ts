// Generated and mutated inputs for the fuzz suite, all from one seeded PRNG so a seed replays the
// same inputs: HTTP requests (heads, chunked bodies, upgrades, prevu's own paths), SSH version
// lines and pre-auth packets, and SSH messages for an authenticated connection (global requests,
// channel opens and channel requests). Generators build valid-looking input and then mutate it.

/** mulberry32: small, fast, good enough to spread inputs; the seed is the whole state. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  /** A length that is usually small, sometimes at an edge. */
  size(): number {
    return this.pick([0, 1, 2, 7, 8, 63, 64, 255, 256, 1024, this.int(32), this.int(300), this.int(5000)]);
  }
}

const DICTIONARY = ['\r\n', '\n', '\r', '\0', ':', ' ', '\t', ';', ',', '0', '-1', 'ffffffffffff', '%0d%0a', '\\', '//', '..', 'chunked', '\r\n\r\n', 'Content-Length: 5', 'Transfer-Encoding: chunked', 'Upgrade: websocket', 'Connection: upgrade', 'Host: x', '\xff\xfe', 'A'.repeat(5000)].map((s) => Buffer.from(s, 'latin1'));

/** 1 to 4 random edits: bit flips, interesting bytes, dictionary inserts, deletions, duplications, truncation. */
export function mutate(rng: Rng, input: Buffer): Buffer {
  let buf = Buffer.from(input);
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = rng.int(buf.length + 1);
    switch (rng.int(7)) {
      case 0:
        if (buf.length) buf[Math.min(at, buf.length - 1)]! ^= 1 << rng.int(8);
        break;
      case 1:
        if (buf.length) buf[Math.min(at, buf.length - 1)] = rng.pick([0, 0x0a, 0x0d, 0x20, 0x3a, 0x7f, 0x80, 0xff]);
        break;
      case 2:
        buf = Buffer.concat([buf.subarray(0, at), rng.pick(DICTIONARY), buf.subarray(at)]);
        break;
      case 3:
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(Math.min(buf.length, at + 1 + rng.int(16)))]);
        break;
      case 4:
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at, at + rng.int(64)), buf.subarray(at)]);
        break;
      case 5:
        buf = buf.subarray(0, at);
        break;
      default:
        buf = Buffer.concat([buf.subarray(0, at), rng.bytes(1 + rng.int(16)), buf.subarray(at)]);
    }
  }
  return buf;
}

/** Hosts the HTTP fuzz aims at: registered ones (public, private, the agent's) and strangers. */
export interface HttpTargets {
  hosts: string[];
  token: string;
}

const METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'OPTIONS', 'DELETE', 'CONNECT', 'TRACE', 'get', 'G\x00T', 'PRI', ''];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'http/1.1', 'HTTP/1.1 x', ''];

function target(rng: Rng, t: HttpTargets, host: string): string {
  const next = rng.pick(['/ok', '//evil.example', '/\\evil.example', '/%0d%0aSet-Cookie:x=1', 'http://evil', '/\r\nX: 1', '']);
  return rng.pick([
    '/',
    '/echo?q=1',
    '/sse',
    '/slow?ms=1',
    '*',
    `http://${host}/echo`,
    `https://${host}:443/x`,
    'http://other.example/echo',
    `/_prevu/login?token=${t.token}&next=${encodeURIComponent(next)}`,
    `/_prevu/login?token=${rng.bytes(8).toString('base64url')}&next=${next}`,
    '/_prevu/login',
    '/a b',
    `/${'x'.repeat(rng.int(40_000))}`,
    '/%00/..%2f',
    rng.bytes(rng.int(30)).toString('latin1'),
  ]);
}

function header(rng: Rng, t: HttpTargets, host: string): string {
  return rng.pick([
    `Host: ${host}`,
    `Host: ${host.toUpperCase()}:8080`,
    `Content-Length: ${rng.pick(['0', '5', '100', '-1', '+5', '99999999999999999', ' 3', '0x10', ''])}`,
    `Transfer-Encoding: ${rng.pick(['chunked', 'Chunked', 'gzip, chunked', 'chunked, chunked', ' chunked', 'identity', ''])}`,
    'Connection: Upgrade',
    'Connection: keep-alive, Upgrade',
    'Connection: close',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Key: ${rng.bytes(16).toString('base64')}`,
    `Origin: ${rng.pick([`http://${host}`, 'http://evil.example', 'null', '', `https://${host}`])}`,
    `Cookie: ${rng.pick([`__Host-prevu_session=${t.token}`, 'prevu_session=junk', `__Host-prevu_session=${t.token}~${rng.bytes(8).toString('base64url')}`, 'a=b; __Host-prevu_session=x.y.z', '=;;=', ''])}`,
    `Authorization: ${rng.pick([`Bearer ${t.token}`, 'Bearer x.y.z', 'Basic dTpw', `Basic ${rng.bytes(30).toString('base64')}`, 'Bearer', ''])}`,
    `X-Prevu-Token: ${rng.pick([t.token, 'x', ''])}`,
    'X-Forwarded-For: 6.6.6.6',
    'Forwarded: for=6.6.6.6',
    'Expect: 100-continue',
    ` folded: ${rng.int(9)}`,
    `${rng.bytes(rng.int(12)).toString('latin1')}: ${rng.bytes(rng.int(40)).toString('latin1')}`,
    `X-Big: ${'b'.repeat(rng.int(40_000))}`,
  ]);
}

function chunkedBody(rng: Rng): string {
  let body = '';
  for (let n = rng.int(5); n > 0; n--) {
    const data = 'd'.repeat(rng.size());
    const size = rng.chance(0.85) ? data.length.toString(16) : rng.pick(['-1', 'zz', 'fffffffffffff', '0x5', ' 5', '5 ;x', '']);
    body += `${size}${rng.chance(0.2) ? ';ext=1' : ''}${rng.pick(['\r\n', '\r\n', '\n'])}${data}${rng.pick(['\r\n', '\r\n', '\n', ''])}`;
  }
  return `${body}0\r\n${rng.chance(0.2) ? 'Trailer: t\r\n' : ''}${rng.pick(['\r\n', '\n', ''])}`;
}

/** One HTTP connection's bytes: a request (sometimes two, pipelined), built then maybe mutated. */
export function httpInput(rng: Rng, t: HttpTargets): Buffer {
  const request = () => {
    const host = rng.pick(t.hosts);
    const lines = [`${rng.pick(METHODS)} ${target(rng, t, host)} ${rng.pick(VERSIONS)}`];
    if (rng.chance(0.9)) lines.push(`Host: ${host}`);
    for (let n = rng.int(6); n > 0; n--) lines.push(header(rng, t, host));
    const chunked = lines.some((l) => /^Transfer-Encoding/i.test(l));
    const body = chunked ? chunkedBody(rng) : rng.chance(0.3) ? 'x'.repeat(rng.size()) : '';
    return `${lines.join(rng.chance(0.95) ? '\r\n' : '\n')}\r\n\r\n${body}`;
  };
  const raw = Buffer.from(rng.chance(0.2) ? request() + request() : request(), 'latin1');
  return rng.chance(0.5) ? mutate(rng, raw) : raw;
}

const string = (s: Buffer | string) => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};
const uint32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const bool = (v: boolean) => Buffer.from([v ? 1 : 0]);

const KEX = ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'diffie-hellman-group14-sha1', 'ext-info-c', 'kex-strict-c-v00@openssh.com', 'x'];
const HOST_KEYS = ['ssh-ed25519', 'ssh-rsa', 'rsa-sha2-256', 'x'];
const CIPHERS = ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com', 'aes128-ctr', 'none', 'x'];
const MACS = ['hmac-sha2-256-etm@openssh.com', 'hmac-sha1', 'none', 'x'];

function nameList(rng: Rng, names: readonly string[]): Buffer {
  const picked = Array.from({ length: rng.int(4) }, () => (rng.chance(0.1) ? rng.bytes(rng.int(20)).toString('latin1') : rng.pick(names)));
  return string(picked.join(','));
}

/** An unencrypted binary packet (RFC 4253 6) around a payload, padding as the spec asks. */
function packet(rng: Rng, payload: Buffer): Buffer {
  const pad = 4 + ((8 - ((5 + payload.length + 4) % 8)) % 8);
  return Buffer.concat([uint32(1 + payload.length + pad), Buffer.from([pad]), payload, rng.bytes(pad)]);
}

const VERSION_LINES = ['SSH-2.0-OpenSSH_9.6p1 Debian-4', 'SSH-2.0-ssh2js1.17.0', 'SSH-1.99-x', 'SSH-1.5-old', 'SSH-2.0-', 'SSH-2.0', 'GET / HTTP/1.1', ''];

/** A pre-auth SSH connection's bytes: a version line (maybe after preamble lines) and maybe a KEXINIT or garbage. */
export function sshPreauthInput(rng: Rng): Buffer {
  const preamble = rng.chance(0.1) ? 'hello there\r\n'.repeat(1 + rng.int(3)) : '';
  const line = `${preamble}${rng.pick(VERSION_LINES)}${rng.chance(0.1) ? ' '.repeat(rng.int(300)) : ''}${rng.pick(['\r\n', '\r\n', '\n', ''])}`;
  const parts = [Buffer.from(line, 'latin1')];
  if (rng.chance(0.6)) {
    const kexinit = Buffer.concat([Buffer.from([20]), rng.bytes(16), nameList(rng, KEX), nameList(rng, HOST_KEYS), nameList(rng, CIPHERS), nameList(rng, CIPHERS), nameList(rng, MACS), nameList(rng, MACS), nameList(rng, ['none']), nameList(rng, ['none']), string(''), string(''), bool(rng.chance(0.1)), uint32(0)]);
    parts.push(packet(rng, kexinit));
    if (rng.chance(0.3)) parts.push(packet(rng, Buffer.concat([Buffer.from([30]), string(rng.bytes(rng.pick([32, 0, 31, 33, 65])))])));
  } else if (rng.chance(0.5)) {
    parts.push(rng.bytes(rng.size()));
  }
  const raw = Buffer.concat(parts);
  return rng.chance(0.5) ? mutate(rng, raw) : raw;
}

const GLOBAL = ['tcpip-forward', 'cancel-tcpip-forward', 'streamlocal-forward@openssh.com', 'cancel-streamlocal-forward@openssh.com', 'keepalive@openssh.com', 'hostkeys-prove-00@openssh.com', 'x'];
/** Honoured by ssh2: no session may be opened after it, so it only ends a connection's life. */
const LAST_WORDS = 'no-more-sessions@openssh.com';
const CHANNEL_TYPES = ['session', 'direct-tcpip', 'direct-streamlocal@openssh.com', 'forwarded-tcpip', 'x11', 'auth-agent@openssh.com', 'x'];
const CHANNEL_REQUESTS = ['exec', 'shell', 'pty-req', 'env', 'subsystem', 'signal', 'window-change', 'x11-req', 'exit-status', 'auth-agent-req@openssh.com', 'x'];

/** A forward name as a client might spell it, or not. */
function forwardName(rng: Rng): string {
  return rng.pick(['web', 'web-80', 'api-3000', 'prevu-agent', '/web-80#access=private', '/x#access=private&y', '-', '', '0', '---', 'a'.repeat(200), 'web-99999', 'ünï', '../etc', rng.bytes(rng.int(20)).toString('latin1')]);
}

/** The data of a channel request of this type: well-formed unless hostile. */
function requestData(rng: Rng, type: string, hostile: boolean): Buffer {
  switch (type) {
    case 'exec':
      return string(rng.pick(['hello', 'tunnels', 'last-request', 'share-create', ' hello ', 'rm -rf /', '', 'x'.repeat(rng.int(10_000))]));
    case 'env':
      return Buffer.concat([string('LANG'), string(rng.bytes(rng.int(20)))]);
    case 'pty-req':
      return Buffer.concat([string('xterm'), uint32(80), uint32(24), uint32(0), uint32(0), string(hostile ? rng.bytes(rng.int(10)) : Buffer.from([1, 0, 0, 0, 3, 0]))]);
    case 'signal':
    case 'subsystem':
      return string(rng.pick(['TERM', 'KILL', 'sftp', '', rng.bytes(rng.int(20)).toString('latin1')]));
    case 'window-change':
      return Buffer.concat([uint32(rng.int(2 ** 32)), uint32(rng.int(2 ** 32)), uint32(0), uint32(0)]);
    case 'x11-req':
      return Buffer.concat([bool(rng.chance(0.5)), string('MIT-MAGIC-COOKIE-1'), string(rng.bytes(16).toString('hex')), uint32(0)]);
    case 'exit-status':
      return uint32(rng.int(256));
    default:
      return hostile || type === 'x' ? rng.bytes(rng.size()) : Buffer.alloc(0);
  }
}

/**
 * One SSH message for an authenticated connection (its payload: type byte first). `session` is the
 * server's id of a session channel the client holds open, so channel requests reach a real one.
 * Well-formed messages keep the connection up, so many reach the server's own handlers; hostile
 * ones (malformed, mutated, any type) usually make ssh2 end the connection, so they come last.
 */
export function sshMessage(rng: Rng, session: number, nextChannel: () => number, hostile: boolean): Buffer {
  let payload: Buffer;
  const recipient = () => uint32(!hostile || rng.chance(0.8) ? session : rng.int(2 ** 32));
  switch (rng.int(hostile ? 10 : 7)) {
    case 0:
    case 1:
    case 2: {
      const name = hostile && rng.chance(0.1) ? LAST_WORDS : rng.pick(GLOBAL);
      const data = name.includes('tcpip') ? Buffer.concat([string(forwardName(rng)), uint32(rng.pick([0, 80, 65535, 2 ** 32 - 1]))]) : name.includes('streamlocal') ? string(forwardName(rng)) : rng.bytes(rng.size());
      payload = Buffer.concat([Buffer.from([80]), string(name), bool(rng.chance(0.7)), data]);
      break;
    }
    case 3: {
      const type = rng.pick(CHANNEL_TYPES);
      const address = Buffer.concat([string('127.0.0.1'), uint32(rng.int(65536))]);
      const extra = type.startsWith('direct') || type === 'forwarded-tcpip' ? Buffer.concat([address, address]) : type === 'x11' ? address : hostile ? rng.bytes(rng.int(8)) : Buffer.alloc(0);
      payload = Buffer.concat([Buffer.from([90]), string(type), uint32(nextChannel()), uint32(rng.pick([0, 1, 2 ** 21, 2 ** 32 - 1])), uint32(rng.pick([0, 1, 32768, 2 ** 32 - 1])), extra]);
      break;
    }
    case 4:
    case 5:
    case 6: {
      const type = rng.pick(CHANNEL_REQUESTS);
      const data = requestData(rng, type, hostile);
      payload = Buffer.concat([Buffer.from([98]), recipient(), string(type), bool(rng.chance(0.5)), data]);
      break;
    }
    case 7:
      payload = Buffer.concat([Buffer.from([rng.pick([93, 94, 95, 96, 97])]), recipient(), rng.chance(0.5) ? uint32(rng.pick([0, 1, 2 ** 31, 2 ** 32 - 1])) : string(rng.bytes(rng.size()))]);
      break;
    case 8:
      payload = Buffer.concat([Buffer.from([rng.pick([2, 3, 4])]), string(rng.bytes(rng.size()))]);
      break;
    default:
      // Any other message type a connection past the key exchange may send (kex ones left out: they would restart it).
      payload = Buffer.concat([Buffer.from([rng.pick([50, 51, 52, 60, 61, 81, 82, 91, 92, 99, 100, 128, 200, 255])]), rng.bytes(rng.size())]);
  }
  if (!hostile || rng.chance(0.5)) return payload;
  // The body is mutated, the type kept: a mutated type could start a key exchange the client is not in.
  const mutated = mutate(rng, payload);
  if (mutated.length === 0) return payload;
  mutated[0] = payload[0]!;
  return mutated;
}
