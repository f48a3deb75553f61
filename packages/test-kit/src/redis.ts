// A throwaway Debian redis-server on loopback for the tunnel-server cluster tests: no persistence,
// so a restart comes back empty (what the nodes' re-publishing must survive).
import { freePort } from './ports.js';
import type { Kit } from './kit.js';
import type { Proc } from './process.js';

export interface RedisServer {
  proc: Proc;
  port: number;
  url: string;
}

/** Starts redis-server (scripts/ensure-docker.sh installs it) on `port`, or a free one. */
export async function startRedis(kit: Pick<Kit, 'start'>, port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const proc = await kit.start({
    command: 'redis-server',
    args: ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
    readyLine: /Ready to accept connections/,
  });
  return { proc, port: p, url: `redis://127.0.0.1:${p}` };
}
