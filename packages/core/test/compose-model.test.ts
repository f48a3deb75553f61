import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkForUp, exposedPorts, h2cPorts, isIdentity, loadComposeProject, rewritePaths, uploadPlan } from '../src/compose.js';
import { PrevuError } from '../src/errors.js';
import { tempDir } from './temp-dir.js';

function project(files: Record<string, string>): string {
  const dir = tempDir('prevu-model-');
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

describe('compose model (docker compose config --format json)', () => {
  it('resolves profiles, env files, interpolation and extends through compose itself', async () => {
    const dir = project({
      '.env': 'WEB_PORT=8081\n',
      'base.yaml': 'services:\n  common:\n    image: busybox:latest\n    labels: { from: base }\n',
      'compose.yaml': [
        'name: shop',
        'services:',
        '  web:',
        '    extends: { file: base.yaml, service: common }',
        '    expose: ["${WEB_PORT}"]',
        '    volumes: ["./site:/www:ro", "/var/run/docker.sock:/var/run/docker.sock"]',
        '  api:',
        '    build: ./api',
        '    ports: ["3000", "9229"]',
        '    secrets: [token]',
        '  debug:',
        '    image: busybox:latest',
        '    profiles: [debug]',
        '    expose: ["1"]',
        'secrets:',
        '  token: { file: ./token.txt }',
      ].join('\n'),
      'api/Dockerfile': 'FROM busybox:latest\n',
      'token.txt': 'x',
    });
    const loaded = await loadComposeProject({ cwd: dir });
    expect(loaded.model.name).toBe('shop');
    expect(Object.keys(loaded.model.services).sort()).toEqual(['api', 'web']);
    expect(loaded.model.services.web!.labels).toEqual({ from: 'base' });
    expect(exposedPorts(loaded.model.services.web!)).toEqual([8081]);
    expect(exposedPorts(loaded.model.services.api!)).toEqual([3000, 9229]);
    expect(loaded.files).toEqual([join(dir, 'compose.yaml')]);

    // build contexts, bind sources and secret files are uploaded; the docker socket is not
    expect(uploadPlan(loaded.model)).toEqual({ paths: [join(dir, 'api'), join(dir, 'site'), join(dir, 'token.txt')].sort(), ignore: {} });
    expect(uploadPlan(loaded.model, ['api']).paths).toEqual([join(dir, 'api'), join(dir, 'token.txt')]);

    const withDebug = await loadComposeProject({ cwd: dir, profiles: ['debug'] });
    expect(Object.keys(withDebug.model.services).sort()).toEqual(['api', 'debug', 'web']);
    expect(withDebug.args).toEqual(['--profile', 'debug']);
  });

  it("takes a context's .dockerignore rules, unless the context is also mounted or its builds disagree", async () => {
    const dir = project({
      'compose.yaml': [
        'services:',
        '  api: { build: ./api }',
        '  web: { build: { context: ./web, dockerfile: web.Dockerfile } }',
        '  dev: { build: ./dev, volumes: ["./dev:/src"] }',
        '  one: { build: { context: ./shared, dockerfile: a.Dockerfile } }',
        '  two: { build: { context: ./shared, dockerfile: b.Dockerfile } }',
      ].join('\n'),
      'api/Dockerfile': 'FROM busybox:latest\n',
      'api/.dockerignore': 'node_modules\n*.log\n',
      'web/web.Dockerfile': 'FROM busybox:latest\n',
      'web/.dockerignore': 'everything\n',
      'web/web.Dockerfile.dockerignore': 'dist\n',
      'dev/Dockerfile': 'FROM busybox:latest\n',
      'dev/.dockerignore': 'node_modules\n',
      'shared/a.Dockerfile': 'FROM busybox:latest\n',
      'shared/b.Dockerfile': 'FROM busybox:latest\n',
      'shared/a.Dockerfile.dockerignore': 'a-only\n',
    });
    const { model } = await loadComposeProject({ cwd: dir });
    expect(uploadPlan(model).ignore).toEqual({ [join(dir, 'api')]: ['node_modules', '*.log', ''], [join(dir, 'web')]: ['dist', ''] });
    expect(uploadPlan(model, ['one']).ignore).toEqual({ [join(dir, 'shared')]: ['a-only', ''] });
  });

  it('rewrites uploaded paths and leaves the rest alone', async () => {
    const dir = project({ 'compose.yaml': 'services:\n  api:\n    build: ./api\n    volumes: ["./data:/data", "/var/run/docker.sock:/s"]\n', 'api/Dockerfile': 'FROM busybox:latest\n' });
    const { model } = await loadComposeProject({ cwd: dir });
    const mapping = new Map([
      [join(dir, 'api'), '/srv/prevu/env/api'],
      [join(dir, 'data'), '/srv/prevu/env/data'],
    ]);
    const rewritten = rewritePaths(model, mapping);
    expect(rewritten.services.api!.build!.context).toBe(join(dir, 'api')); // compose streams it from here
    expect(rewritten.services.api!.volumes!.map((v) => v.source)).toEqual(['/srv/prevu/env/data', '/var/run/docker.sock']);
    expect(model.services.api!.build!.context).toBe(join(dir, 'api')); // the original is untouched
    expect(isIdentity(mapping)).toBe(false);
    expect(isIdentity(new Map([['/a', '/a']]))).toBe(true);
  });

  it('without -f, the default file and its override are what `up` passes on; --project-directory is where they are', async () => {
    const dir = project({
      'app/compose.yaml': 'services:\n  web:\n    image: busybox:latest\n',
      'app/compose.override.yaml': 'services:\n  web:\n    expose: ["8080"]\n',
    });
    const loaded = await loadComposeProject({ cwd: dir, projectDirectory: 'app' });
    expect(loaded.files).toEqual([join(dir, 'app/compose.yaml'), join(dir, 'app/compose.override.yaml')]);
    expect(exposedPorts(loaded.model.services.web!)).toEqual([8080]);
  });

  it("names networks and volumes after the env's project, not the directory, when asked; names the user chose stay", async () => {
    // A model written out for a machine keeps these names: under the directory's, two envs of one
    // checkout shared `<dir>_default` and reached each other's `web` by its name.
    const dir = project({
      'compose.yaml': [
        'name: shop',
        'services:',
        '  web: { image: busybox:latest, volumes: ["data:/data", "kept:/kept"], networks: [default, back, fixed, outside] }',
        'networks: { back: {}, fixed: { name: team-net }, outside: { external: true, name: shared } }',
        'volumes: { data: {}, kept: { name: team-data } }',
      ].join('\n'),
    });
    const plain = await loadComposeProject({ cwd: dir });
    expect(plain.model.networks).toMatchObject({ default: { name: 'shop_default' }, back: { name: 'shop_back' } });
    const env = await loadComposeProject({ cwd: dir }, 'prevu-shop-pr-12');
    expect(env.model.name).toBe('prevu-shop-pr-12');
    expect(env.model.networks).toMatchObject({ default: { name: 'prevu-shop-pr-12_default' }, back: { name: 'prevu-shop-pr-12_back' }, fixed: { name: 'team-net' }, outside: { name: 'shared', external: true } });
    expect(env.model.volumes).toMatchObject({ data: { name: 'prevu-shop-pr-12_data' }, kept: { name: 'team-data' } });
  });

  it('finds the variables the project expects and nothing sets: ${VAR} without a default, .env.example keys', async () => {
    const dir = project({
      'compose.yaml': 'services:\n  web:\n    image: busybox:${TAG}\n    environment:\n      A: ${API_KEY}\n      B: ${WITH_DEFAULT:-x}\n      C: ${SET_HERE}\n      D: ${PREVU_URL_API}\n',
      '.env': 'SET_HERE=1\nIN_DOTENV=2\n',
      '.env.example': 'SET_HERE=\nIN_DOTENV=\nFROM_TEMPLATE=\nFROM_PROCESS=\n',
    });
    // PREVU_URL_API is prevu's own: set for compose once the URLs are known, never missing
    const { missingEnv } = await loadComposeProject({ cwd: dir, env: { FROM_PROCESS: 'yes' } });
    expect(missingEnv).toEqual([
      { name: 'API_KEY', expectedBy: '${API_KEY} in the compose files, without a default' },
      { name: 'TAG', expectedBy: '${TAG} in the compose files, without a default' },
      { name: 'FROM_TEMPLATE', expectedBy: '.env.example' },
    ]);
  });

  it("finds the keys of a service's env_file template (app.env.example) that its environment lacks", async () => {
    const dir = project({
      'compose.yaml': 'services:\n  api:\n    image: busybox:latest\n    env_file: [config/app.env]\n    environment:\n      FROM_COMPOSE: x\n  web:\n    image: busybox:latest\n    env_file: [{ path: web.env, required: false }]\n',
      'config/app.env': 'IN_FILE=1\n',
      'config/app.env.example': 'IN_FILE=\nFROM_COMPOSE=\nDB_PASSWORD=\n',
      'web.env.example': 'SESSION_SECRET=\n',
    });
    const { missingEnv } = await loadComposeProject({ cwd: dir });
    expect(missingEnv).toEqual([
      { name: 'DB_PASSWORD', expectedBy: `${join('config', 'app.env.example')} (env_file of api)` },
      // an optional env_file that is absent: its template's keys are all missing
      { name: 'SESSION_SECRET', expectedBy: 'web.env.example (env_file of web)' },
    ]);
  });

  it('COMPOSE_FILE names the files when -f does not', async () => {
    const dir = project({ 'deploy/main.yaml': 'services:\n  web:\n    image: busybox:latest\n' });
    const loaded = await loadComposeProject({ cwd: dir, env: { COMPOSE_FILE: 'deploy/main.yaml' } });
    expect(loaded.files).toEqual([join(dir, 'deploy/main.yaml')]);
    expect(loaded.args).toEqual(['-f', join(dir, 'deploy/main.yaml')]);
  });

  it('prevu.expose picks ports or hides a service', () => {
    expect(exposedPorts({ expose: ['80', '443'], labels: { 'prevu.expose': 'false' } })).toEqual([]);
    expect(exposedPorts({ expose: ['80', '443', '9000'], labels: { 'prevu.expose': '443,80' } })).toEqual([80, 443]);
    expect(exposedPorts({ expose: ['8000-8002/tcp'] })).toEqual([8000, 8001, 8002]);
    expect(exposedPorts({})).toEqual([]);
  });

  it('refuses, before up, a prevu.expose label the agent would refuse (not after a 300 s wait); loading still works for down', async () => {
    for (const label of ['80,abc', '80,70000', 'no']) {
      const dir = project({ 'compose.yaml': `services:\n  web:\n    image: busybox:latest\n    expose: ["80"]\n    labels: { prevu.expose: "${label}" }\n` });
      const { model } = await loadComposeProject({ cwd: dir });
      const error = (() => {
        try {
          checkForUp(model);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(PrevuError);
      expect((error as PrevuError).message, label).toContain(`service "web": label prevu.expose="${label}" must be "true", "false" or a comma-separated list of ports`);
    }
  });

  it("knows h2c ports from compose's app_protocol (as compose reports it) or the prevu.h2c label, and refuses a bad label before up", async () => {
    const dir = project({
      'compose.yaml': [
        'services:',
        '  rpc:',
        '    image: busybox:latest',
        '    ports: [{ target: 50051, app_protocol: grpc }, { target: 8080, app_protocol: http }, "9090"]',
        '  raw:',
        '    image: busybox:latest',
        '    expose: ["7000"]',
        '    labels: { prevu.h2c: "7000" }',
        '  bad:',
        '    image: busybox:latest',
        '    labels: { prevu.h2c: "grpc" }',
        '',
      ].join('\n'),
    });
    const { model } = await loadComposeProject({ cwd: dir });
    expect(h2cPorts(model.services.rpc!)).toEqual([50051]);
    expect(h2cPorts(model.services.raw!)).toEqual([7000]);
    expect(() => checkForUp(model)).toThrow('service "bad": label prevu.h2c="grpc" must be a comma-separated list of ports like "50051"');
  });

  it('a missing or invalid project is one user error', async () => {
    const empty = tempDir('prevu-model-');
    await expect(loadComposeProject({ cwd: empty })).rejects.toMatchObject({ code: 'PREVU_NO_COMPOSE_FILE', exitCode: 1 });
    await expect(loadComposeProject({ cwd: empty, files: ['nope.yaml'] })).rejects.toMatchObject({ code: 'PREVU_NO_COMPOSE_FILE' });
    const bad = project({ 'compose.yaml': 'services:\n  web:\n    image: busybox:latest\n    ports: "not a list"\n' });
    const error = await loadComposeProject({ cwd: bad }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PrevuError);
    expect((error as PrevuError).code).toBe('PREVU_INVALID_COMPOSE');
    expect((error as PrevuError).line).toMatch(/ports/);
    expect((error as PrevuError).line).not.toMatch(/\n/);
  });

  it('Docker not running is an environment error', async () => {
    const dir = project({ 'compose.yaml': 'services:\n  web:\n    image: busybox:latest\n' });
    // config itself needs no engine, so the check that names Docker comes from checkDocker
    const { checkDocker } = await import('../src/docker-cli.js');
    await expect(checkDocker({ DOCKER_HOST: `unix://${join(dir, 'no.sock')}` })).rejects.toMatchObject({ code: 'PREVU_DOCKER_DOWN', exitCode: 2 });
  });
});
