// First import, as in the entries that use it: ssh2 must be loaded by it.
import { pooledPaddings } from '../src/ssh2-padding.js';
import { randomFillSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { ed25519KeyPair } from '../src/ssh-keys.js';

/** 1 MB from an ssh2 server to an ssh2 client over AES-GCM, as the tunnel uses it. */
async function exchange(): Promise<number> {
  const server = new ssh2.Server({ hostKeys: [ed25519KeyPair().private] }, (conn) => {
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('ready', () => conn.on('session', (accept) => accept().once('exec', (accept) => accept().end(Buffer.alloc(1e6, 7)))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await new Promise<number>((resolve, reject) => {
      const client = new ssh2.Client();
      client.on('error', reject);
      client.on('ready', () =>
        client.exec('send', (error, stream) => {
          if (error) return reject(error);
          let bytes = 0;
          stream.on('data', (d: Buffer) => (bytes += d.filter((b) => b === 7).length));
          stream.on('close', () => (client.end(), resolve(bytes)));
        }),
      );
      client.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, username: 'u', password: 'p', algorithms: { cipher: ['aes128-gcm@openssh.com'] } });
    });
  } finally {
    server.close();
  }
}

describe('ssh2 packet padding from a pool', () => {
  it('pads every packet of a session from the pool, and the data arrives intact', async () => {
    const before = pooledPaddings();
    expect(await exchange()).toBe(1e6);
    // one padding per packet each way: at least the 32 KiB packets of 1 MB
    expect(pooledPaddings() - before).toBeGreaterThan(30);
  });

  it('leaves node:crypto as it was for everyone else', () => {
    const before = pooledPaddings();
    randomFillSync(Buffer.alloc(16), 0, 8);
    expect(pooledPaddings()).toBe(before);
  });
});
