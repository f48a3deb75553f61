// Request heads and body framing, the only HTTP parsing the proxy does: it must know where each
// request ends to check the next one, while response bytes pass through untouched. Ambiguous
// framing (both Content-Length and Transfer-Encoding, differing lengths) is refused, so the
// backend can never see a request boundary the proxy did not.

export type Body = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

export interface RequestHead {
  method: string;
  target: string;
  version: '1.0' | '1.1';
  /** [name as sent, value], in order. */
  headers: Array<[string, string]>;
  host: string | undefined;
  body: Body;
  upgrade: boolean;
}

export class HeadError extends Error {
  constructor(
    readonly status: 400 | 501,
    message: string,
  ) {
    super(message);
  }
}

const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parses a head (request line to the empty line, CRLF included). */
export function parseHead(raw: Buffer): RequestHead {
  const lines = raw.toString('latin1', 0, raw.length - 4).split('\r\n');
  const match = REQUEST_LINE.exec(lines[0] ?? '');
  if (!match) throw new HeadError(400, 'malformed request line');
  const headers: Array<[string, string]> = [];
  let host: string | undefined;
  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  let connection = '';
  let upgradeHeader = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HeadError(400, 'malformed header line');
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new HeadError(400, `malformed header name "${name.slice(0, 40)}"`);
    const value = line.slice(colon + 1).trim();
    if (/[\r\n\0]/.test(value)) throw new HeadError(400, 'control character in a header value');
    headers.push([name, value]);
    switch (name.toLowerCase()) {
      case 'host':
        if (host !== undefined) throw new HeadError(400, 'more than one Host header');
        host = value;
        break;
      case 'content-length': {
        if (!/^\d{1,15}$/.test(value)) throw new HeadError(400, 'invalid Content-Length');
        const n = Number(value);
        if (contentLength !== undefined && contentLength !== n) throw new HeadError(400, 'conflicting Content-Length headers');
        contentLength = n;
        break;
      }
      case 'transfer-encoding':
        transferEncoding = transferEncoding ? `${transferEncoding}, ${value}` : value;
        break;
      case 'connection':
        connection += `,${value.toLowerCase()}`;
        break;
      case 'upgrade':
        upgradeHeader = true;
        break;
    }
  }
  let body: Body = { kind: 'none' };
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined) throw new HeadError(400, 'both Content-Length and Transfer-Encoding');
    if (transferEncoding.toLowerCase().replace(/\s/g, '') !== 'chunked') throw new HeadError(501, `unsupported Transfer-Encoding "${transferEncoding}"`);
    body = { kind: 'chunked' };
  } else if (contentLength) {
    body = { kind: 'length', length: contentLength };
  }
  const upgrade = upgradeHeader && /(^|,)\s*upgrade\s*(,|$)/.test(connection);
  return { method: match[1]!, target: match[2]!, version: match[3] === '0' ? '1.0' : '1.1', headers, host, body, upgrade };
}

export function serializeHead(head: RequestHead, headers: Array<[string, string]>): Buffer {
  let text = `${head.method} ${head.target} HTTP/${head.version}\r\n`;
  for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
  return Buffer.from(`${text}\r\n`, 'latin1');
}

/**
 * Follows a chunked body through arbitrary byte splits without copying it: `push` says how many
 * bytes of the buffer still belong to the body and whether the body ended there. Every line ends
 * in CRLF and holds no other control byte: a backend that ends lines at a bare LF (or CR) would
 * otherwise see another body than the one followed here (request smuggling).
 */
export class ChunkedFramer {
  private state: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
  private line = '';
  private left = 0;

  push(buf: Buffer): { used: number; done: boolean } {
    let i = 0;
    while (i < buf.length) {
      if (this.state === 'data') {
        const n = Math.min(this.left, buf.length - i);
        i += n;
        this.left -= n;
        if (this.left === 0) {
          this.state = 'data-crlf';
          this.line = '';
        }
        continue;
      }
      const byte = buf[i++]!;
      if (byte !== 0x0a) {
        this.line += String.fromCharCode(byte);
        if (this.line.length > 4096) throw new HeadError(400, 'chunk line too long');
        continue;
      }
      if (!this.line.endsWith('\r')) throw new HeadError(400, 'a chunked body line ends without CRLF');
      const line = this.line.slice(0, -1);
      this.line = '';
      // eslint-disable-next-line no-control-regex -- control bytes are what it refuses
      if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) throw new HeadError(400, 'control character in a chunked body line');
      if (this.state === 'size') {
        const size = /^([0-9a-fA-F]{1,12})([ \t]*;.*)?$/.exec(line);
        if (!size) throw new HeadError(400, 'malformed chunk size');
        this.left = parseInt(size[1]!, 16);
        this.state = this.left === 0 ? 'trailer' : 'data';
      } else if (this.state === 'data-crlf') {
        if (line !== '') throw new HeadError(400, 'chunk data longer than its size');
        this.state = 'size';
      } else if (line === '') {
        this.state = 'size';
        return { used: i, done: true };
      }
    }
    return { used: i, done: false };
  }
}
