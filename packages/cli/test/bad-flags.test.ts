// Every command with a wrong value of each of its flags, read as a newcomer would: one line that
// says which flag or argument, what was wrong and what to write instead; the exit code of a user
// mistake (1); and nothing written to the config dir. No Docker: each case fails before it.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useKit } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliHome, errorLines } from './cli.js';

const kit = useKit();
const cli = cliHome(kit);
let project: string;

/** Every file under the config dir with its content hash and mode: a bad input changes none. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const stat = statSync(path);
    out[path] = entry.isFile() ? `${stat.mode} ${createHash('sha256').update(readFileSync(path)).digest('hex')}` : `${stat.mode} dir`;
  }
  return out;
}

const help = (command: string) => `: see \`prevu ${command} --help\``;

// [args, the one line on stderr]
const cases: [string[], string | RegExp][] = [
  [['up', '--wait-timeout', '0'], `prevu: --wait-timeout: expected an integer greater than or equal to 1 but received: 0 (e.g. --wait-timeout 300)${help('up')}`],
  [['up', '--wait-timeout', 'soon'], `prevu: --wait-timeout: expected an integer but received: soon (e.g. --wait-timeout 300)${help('up')}`],
  [['up', '--wait-timeout', '1', '--wait-timeout', '2'], `prevu: Flag --wait-timeout can only be specified once${help('up')}`],
  [['up', '--driver', 'floppy'], `prevu: Expected --driver=floppy to be one of: local, ssh, lightsail, kube${help('up')}`],
  [['up', '--driver'], `prevu: Flag --driver expects one of these values: local, ssh, lightsail, kube${help('up')}`],
  [['up', '--set', 'novalue'], 'prevu: --set novalue is not key=value: write it like --set host=user@example.com:22'],
  [['up', '--driver', 'lightsail', '--set', 'region=Frankfurt'], "prevu: invalid lightsail setting region (a region looks like us-east-1): set it with `prevu init --driver lightsail --set region=...` (or edit the profile's driverOptions)"],
  [['up', '--id', '___'], 'prevu: env id "___" has no letters or digits: pass --id with letters, digits and dashes'],
  [['up', '-f', 'missing.yaml'], /^prevu: no compose file or Dockerfile in \S+ \(\S+missing\.yaml does not exist\): run prevu in a directory with compose\.yaml \(or a Dockerfile\), or pass -f <file>$/],
  [['up', 'nosuchservice'], 'prevu: no service "nosuchservice" in the compose project: choose from: web'],
  [['up', '--bogus'], `prevu: Nonexistent flag: --bogus${help('up')}`],
  [['up', '--profile', 'nope'], 'prevu: no profile named "nope": list profiles with `prevu profile ls` or create one with `prevu init`'],
  [['down', '--id', '___'], 'prevu: env id "___" has no letters or digits: pass --id with letters, digits and dashes'],
  [['down', '--id', 'never-deployed'], 'prevu: no environment "never-deployed": see `prevu ls` for the environments of this profile'],
  [['logs', '--tail', '-1'], `prevu: --tail: expected an integer greater than or equal to 0 but received: -1 (e.g. --tail 0)${help('logs')}`],
  [['logs', '--id', 'never-deployed'], 'prevu: no environment "never-deployed": see `prevu ls` for the environments of this profile'],
  [['urls', '--ttl', '5'], `prevu: --ttl needs --share${help('urls')}`],
  [['urls', '--share', '--ttl', '0'], `prevu: --ttl: expected an integer greater than or equal to 1 but received: 0 (e.g. --ttl 24)${help('urls')}`],
  [['urls', '--share', '--ttl', '169'], `prevu: --ttl: expected an integer less than or equal to 168 but received: 169 (e.g. --ttl 24)${help('urls')}`],
  [['status', '--id', '___'], 'prevu: env id "___" has no letters or digits: pass --id with letters, digits and dashes'],
  [['ls', '--bogus'], `prevu: Nonexistent flag: --bogus${help('ls')}`],
  [['init', '--name', 'Bad Name'], 'prevu: profile name "Bad Name" is not valid: use 1-40 lowercase letters, digits, "-" or "_"'],
  [['init', '--tunnel-server', 'nohostport'], 'prevu: --tunnel-server nohostport is not host:port or tls://host:port (a port from 1 to 65535): pass the SSH address of the tunnel server, e.g. tunnel.example.com:2222, or its HTTPS port for SSH over TLS, e.g. tls://ssh.example.com:443'],
  [['init', '--driver', 'floppy'], `prevu: Expected --driver=floppy to be one of: local, ssh, lightsail, kube${help('init')}`],
  [['init', '--set', 'x'], 'prevu: --set x is not key=value: write it like --set host=user@example.com:22'],
  [['profile', 'create'], `prevu: missing argument <name> (profile name)${help('profile create')}`],
  [['profile', 'use', 'ghost'], 'prevu: no profile named "ghost": list profiles with `prevu profile ls` or create one with `prevu init`'],
  [['profile', 'rm', 'ghost'], 'prevu: no profile named "ghost": list profiles with `prevu profile ls` or create one with `prevu init`'],
  [['server', 'start', '--bogus'], `prevu: Nonexistent flag: --bogus${help('server start')}`],
  [['github', 'report'], `prevu: missing argument <event> ((up|down) what happened)${help('github report')}`],
  [['github', 'report', 'up', '--status', 'maybe'], `prevu: Expected --status=maybe to be one of: deployment, commit, none${help('github report')}`],
  [['purge', '--force', '--profile', 'nope'], 'prevu: no profile named "nope": list profiles with `prevu profile ls` or create one with `prevu init`'],
  [['up', '--ttl', 'abc'], 'prevu: --ttl abc is not a duration: write it like 4h, 90m, 1h30m or 2d (units s, m, h, d)'],
  [['up', '--ttl', '500h'], 'prevu: --ttl 500h is out of range (1h to 168h): pick a value from 1h to 168h'],
  [['up', '--ttl', '0'], 'prevu: --ttl 0 means the env never expires, which only a pinned env may do: add --pin, or give a TTL from 1h to 168h (e.g. --ttl 4h)'],
  [['up', '--sleep-after', '5s'], 'prevu: --sleep-after 5s is out of range (1m to 168h): pick a value from 1m to 168h'],
  [['init', '--max-envs', '0'], `prevu: --max-envs: expected an integer greater than or equal to 1 but received: 0 (e.g. --max-envs 1)${help('init')}`],
  [['init', '--max-envs', 'many'], `prevu: --max-envs: expected an integer but received: many (e.g. --max-envs 1)${help('init')}`],
  [['init', '--store', 'http://bucket'], 'prevu: "http://bucket" is not a store URL (it must start with s3://): give s3://<bucket>/<prefix>, e.g. s3://my-team-prevu/previews'],
  [['profile', 'import', 's3://'], 'prevu: "s3://" is not a store URL (a bucket name is 3-63 characters: a-z, 0-9, dots and dashes): give s3://<bucket>/<prefix>, e.g. s3://my-team-prevu/previews'],
  [['gc', 'now'], 'prevu: `prevu gc` takes no argument "now": see `prevu gc --help`'],
  [['down', 'my-env'], 'prevu: `prevu down` takes no argument "my-env": see `prevu down --help`'],
  [['gc', '--volume'], `prevu: Nonexistent flag: --volume${help('gc')}`],
  [['pin', '___'], 'prevu: env id "___" has no letters or digits: pass --id with letters, digits and dashes'],
  [['unpin', 'never-deployed'], 'prevu: no environment "never-deployed": see `prevu ls` for the environments of this profile'],
  [['share', 'never-deployed'], 'prevu: no environment "never-deployed": see `prevu ls` for the environments of this profile'],
  [['share', 'rm'], `prevu: missing argument <id> (the link id (\`prevu share ls\`))${help('share rm')}`],
  [['events', '--id', '___'], 'prevu: env id "___" has no letters or digits: pass --id with letters, digits and dashes'],
  [['doctor', '--id', '___'], 'prevu: env id "___" has no letters or digits: pass --id with letters, digits and dashes'],
  [['nosuch'], 'prevu: unknown command "nosuch": `prevu --help` lists the commands'],
  [['profil', 'ls'], 'prevu: unknown command "profil ls": did you mean `prevu profile ls`? (`prevu --help` lists the commands)'],
];

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'prevu-bad-flags-'));
  kit.defer(`dir ${project}`, () => rmSync(project, { recursive: true, force: true }));
  writeFileSync(join(project, 'compose.yaml'), 'services:\n  web:\n    image: busybox:latest\n    expose: ["80"]\n');
  // The profile a first run makes: what follows must leave it as it is.
  expect((await cli.run(['ls'])).code).toBe(0);
});

describe('every command with a bad flag value', () => {
  it('answers in one line that names the flag and a right value, exits 1, and writes nothing', async () => {
    const before = snapshot(cli.env.XDG_CONFIG_HOME!);
    expect(Object.keys(before).some((p) => p.endsWith('profile.json'))).toBe(true);
    // Four at a time: each is a CLI start, and none needs the others.
    for (let i = 0; i < cases.length; i += 4) {
      await Promise.all(
        cases.slice(i, i + 4).map(async ([args, line]) => {
          const r = await cli.run(args, { cwd: project });
          const lines = errorLines(r.stderr);
          expect({ args, code: r.code, lines: lines.length }).toEqual({ args, code: 1, lines: 1 });
          if (typeof line === 'string') expect(lines[0], args.join(' ')).toBe(line);
          else expect(lines[0], args.join(' ')).toMatch(line);
        }),
      );
    }
    expect(snapshot(cli.env.XDG_CONFIG_HOME!)).toEqual(before);
    // Dozens of CLI starts: 46 s on a quiet 2-core machine, past the default 60 s under load.
  }, 180_000);
});
