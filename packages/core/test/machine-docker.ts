import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Machine } from '../src/drivers/driver.js';

/** The Docker server version as the machine's own endpoint answers it: proof the machine is reached. */
export async function dockerServerVersion(machine: Machine): Promise<string> {
  const endpoint = await machine.docker();
  try {
    // async: this process serves the endpoint's forward
    const { stdout } = await promisify(execFile)('docker', ['version', '--format', '{{.Server.Version}}'], { env: { ...process.env, ...endpoint.env } });
    return stdout.trim();
  } finally {
    await endpoint.close();
  }
}
