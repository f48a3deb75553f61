// Each bad input gives ONE clear line (what was wrong: what to do) and the exit code of its kind.
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, freePorts, useKit } from '@prevu/test-kit';
import { describe, expect, it } from 'vitest';
import { cliHome, errorLines } from './cli.js';

const kit = useKit();
const cli = cliHome(kit);

function projectDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'prevu-bad-'));
  kit.defer(`dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

const hello = 'services:\n  web:\n    image: busybox:latest\n    expose: ["80"]\n';

describe('bad inputs', () => {
  it('no compose file: exit 1', async () => {
    const r = await cli.run(['up'], { cwd: projectDir({}) });
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^prevu: no compose file or Dockerfile in .+: run prevu in a directory with compose\.yaml \(or a Dockerfile\), or pass -f <file>$/)]);
  });

  it('invalid compose: exit 1, naming the problem', async () => {
    const r = await cli.run(['up'], { cwd: projectDir({ 'compose.yaml': 'services:\n  web:\n    image: busybox:latest\n    ports: "80"\n' }) });
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^prevu: the compose project is invalid \(.*ports.*\): fix the file/)]);
  });

  it('Docker not running: exit 2', async () => {
    const dir = projectDir({ 'compose.yaml': hello });
    const r = await cli.run(['up'], { cwd: dir, env: { DOCKER_HOST: `unix://${join(dir, 'dead.sock')}` } });
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^prevu: Docker is not reachable \(.+\): start Docker/)]);
  });

  it('tunnel server unreachable: exit 2', async () => {
    const port = await freePort();
    const created = await cli.run(['profile', 'create', 'far', '--tunnel-server', `127.0.0.1:${port}`]);
    expect(created.code, created.stderr).toBe(0);
    const r = await cli.run(['up', '--profile', 'far'], { cwd: projectDir({ 'compose.yaml': hello }) });
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual([`prevu: the tunnel server at 127.0.0.1:${port} does not answer (ECONNREFUSED): check the address with \`prevu doctor\`, or \`prevu server start\` for the embedded one`]);
    const doctor = await cli.run(['doctor', '--profile', 'far']);
    expect(doctor.code).toBe(2);
    expect(doctor.stdout).toMatch(/^✓ docker: engine /m);
    expect(doctor.stdout).toMatch(/^✗ tunnel server: .*ECONNREFUSED.*: check the address/m);
  });

  it('a service named like the agent (prevu-agent after normalizing): exit 1 before anything is deployed', async () => {
    // an unreachable tunnel server: a check made any later would fail there (exit 2) instead
    const port = await freePort();
    expect((await cli.run(['profile', 'create', 'taken', '--tunnel-server', `127.0.0.1:${port}`])).code).toBe(0);
    for (const name of ['prevu-agent', 'Prevu_Agent', 'prevu.agent']) {
      const r = await cli.run(['up', '--profile', 'taken'], { cwd: projectDir({ 'compose.yaml': `services:\n  ${name}:\n    image: busybox:latest\n` }) });
      expect(r.code, name).toBe(1);
      expect(errorLines(r.stderr)).toEqual([`prevu: the compose service "${name}" takes the name prevu-agent, which prevu keeps for its agent: rename that service in the compose file`]);
    }
    const nameless = await cli.run(['up', '--profile', 'taken'], { cwd: projectDir({ 'compose.yaml': 'services:\n  ___:\n    image: busybox:latest\n    expose: ["80"]\n' }) });
    expect([nameless.code, errorLines(nameless.stderr)]).toEqual([1, ['prevu: the compose service "___" has no letters or digits, so it can have no URL: rename that service in the compose file']]);
    const ls = await cli.run(['ls', '--profile', 'taken', '--json']);
    expect(JSON.parse(ls.stdout)).toEqual({ envs: [] });
  });

  it('unknown profile: exit 1', async () => {
    const r = await cli.run(['up', '--profile', 'nope'], { cwd: projectDir({ 'compose.yaml': hello }) });
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual(['prevu: no profile named "nope": list profiles with `prevu profile ls` or create one with `prevu init`']);
  });

  it('unknown env on down, unknown flag, bad --id: exit 1', async () => {
    const dir = projectDir({ 'compose.yaml': hello });
    const down = await cli.run(['down', '--id', 'never-deployed'], { cwd: dir });
    expect(down.code).toBe(1);
    expect(errorLines(down.stderr)).toEqual(['prevu: no environment "never-deployed": see `prevu ls` for the environments of this profile']);
    const flag = await cli.run(['up', '--bogus'], { cwd: dir });
    expect(flag.code).toBe(1);
    expect(errorLines(flag.stderr)).toHaveLength(1);
    expect(flag.stderr).toMatch(/Nonexistent flag: --bogus.*prevu up --help/);
    // A flag value out of range keeps its reason (oclif's second line), on the one line.
    const timeout = await cli.run(['up', '--wait-timeout', '-5'], { cwd: dir });
    expect([timeout.code, errorLines(timeout.stderr)]).toEqual([1, ['prevu: --wait-timeout: expected an integer greater than or equal to 1 but received: -5 (e.g. --wait-timeout 300): see `prevu up --help`']]);
    // A flag, not a profile, named the unknown driver: the line says so, and the profile is unchanged.
    const driver = await cli.run(['up', '--driver', 'foo'], { cwd: dir });
    expect([driver.code, errorLines(driver.stderr)]).toEqual([1, ['prevu: Expected --driver=foo to be one of: local, ssh, lightsail, kube: see `prevu up --help`']]);
    const id = await cli.run(['up', '--id', '___'], { cwd: dir });
    expect(id.code).toBe(1);
    expect(errorLines(id.stderr)).toEqual([expect.stringMatching(/^prevu: env id "___" has no letters or digits: pass --id/)]);
  });

  it('doctor names a busy embedded port and the variable that moves it: exit 1', async () => {
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    kit.defer('busy port', () => new Promise((done) => busy.close(done)));
    const port = (busy.address() as AddressInfo).port;
    const [http, management] = await freePorts(2);
    const r = await cli.run(['doctor'], { env: { PREVU_EMBEDDED_NAME: `prevu-doctor-${process.pid}`, PREVU_EMBEDDED_HTTP_PORT: String(http), PREVU_EMBEDDED_SSH_PORT: String(port), PREVU_EMBEDDED_MANAGEMENT_PORT: String(management) } });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`✗ tunnel server: port ${port} on 127.0.0.1 is in use, the embedded tunnel server cannot take it: stop what uses it, or set PREVU_EMBEDDED_SSH_PORT to a free port`);
  });

  it('an env id without letters or digits is the same one line through every command that takes one, never "unexpected error"', async () => {
    const dir = projectDir({ 'compose.yaml': hello });
    const line = 'prevu: env id "___" has no letters or digits: pass --id with letters, digits and dashes';
    for (const args of [['up'], ['down'], ['status'], ['logs'], ['urls'], ['github', 'report', 'down']]) {
      const r = await cli.run([...args, '--id', '___'], { cwd: dir });
      expect([args.join(' '), r.code, errorLines(r.stderr)]).toEqual([args.join(' '), 1, [line]]);
    }
    // The Action takes it as its `id:` input.
    const action = await cli.run(['github', 'action'], { cwd: dir, env: { INPUT_COMMAND: 'down', INPUT_ID: '___' } });
    expect([action.code, errorLines(action.stderr)]).toEqual([1, [line]]);
  });

  it('a bad prevu.expose label: its own code, exit 1, naming the service, before anything is deployed', async () => {
    const dir = projectDir({ 'compose.yaml': 'services:\n  web:\n    image: busybox:latest\n    labels: { prevu.expose: "web" }\n' });
    const r = await cli.run(['up', '--json'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual(['prevu: the compose project is invalid (service "web": label prevu.expose="web" must be "true", "false" or a comma-separated list of ports like "80,443" (tcp:5432 for a port reached by `prevu connect` only)): fix the label in the compose file']);
    expect(JSON.parse(r.stdout.trim()).error.code).toBe('PREVU_EXPOSE_LABEL_INVALID');
  });

  it('--json errors are one JSON line on stdout too', async () => {
    const r = await cli.run(['up', '--json', '--profile', 'nope'], { cwd: projectDir({ 'compose.yaml': hello }) });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout.trim())).toEqual({ error: { code: 'PREVU_UNKNOWN_PROFILE', message: 'no profile named "nope"', fix: expect.any(String) } });
  });
});

describe('prevu config check', () => {
  it("compares the project's environment keys with a dotenv file: one line each, exit 1 when the file lacks one", async () => {
    const dir = projectDir({
      'compose.yaml': 'services:\n  web:\n    image: busybox:latest\n    environment: { API_KEY: "${API_KEY:-}", MODE: preview, PREVU_NOTE: x }\n  worker:\n    image: busybox:latest\n    environment: [DB_URL=postgres://db]\n',
      '.env.production': 'API_KEY=secret\nDB_URL=postgres://prod\nLEGACY_FLAG=1\n',
      '.env.full': 'API_KEY=1\nMODE=2\nDB_URL=3\nPREVU_NOTE=4\n',
    });
    const r = await cli.run(['config', 'check', '--against', '.env.production'], { cwd: dir });
    expect([r.code, r.stdout.trim().split('\n')]).toEqual([1, [
      "✗ MODE: the project's services use it, .env.production does not set it",
      "✗ PREVU_NOTE: the project's services use it, .env.production does not set it",
      '? LEGACY_FLAG: .env.production sets it, no service of the project uses it',
    ]]);
    const full = await cli.run(['config', 'check', '--against', '.env.full', '--json'], { cwd: dir });
    expect([full.code, JSON.parse(full.stdout)]).toEqual([0, { missingInFile: [], unusedInProject: [] }]);
    const missing = await cli.run(['config', 'check', '--against', 'nope.env'], { cwd: dir });
    expect([missing.code, errorLines(missing.stderr)]).toEqual([1, ['prevu: cannot read nope.env (ENOENT): pass a dotenv file that exists, e.g. --against .env.production']]);
  });
});
