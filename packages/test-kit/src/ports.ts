import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

// A port the kernel hands out (listen on 0) lies in the ephemeral range, where every outgoing
// connection also takes its source port: between the check and the bind, a test's own HTTP or SSH
// client can take it (seen in CI as EADDRINUSE). Ports are therefore picked below that range, where
// the kernel never assigns one, in a slice per test worker so that workers do not pick alike.
const FLOOR = 10_000;
const WORKER_SLICES = 8;

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FLOOR + 1000 ? low : 32_768;
  } catch {
    return 32_768; // the Linux default, and above what other systems use for ephemeral ports
  }
}

const sliceSize = Math.floor((ephemeralLow() - FLOOR) / WORKER_SLICES);
const worker = Number(process.env.VITEST_POOL_ID ?? process.pid) % WORKER_SLICES;
const sliceStart = FLOOR + worker * sliceSize;
let cursor = Math.floor(Math.random() * sliceSize);

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A free TCP port on a loopback (or any) address, outside the ephemeral range. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < sliceSize; tries++) {
    const port = sliceStart + (cursor++ % sliceSize);
    if (await canListen(host, port)) return port;
  }
  throw new Error(`no free port on ${host} between ${sliceStart} and ${sliceStart + sliceSize}`);
}

/** Several distinct free ports. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) ports.push(await freePort(host));
  return ports;
}
