// The agent's own tunnel client (compose-tunnel-agent's TunnelClient and handleChannel, as built by
// `npm run build`) forwarding to the bench backend: what `prevu up` runs beside a project, minus
// Docker. Prints `ready` once the tunnel server's hello lists every forward. Several key files
// (comma-separated) are as many envs, each with its own connection, in this one process: the
// scaling row runs 50 envs on 2 cores without 50 node processes.
// Usage: node agent-client.mjs <sshPort | tls://host:port> <keyFile[,keyFile...]> <backendPort> [forwardCount] [caFile tlsName]
// first, as in the agent's main.ts: ssh2's packet padding from a pool
import '../../packages/core/dist/ssh2-padding.js';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { handleChannel } from '../../packages/compose-tunnel-agent/dist/forward.js';
import { TunnelClient } from '../../packages/compose-tunnel-agent/dist/tunnel-client.js';
import { parseTunnelAddress } from '../../packages/core/dist/tunnel-address.js';

const [server, keyFile, backendPort, count = '1', caFile, tlsName] = process.argv.slice(2);
const log = pino({ level: 'warn' });
const target = { host: '127.0.0.1', port: Number(backendPort) };
const services = Number(count) === 1 ? ['web'] : Array.from({ length: Number(count) }, (_, i) => `svc${i}`);
let pending = keyFile.split(',').length;
for (const file of keyFile.split(',')) {
  const client = new TunnelClient({
    address: parseTunnelAddress(server.includes(':') ? server : `127.0.0.1:${server}`),
    ...(caFile ? { ca: readFileSync(caFile, 'utf8'), tlsName } : {}),
    envId: 'bench',
    privateKey: readFileSync(file, 'utf8'),
    log,
    onChannel: (forward, channel) => handleChannel(channel, target, { state: 'ready' }, log, forward.service),
  });
  client.setForwards(services.map((service) => ({ name: `${service}-80`, service, port: 80, private: false, h2c: false })));
  let listed = false;
  client.on('hello', (hello) => {
    if (listed || hello.tunnels.length !== services.length) return;
    listed = true;
    if (--pending === 0) process.stdout.write('ready\n');
  });
  client.start();
}
