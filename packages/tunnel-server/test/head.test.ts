// The only HTTP parsing the proxy does: heads and body framing. Ambiguous framing must be refused
// (the backend would otherwise see a request boundary the proxy did not), and chunked bodies must
// be followed through any split of the bytes.
import { describe, expect, it } from 'vitest';
import { ChunkedFramer, HeadError, parseHead } from '../src/http/head.js';

const head = (text: string) => parseHead(Buffer.from(`${text}\r\n\r\n`, 'latin1'));

describe('request heads', () => {
  it('reads method, target, Host, framing and upgrade', () => {
    const h = head('POST /a?b=1 HTTP/1.1\r\nHost: Web-80.localhost:8080\r\nContent-Length: 12\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket');
    expect(h).toMatchObject({ method: 'POST', target: '/a?b=1', version: '1.1', host: 'Web-80.localhost:8080', body: { kind: 'length', length: 12 }, upgrade: true });
    expect(head('GET / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked').body).toEqual({ kind: 'chunked' });
    expect(head('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket').upgrade).toBe(false);
  });

  it.each([
    ['both framings', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked', 400],
    ['conflicting lengths', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4', 400],
    ['signed length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3', 400],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : x', 400],
    ['folded header', 'GET / HTTP/1.1\r\nHost: x\r\n  folded', 400],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b', 400],
    ['bare LF inside', 'GET / HTTP/1.1\r\nHost: x\nX-Evil: 1', 400],
    ['HTTP/2 line', 'GET / HTTP/2.0\r\nHost: x', 400],
    ['gzip transfer coding', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked', 501],
  ])('refuses %s', (_what, text, status) => {
    try {
      head(text);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(HeadError);
      expect((error as HeadError).status).toBe(status);
    }
  });
});

describe('chunked framing', () => {
  const body = Buffer.from('4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: t\r\n\r\n', 'latin1');
  const next = Buffer.from('GET /next HTTP/1.1\r\n');

  it('finds the end through every split, leaving the next request untouched', () => {
    for (let size = 1; size <= body.length; size++) {
      const framer = new ChunkedFramer();
      const all = Buffer.concat([body, next]);
      let offset = 0;
      let done = false;
      while (!done) {
        const piece = all.subarray(offset, Math.min(all.length, offset + size));
        const r = framer.push(piece);
        offset += r.used;
        done = r.done;
        if (!done) expect(r.used).toBe(piece.length);
      }
      expect(offset).toBe(body.length);
    }
  });

  it.each([
    ['a size line', '3\nabc\r\n0\r\n\r\n'],
    ['the end of a chunk', '3\r\nabc\n0\r\n\r\n'],
    ['the last line', '3\r\nabc\r\n0\r\n\n'],
    ['a trailer', '0\r\nX: 1\n\r\n'],
  ])('refuses a bare LF ending %s', (_what, text) => {
    expect(() => new ChunkedFramer().push(Buffer.from(text, 'latin1'))).toThrow(/CRLF/);
  });

  it('refuses a CR inside a chunk line', () => {
    expect(() => new ChunkedFramer().push(Buffer.from('3;a\rb\r\nabc\r\n', 'latin1'))).toThrow(/control character/);
  });

  it('refuses a bad size line or data longer than its size', () => {
    expect(() => new ChunkedFramer().push(Buffer.from('zz\r\n'))).toThrow(HeadError);
    expect(() => new ChunkedFramer().push(Buffer.from('2\r\nabc\r\n'))).toThrow(/longer than its size/);
  });
});
