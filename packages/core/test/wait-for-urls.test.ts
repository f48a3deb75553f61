// `prevu up` waiting for its URLs: a forward the tunnel server refused (its hostname belongs to
// another env of the key) stops the wait at once, in one line naming that env and the way out.
import { describe, expect, it } from 'vitest';
import type { TunnelRow } from '../src/agent-protocol.js';
import { waitForUrls } from '../src/up/open-urls.js';
import { prevuFailure } from './prevu-failure.js';

const expected = [{ service: 'web', port: 80, url: 'http://web-app-x-acct.localhost:8080' }];

describe('waitForUrls', () => {
  it('stops in one line when the tunnel server refused a forward', async () => {
    const rows: TunnelRow[] = [{ service: 'web', port: 80, hostname: null, url: null, state: 'ready', refused: { reason: 'web-app-x-acct.localhost is the address of env "x" of this key', heldByEnv: 'x' } }];
    let asked = 0;
    const client = { tunnels: () => (asked++, Promise.resolve(rows)) };
    const error = await prevuFailure(waitForUrls(client, 'app-x', expected, 2_000, () => undefined));
    expect(asked).toBe(1);
    expect(error.code).toBe('PREVU_FORWARD_REFUSED');
    expect(error.line.split('\n')).toHaveLength(1);
    expect(error.line).toMatch(/refused web:80 of env "app-x": .*env "x" of this key/);
    expect(error.line).toMatch(/prevu up --id <another id>/);
  });

  it('returns the rows once every expected URL is ready', async () => {
    const rows: TunnelRow[] = [{ service: 'web', port: 80, hostname: 'h', url: 'http://h', state: 'ready' }];
    expect(await waitForUrls({ tunnels: () => Promise.resolve(rows) }, 'app-x', expected, 60_000, () => undefined)).toBe(rows);
  });
});
