// `prevu up` failing the ways a user meets first: a service whose healthcheck fails, one still
// starting when --wait-timeout runs out, one that never listens on its port, a build that fails
// and a compose file compose rejects.
// Each run asserts the exit code, the error's code (--json) and its one line on stderr; `down`
// then leaves no container or network behind. Real Docker, the embedded tunnel server.
import { uniqueName, useKit } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { embeddedCliHome, errorLines, projectDir, projectLeftovers, type CliHome } from './cli.js';

const kit = useKit();
let cli: CliHome;

beforeAll(async () => {
  cli = await embeddedCliHome(kit);
});

/** `prevu up --json` of a project that fails: exit code, error code, the lines on stderr. */
async function failingUp(files: Record<string, string>, args: string[] = []) {
  const id = uniqueName('fail');
  const dir = projectDir(kit, files);
  kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id], { cwd: dir }));
  const up = await cli.run(['up', '--json', '--id', id, ...args], { cwd: dir });
  const last = JSON.parse(up.stdout.trim().split('\n').at(-1)!) as { error?: { code: string } };
  return { id, dir, result: [up.code, last.error?.code, errorLines(up.stderr)] };
}

const envStatus = async (id: string) => (JSON.parse((await cli.run(['ls', '--json'])).stdout) as { envs: { envId: string; status: string }[] }).envs.find((e) => e.envId === id)?.status;

/** The failed env is listed as failed; `down` removes it and everything compose made for it. */
async function downLeavesNothing(id: string, dir: string) {
  expect(await envStatus(id)).toBe('failed');
  const down = await cli.run(['down', '--id', id], { cwd: dir });
  expect(down.code, down.stderr).toBe(0);
  expect(await projectLeftovers(`prevu-${id}`)).toEqual([]);
}

/** A compose file with one service, given as its lines. */
const compose = (...service: string[]) => ['services:', ...service.map((l) => `  ${l}`), ''].join('\n');

describe('prevu up fails with one line, and down cleans up', () => {
  it('a service whose healthcheck fails: PREVU_COMPOSE_FAILED, exit 1, naming the unhealthy container', async () => {
    const { id, dir, result } = await failingUp({
      'compose.yaml': compose('sick:', '  image: busybox:latest', '  init: true', '  command: ["sleep", "600"]', '  healthcheck: { test: ["CMD", "false"], interval: 1s, timeout: 1s, retries: 1 }'),
    });
    expect(result).toEqual([1, 'PREVU_COMPOSE_FAILED', [`prevu: docker compose up failed for prevu-${id} (container prevu-${id}-sick-1 is unhealthy): see \`prevu logs --id ${id}\`; \`prevu down --id ${id}\` removes the env`]]);
    await downLeavesNothing(id, dir);
  });

  it('a service still starting when --wait-timeout runs out: PREVU_SERVICES_TIMEOUT, exit 2, naming it', async () => {
    // failures inside start_period do not count: the health stays `starting` for an hour
    const { id, dir, result } = await failingUp(
      { 'compose.yaml': compose('slow:', '  image: busybox:latest', '  init: true', '  command: ["sleep", "600"]', '  healthcheck: { test: ["CMD", "false"], interval: 1s, timeout: 1s, retries: 1, start_period: 1h }') },
      ['--wait-timeout', '2'],
    );
    expect(result).toEqual([2, 'PREVU_SERVICES_TIMEOUT', [`prevu: the services were not healthy after 2 s (still starting: slow): raise --wait-timeout for slow services, or see \`prevu logs --id ${id}\`; \`prevu down --id ${id}\` removes the env`]]);
    await downLeavesNothing(id, dir);
  });

  it('a service without a healthcheck that never listens where it should: PREVU_URLS_TIMEOUT, exit 2, naming the port and where it listens', async () => {
    const { id, dir, result } = await failingUp(
      { 'compose.yaml': compose('web:', '  image: busybox:latest', '  init: true', '  command: ["httpd", "-f", "-p", "127.0.0.1:80"]', '  expose: ["80"]') },
      ['--wait-timeout', '6'],
    );
    expect(result).toEqual([2, 'PREVU_URLS_TIMEOUT', ['prevu: the URLs were not ready after 6 s (waiting for web:80 (service web is starting: port 80 does not accept connections; it listens on 127.0.0.1:80 only, which the agent cannot reach: bind 0.0.0.0 instead)): see `prevu status` and `prevu logs`; raise --wait-timeout for slow services']]);
    await downLeavesNothing(id, dir);
  });

  it('a variable nobody sets: up warns in one line and lists it in --json; --strict-env stops before anything is made', async () => {
    const files = { 'compose.yaml': compose('web:', '  image: busybox:latest', '  init: true', '  command: ["httpd", "-f", "-p", "80"]', '  expose: ["80"]', '  environment: { API_KEY: "${API_KEY}" }'), '.env.example': 'API_KEY=\n' };
    const strict = await failingUp(files, ['--strict-env']);
    expect(strict.result).toEqual([1, 'PREVU_MISSING_ENV', ['prevu: the project expects API_KEY, which this run does not set (--strict-env): set them in the environment or the .env file, or deploy without --strict-env']]);
    expect(await envStatus(strict.id)).toBeUndefined();
    expect(await projectLeftovers(`prevu-${strict.id}`)).toEqual([]);

    const id = uniqueName('warn');
    const dir = projectDir(kit, files);
    kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id], { cwd: dir }));
    const up = await cli.run(['up', '--id', id, '--json'], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    expect((JSON.parse(up.stdout.trim().split('\n').at(-1)!) as { missingEnv: unknown }).missingEnv).toEqual([{ name: 'API_KEY', expectedBy: '${API_KEY} in the compose files, without a default' }]);
    const plain = await cli.run(['up', '--id', id], { cwd: dir });
    expect(plain.code, plain.stderr).toBe(0);
    expect(errorLines(plain.stderr)).toEqual(['prevu: warning: API_KEY is not set (${API_KEY} in the compose files, without a default): set it, or use --strict-env to stop on it']);
    expect((await cli.run(['down', '--id', id], { cwd: dir })).code).toBe(0);
  });

  it('a build that fails: PREVU_COMPOSE_FAILED, exit 1, with the failing step and a fix that is not `prevu logs`', async () => {
    const { id, dir, result } = await failingUp({
      'compose.yaml': compose('app:', '  build: ./app', '  expose: ["80"]'),
      'app/Dockerfile': 'FROM busybox:latest\nRUN echo building && exit 3\n',
    });
    // the middle is BuildKit's own words, which change with Docker's version
    expect(result).toEqual([1, 'PREVU_COMPOSE_FAILED', [expect.stringMatching(new RegExp(`^prevu: docker compose build failed for prevu-${id} \\(.*echo building && exit 3.*exit code: 3\\): fix the build \\(\`prevu up --debug\` shows its output\\); \`prevu down --id ${id}\` removes the env$`))]]);
    // No container, no agent: doctor --id says why from what up recorded (issue 17, a failed build).
    const doctor = await cli.run(['doctor', '--id', id], { cwd: dir });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(new RegExp(`^✗ env ${id}: the last up failed: docker compose build failed for prevu-${id} \\(.*exit code: 3\\): .*: fix that, then run \`prevu up\` again$`, 'm'));
    await downLeavesNothing(id, dir);
  });

  it('a compose file compose rejects: PREVU_INVALID_COMPOSE, exit 1, before anything is made', async () => {
    const { id, dir, result } = await failingUp({ 'compose.yaml': compose('app:', '  image: busybox:latest', '  ports: "eighty"') });
    expect(result).toEqual([1, 'PREVU_INVALID_COMPOSE', [`prevu: the compose project is invalid (validating ${dir}/compose.yaml: services.app.ports must be a list): fix the file; \`docker compose config\` shows the same error`]]);
    expect(await envStatus(id)).toBeUndefined();
    const down = await cli.run(['down', '--id', id], { cwd: dir });
    expect([down.code, errorLines(down.stderr)]).toEqual([1, [`prevu: no environment "${id}": see \`prevu ls\` for the environments of this profile`]]);
    expect(await projectLeftovers(`prevu-${id}`)).toEqual([]);
  });
});
