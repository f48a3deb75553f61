import { Flags } from '@oclif/core';
import { statSync } from 'node:fs';
import { createServer } from 'node:net';
import { connectTunnelServer, profileCa } from '@prevu/core/session';
import { checkDocker } from '@prevu/core/docker-cli';
import { machineHostKeys } from '@prevu/core/drivers/index';
import { embeddedSettings, embeddedStatus } from '@prevu/core/embedded-server';
import { status } from '@prevu/core/envs/inspect';
import { list } from '@prevu/core/envs/list';
import { errors, ExitCode, isPrevuError } from '@prevu/core/errors';
import { checkCertificate, checkWildcardDns } from '@prevu/core/server-checks';
import { pinFingerprint } from '@prevu/core/ssh-fingerprint';
import { PrevuCommand } from '../base.js';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
  exitCode?: number;
}

export default class Doctor extends PrevuCommand<typeof Doctor> {
  static override description = 'Check Docker, compose, the profile, its key, the tunnel server and the driver; with --id, every service of that env; one line per check with a fix';
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --id pr-12'];
  static override flags = {
    id: Flags.string({ description: 'also explain every service of this env that is not ready (through its agent, no SSH)' }),
  };

  async run(): Promise<{ checks: Check[] }> {
    const checks: Check[] = [];
    const check = async (name: string, fn: () => Promise<string>) => {
      try {
        checks.push({ name, ok: true, detail: await fn() });
      } catch (error) {
        const e = isPrevuError(error) ? error : errors.unexpected((error as Error).message);
        checks.push({ name, ok: false, detail: e.message, fix: e.fix, exitCode: e.exitCode });
      }
      const last = checks.at(-1)!;
      if (!this.jsonEnabled()) this.log(`${last.ok ? '✓' : '✗'} ${name}: ${last.detail}${last.fix ? `: ${last.fix}` : ''}`);
      return last.ok;
    };

    await check('docker', async () => {
      const v = await checkDocker();
      return `engine ${v.engine}, compose ${v.compose}`;
    });
    let session: ReturnType<typeof this.session> | undefined;
    await check('profile', async () => {
      session = this.session();
      return `${session.profile.name} (driver ${session.profile.driver})`;
    });
    if (session) {
      const s = session;
      let baseUrl: string | undefined;
      await check('account key', async () => {
        const mode = statSync(s.key.privateKeyFile).mode & 0o777;
        if (mode & 0o077) throw errors.keyReadableByOthers(s.key.privateKeyFile, mode.toString(8));
        return `account ${s.key.accountId}, ${s.key.privateKeyFile} (mode 600)`;
      });
      await check('tunnel server', async () => {
        if (s.profile.tunnelServer.type === 'embedded') {
          const state = await embeddedStatus(embeddedSettings());
          if (!state.running) {
            const { httpPort, sshPort, managementPort } = state.settings;
            for (const [name, port] of [['HTTP', httpPort], ['SSH', sshPort], ['MANAGEMENT', managementPort]] as const) {
              if (!(await portFree(port))) throw errors.embeddedPortInUse(port, name);
            }
            return `embedded ${state.settings.container} is not running; its ports are free (\`prevu up\` or \`prevu server start\` starts it)`;
          }
        }
        const { endpoint, hello, client } = await connectTunnelServer(s, 'prevu-doctor');
        client.close();
        baseUrl = hello.baseUrl;
        return `${endpoint.address} answers, base URL ${hello.baseUrl}`;
      });
      // A self-hosted server as its users meet it: the wildcard name and the certificate.
      if (baseUrl && s.profile.tunnelServer.type === 'remote') {
        const url = baseUrl;
        if (await check('dns', () => checkWildcardDns(url))) await check(url.startsWith('https:') ? 'https' : 'http', () => checkCertificate(url, Date.now(), profileCa(s.profile)));
      }
      await check('host keys', async () => {
        // read again: the tunnel server check records a key on first contact
        const profile = this.store.read(s.profile.name);
        const ts = profile.tunnelServer;
        const tunnel =
          ts.type === 'embedded'
            ? 'tunnel server embedded (this machine)'
            : !ts.hostKey
              ? 'tunnel server not contacted yet: recorded on first use (pin it: --tunnel-host-key)'
              : ts.hostKeyPinned
                ? `tunnel server pinned (${pinFingerprint(ts.hostKey)})`
                : `tunnel server recorded on first use (${pinFingerprint(ts.hostKey)}; pin it: --tunnel-host-key)`;
        return `${tunnel}; ${machineHostKeys({ profile, profileDir: this.store.profileDir(profile.name) })}`;
      });
      const envId = this.flags.id;
      if (envId !== undefined) {
        // The env's services, as its agent explains them; each one not ready is a failed check.
        const env = await status(s, envId).catch((error: unknown) => error as Error);
        await check(`env ${envId}`, async () => {
          if (env instanceof Error) throw env;
          if (env.failure) throw errors.lastUpFailed(env.failure.line);
          if (env.agent !== 'connected') throw errors.agentUnreachable(envId, env.agent);
          return `${env.status}, agent connected`;
        });
        if (!(env instanceof Error)) {
          for (const service of [...new Map(env.services.map((row) => [row.service, row])).values()]) {
            await check(service.service, async () => {
              if (service.cause) throw errors.serviceNotReady(service.cause, service.fix ?? `see \`prevu logs ${service.service}\``);
              return 'ready';
            });
          }
        }
      }
      await check(`driver ${s.profile.driver}`, async () => {
        // the envs as `prevu ls` finds them: the local driver makes no machines, its envs are
        // compose projects on this engine
        const envs = await list(s);
        return `ready (${envs.length} env(s) of this profile)`;
      });
    }
    const failed = checks.filter((c) => !c.ok);
    if (failed.length) {
      if (this.jsonEnabled()) this.logJson({ checks });
      this.exit(Math.max(...failed.map((c) => c.exitCode ?? ExitCode.environment)));
    }
    return { checks };
  }
}
