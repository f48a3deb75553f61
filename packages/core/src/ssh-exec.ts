// The one way prevu runs a command over an SSH connection and collects what it said: the CLI on
// the tunnel server (hello, share-create, agent-key), the ssh driver on a host, the agent on the
// tunnel server. Type-only use of ssh2, so the agent's bundle pays nothing for it.
import type { Client } from 'ssh2';

export interface ExecResult {
  /** The exit status; null when the channel closed without one (a dropped connection). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command`, with `input` on its stdin when given, and resolves once its channel closes. */
export function sshExec(client: Client, command: string, input?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      channel.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      channel.on('exit', (c: number | null) => (code = c ?? null));
      channel.on('close', () => resolve({ code, stdout, stderr }));
      if (input !== undefined) channel.end(input);
    });
  });
}
