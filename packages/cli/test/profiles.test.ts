// The profile commands as a user runs them: init, profile create|ls|use|rm, and their errors.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useKit } from '@prevu/test-kit';
import { describe, expect, it } from 'vitest';
import { cliHome, errorLines } from './cli.js';

const kit = useKit();

describe('profiles from the CLI', () => {
  it('init makes a key pair (0600) and the current profile; profile create/use/ls/rm manage the rest', async () => {
    const cli = cliHome(kit);
    const init = await cli.run(['init', '--name', 'work', '--tunnel-server', 'tunnel.example.com:2222', '--private', '--json']);
    expect(init.code, init.stderr).toBe(0);
    const made = JSON.parse(init.stdout) as { profile: string; accountId: string; publicKey: string };
    expect(made).toMatchObject({ profile: 'work', accountId: expect.stringMatching(/^[a-z2-7]{10}$/), publicKey: expect.stringMatching(/^ssh-ed25519 /) });
    const dir = join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'work');
    expect(statSync(join(dir, 'id_ed25519')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, 'profile.json'), 'utf8'))).toMatchObject({ driver: 'local', private: true, tunnelServer: { type: 'remote', address: 'tunnel.example.com:2222' } });

    expect((await cli.run(['profile', 'create', 'home'])).code).toBe(0);
    const ls = await cli.run(['profile', 'ls']);
    expect(ls.stdout).toMatch(/^\*\s+work\s+local\s+tunnel\.example\.com:2222\s+[a-z2-7]{10}$/m);
    expect(ls.stdout).toMatch(/^\s+home\s+local\s+embedded\s+[a-z2-7]{10}$/m);

    expect((await cli.run(['profile', 'use', 'home'])).code).toBe(0);
    const json = JSON.parse((await cli.run(['profile', 'ls', '--json'])).stdout) as { profiles: { name: string; current: boolean }[] };
    expect(json.profiles.map((p) => [p.name, p.current])).toEqual([['home', true], ['work', false]]);

    // Global flags may come before the command, as in `prevu --profile work urls`.
    const before = await cli.run(['--json', '--profile=work', 'profile', 'ls']);
    expect(before.code, before.stderr).toBe(0);
    expect((JSON.parse(before.stdout) as { profiles: unknown[] }).profiles).toHaveLength(2);
    const unknown = await cli.run(['--profile', 'ghost', '--debug', 'ls']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^prevu: no profile named "ghost": /m);

    expect((await cli.run(['profile', 'rm', 'work'])).code).toBe(0);
    expect((await cli.run(['profile', 'ls', '--json'])).stdout).not.toMatch(/"work"/);
  });

  it('errors are one line: duplicate, bad name, bad tunnel address, unknown driver, unknown profile', async () => {
    const cli = cliHome(kit);
    expect((await cli.run(['profile', 'create', 'a'])).code).toBe(0);
    const cases: [string[], RegExp][] = [
      [['profile', 'create', 'a'], /^prevu: profile "a" already exists: /],
      [['profile', 'create', 'Not Valid'], /^prevu: profile name "Not Valid" is not valid: use 1-40 lowercase/],
      [['profile', 'create', 'b', '--tunnel-server', 'nohostport'], /^prevu: --tunnel-server nohostport is not host:port or tls:\/\/host:port \(a port from 1 to 65535\): /],
      [['profile', 'create', 'b', '--tunnel-server', 'tunnel.example.com:99999'], /^prevu: --tunnel-server tunnel\.example\.com:99999 is not host:port or tls:\/\/host:port \(a port from 1 to 65535\): /],
      [['profile', 'create', 'b', '--tunnel-server', 'a:22', '--agent-tunnel-server', 'b'], /^prevu: --agent-tunnel-server b is not host:port or tls:\/\/host:port \(a port from 1 to 65535\): /],
      [['profile', 'create', 'b', '--tunnel-server', 'https://a:443'], /^prevu: --tunnel-server https:\/\/a:443 is not host:port or tls:\/\/host:port /],
      [['profile', 'create', 'b', '--ca-file', '/nonexistent/ca.crt', '--tunnel-server', 'tls://a:443'], /^prevu: --ca-file \/nonexistent\/ca\.crt cannot be used \(ENOENT\): /],
      [['profile', 'create', 'b', '--ca-file', '/etc/hostname'], /^prevu: --ca-file needs --tunnel-server: /],
      // The user gave a flag: the flag is named, not a profile.
      [['profile', 'create', 'c', '--driver', 'floppy'], /^prevu: Expected --driver=floppy to be one of: local, ssh, lightsail, kube: see `prevu profile create --help`$/],
      [['profile', 'use', 'ghost'], /^prevu: no profile named "ghost": /],
      [['profile', 'rm', 'ghost'], /^prevu: no profile named "ghost": /],
      [['profile', 'create', 'd', '--set', 'novalue'], /^prevu: --set novalue is not key=value: /],
    ];
    for (const [args, line] of cases) {
      const r = await cli.run(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(errorLines(r.stderr), args.join(' ')).toEqual([expect.stringMatching(line)]);
    }
    // a failed create leaves no half-made profile behind
    expect((await cli.run(['profile', 'ls', '--json'])).stdout).not.toMatch(/"c"/);
    // a hosts file that is not one is one line at start, whatever the command
    const hosts = join(cli.env.HOME!, 'hosts');
    writeFileSync(hosts, '127.0.0.1 ok.test\nnot-an-address web.test\n');
    const badHosts = await cli.run(['profile', 'ls'], { env: { PREVU_HOSTS_FILE: hosts } });
    expect([badHosts.code, errorLines(badHosts.stderr)]).toEqual([1, [`prevu: PREVU_HOSTS_FILE ${hosts} cannot be used (line 2 is not "<address> <name>..."): write lines "<address> <name>..." as in /etc/hosts; a name *.<domain> covers every name under it; or unset PREVU_HOSTS_FILE`]]);
  });

  it('help and autocomplete work', async () => {
    const cli = cliHome(kit);
    const help = await cli.run(['up', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--wait-timeout/);
    expect(help.stdout).toMatch(/--compose-profile/);
    const complete = await cli.run(['autocomplete', 'bash']);
    expect(complete.code, complete.stderr).toBe(0);
    expect(complete.stdout).toMatch(/prevu/);
  });
});
