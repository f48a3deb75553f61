// Which tunnel `prevu connect <service> [--port N]` means, from `hello`'s tunnels (their ports
// filled in from the agent's rows where a one-port forward's name has none).
import { describe, expect, it } from 'vitest';
import { connectTarget } from '../src/envs/connect.js';
import { isError, errors } from '../src/errors.js';
import type { TunnelInfo } from '../src/tunnel-protocol.js';

const tunnel = (name: string, service: string, port?: number): TunnelInfo => ({ name, service, ...(port === undefined ? {} : { port }), hostname: `${name}-e-a.localhost`, url: `http://${name}-e-a.localhost`, private: false });
const tunnels = [tunnel('cache', 'cache', 6379), tunnel('db-5432', 'db', 5432), tunnel('db-5433', 'db', 5433), tunnel('old', 'old')];

describe('connect target', () => {
  it('takes a one-port service by name, a port of several by --port, a port the agent did not tell as is', () => {
    expect(connectTarget(tunnels, 'e', 'cache').name).toBe('cache');
    expect(connectTarget(tunnels, 'e', 'cache', 6379).name).toBe('cache');
    expect(connectTarget(tunnels, 'e', 'db', 5433).name).toBe('db-5433');
    expect(connectTarget(tunnels, 'e', 'old', 1234).name).toBe('old');
  });

  it('says in one line what is missing or ambiguous', () => {
    const line = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return isError(error, errors.connectNoTarget, errors.connectPortAmbiguous) ? error.line : String(error);
      }
      return 'no error';
    };
    expect(line(() => connectTarget(tunnels, 'e', 'db'))).toBe('service "db" has several ports (5432, 5433): pick one with --port');
    expect(line(() => connectTarget(tunnels, 'e', 'cache', 1))).toBe('env "e" has no tunnel for service "cache" on port 1 held by this key (its tunnels: cache, db-5432, db-5433, old): check the service and --id with `prevu urls`; only the key that deployed an env connects to it');
    expect(line(() => connectTarget([], 'e', 'cache'))).toMatch(/^env "e" has no tunnel for service "cache" held by this key \(it has none\): /);
  });
});
