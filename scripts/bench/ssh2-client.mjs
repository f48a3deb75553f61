// A tunnel client the way the agent is built: one ssh2 connection, `tcpip-forward web-80`, each
// forwarded channel piped to the backend with Nagle off on both sockets, and the SSH socket's
// writes coalesced per event-loop poll phase (the server does the same: ssh/cork.ts).
// Usage: node ssh2-client.mjs <sshPort> <keyFile> <backendPort> [forwardCount]
import { readFileSync } from 'node:fs';
import net from 'node:net';
import ssh2 from 'ssh2';

const [sshPort, keyFile, backendPort, count = '1'] = process.argv.slice(2);
const client = new ssh2.Client();
client.on('tcp connection', (_info, accept) => {
  const channel = accept();
  const socket = net.connect(Number(backendPort), '127.0.0.1');
  socket.setNoDelay(true);
  socket.on('error', () => channel.destroy());
  channel.on('error', () => socket.destroy());
  channel.pipe(socket).pipe(channel);
});
client.on('ready', () => {
  client.setNoDelay(true);
  let left = Number(count);
  const names = Number(count) === 1 ? ['web-80'] : Array.from({ length: Number(count) }, (_, i) => `svc${i}-80`);
  for (const name of names)
    client.forwardIn(name, 80, (error) => {
      if (error) throw error;
      if (--left === 0) process.stdout.write('ready\n');
    });
});
const sock = net.connect(Number(sshPort), '127.0.0.1');
sock.setNoDelay(true);
const write = sock.write.bind(sock);
let corked = false;
sock.write = (...args) => {
  if (!corked) {
    corked = true;
    sock.cork();
    setImmediate(() => {
      corked = false;
      sock.uncork();
    });
  }
  return write(...args);
};
client.connect({ sock, username: 'bench', privateKey: readFileSync(keyFile), keepaliveInterval: 15_000 });
