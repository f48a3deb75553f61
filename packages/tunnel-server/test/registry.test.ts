// The registry's ownership rule on its own: a hostname is taken over only by the same key (full
// fingerprint) and the same env; any other owner is refused and the holder keeps it.
import { describe, expect, it } from 'vitest';
import { MAX_GONE_PER_KEY, Registry, type Tunnel, type TunnelOwner } from '../src/registry.js';

let nextId = 1;
function owner(key: string, envId: string, accountId = 'sameaccntx'): TunnelOwner & { lostNames: string[] } {
  const lostNames: string[] = [];
  return {
    id: nextId++,
    accountId,
    key,
    envId,
    keyBlob: Buffer.from(key),
    refused: new Map(),
    openChannel: () => Promise.reject(new Error('not used')),
    lost: (t: Tunnel) => void lostNames.push(t.name),
    lostNames,
  };
}

const tunnel = (o: TunnelOwner, hostname = 'web-env-sameaccntx.localhost'): Tunnel => ({ hostname, name: 'web', service: 'web', private: false, h2c: false, owner: o, bind: { kind: 'tcpip', address: 'web', port: 80 } });

describe('Registry ownership', () => {
  it('lets a newer connection of the same key and env take a name over', () => {
    const registry = new Registry();
    const first = owner('SHA256:a', 'env');
    const second = owner('SHA256:a', 'env');
    expect(registry.add(tunnel(first))).toBeUndefined();
    const t = tunnel(second);
    expect(registry.add(t)).toBeUndefined();
    expect(registry.route(t.hostname)).toEqual({ kind: 'tunnel', tunnel: t });
    expect(first.lostNames).toEqual(['web']);
  });

  it('refuses another key with the same 50-bit accountId, and another env of the same key', () => {
    const registry = new Registry();
    const holder = owner('SHA256:a', 'env');
    const held = tunnel(holder);
    registry.add(held);
    const collider = registry.add(tunnel(owner('SHA256:b', 'env')));
    expect(collider?.reason).toMatch(/another key/);
    expect(collider?.heldByEnv).toBeUndefined();
    const sibling = registry.add(tunnel(owner('SHA256:a', 'other-env')));
    expect(sibling).toMatchObject({ heldByEnv: 'env' });
    expect(registry.route(held.hostname)).toEqual({ kind: 'tunnel', tunnel: held });
    expect(holder.lostNames).toEqual([]);
  });

  it('keeps a gone name for its key and env: another may not take it while its holder may come back', () => {
    const registry = new Registry();
    const holder = owner('SHA256:a', 'env');
    const held = tunnel(holder);
    registry.add(held);
    registry.remove(held);
    expect(registry.add(tunnel(owner('SHA256:a', 'other-env')))?.reason).toMatch(/was the address of env "env"/);
    expect(registry.route(held.hostname).kind).toBe('gone');
    expect(registry.add(tunnel(owner('SHA256:a', 'env')))).toBeUndefined();
    // Released (cancelled on purpose): free for anyone.
    const again = registry.route(held.hostname);
    expect(again.kind).toBe('tunnel');
    registry.release((again as { tunnel: Tunnel }).tunnel);
    expect(registry.add(tunnel(owner('SHA256:a', 'other-env')))).toBeUndefined();
  });

  it('counts connections per key, not per accountId', () => {
    const registry = new Registry();
    registry.addOwner(owner('SHA256:a', 'env'));
    registry.addOwner(owner('SHA256:a', 'env2'));
    registry.addOwner(owner('SHA256:b', 'env'));
    expect(registry.connectionsOf('SHA256:a')).toBe(2);
    expect(registry.connectionsOf('SHA256:b')).toBe(1);
  });

  it("bounds the gone names one key keeps: its churn forgets its own oldest, never another key's", () => {
    const registry = new Registry();
    const calm = tunnel(owner('SHA256:calm', 'env'), 'calm.localhost');
    registry.add(calm);
    registry.remove(calm);
    const churner = owner('SHA256:churn', 'env');
    for (let i = 0; i < MAX_GONE_PER_KEY + 10; i++) {
      const t = tunnel(churner, `churn-${i}.localhost`);
      registry.add(t);
      registry.remove(t);
    }
    expect(registry.route('calm.localhost').kind).toBe('gone');
    expect(registry.route('churn-0.localhost').kind).toBe('unknown');
    expect(registry.route(`churn-${MAX_GONE_PER_KEY + 9}.localhost`).kind).toBe('gone');
  });
});
