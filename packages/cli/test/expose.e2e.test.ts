// `prevu expose`: a project the user started with plain `docker compose up -d` gets URLs through
// the embedded tunnel server with no deploy (only the agent starts beside it); `--stop` ends them
// (404) and the user's containers keep running. Real Docker, compose and SSH.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { docker, httpGet, uniqueName, useKit, waitFor } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { embeddedCliHome, errorLines, projectDir, projectLeftovers, type CliHome } from './cli.js';

const kit = useKit();
let cli: CliHome;

const running = async (project: string) => (await docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'status=running'])).trim().split('\n').filter(Boolean).sort();
const urlsOf = (stdout: string) => [...stdout.matchAll(/https?:\/\/\S+/g)].map((m) => m[0]).sort();

beforeAll(async () => {
  cli = await embeddedCliHome(kit);
});

describe('prevu expose', () => {
  const project = uniqueName('mine');
  let dir: string;

  beforeAll(async () => {
    // two services on a network of the project's own: one with one port, one with two
    const httpd = (text: string, ports: number[]) =>
      `    image: busybox:latest\n    init: true\n    command: ["sh", "-c", "mkdir -p /www && echo ${text} > /www/index.html && ${ports.map((p) => `httpd -p ${p} -h /www`).join(' && ')} && exec sleep 86400"]\n    expose: [${ports.map((p) => `"${p}"`).join(', ')}]\n    networks: [inner]\n`;
    dir = projectDir(kit, { 'compose.yaml': `name: ${project}\nservices:\n  web:\n${httpd('from-web', [80])}  admin:\n${httpd('from-admin', [8080, 8081])}networks:\n  inner: {}\n` });
    kit.defer(`docker compose down ${project}`, () => docker(['compose', '-p', project, 'down', '--timeout', '1'], { cwd: dir }));
    await docker(['compose', 'up', '-d'], { cwd: dir });
  });

  it('refuses a project that is not running, in one line', async () => {
    const other = projectDir(kit, { 'compose.yaml': `name: ${project}-idle\nservices:\n  web:\n    image: busybox:latest\n    expose: ["80"]\n` });
    const r = await cli.run(['expose'], { cwd: other });
    expect([r.code, errorLines(r.stderr)]).toEqual([1, [`prevu: compose project "${project}-idle" has no running container on this machine: start it with \`docker compose up -d\` first, or run expose in its directory`]]);
  });

  it('never takes the id of an env `prevu up` deployed (its project would lose its containers)', async () => {
    // the state `up` leaves, as it writes it: no `exposes`
    const envDir = join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'local', 'envs', `${project}-up`);
    mkdirSync(envDir, { recursive: true });
    const now = new Date().toISOString();
    writeFileSync(join(envDir, 'state.json'), JSON.stringify({ version: 1, envId: `${project}-up`, profile: 'local', driver: 'local', project: `prevu-${project}-up`, source: { dir }, accountId: 'aaaaaaaaaa', baseUrl: 'http://localhost:1', status: 'up', createdAt: now, updatedAt: now }));
    const r = await cli.run(['expose', '--id', `${project}-up`], { cwd: dir });
    expect([r.code, errorLines(r.stderr)]).toEqual([1, [`prevu: env "${project}-up" was deployed by \`prevu up\`, and expose would replace its containers with the agent alone: pass another --id, or \`prevu down\` it first`]]);
  });

  it('prints URLs that answer 200; --stop ends them (404) and leaves the containers running', async () => {
    const before = await running(project);
    expect(before).toHaveLength(2);
    kit.defer(`prevu expose --stop ${project}`, () => cli.run(['expose', '--stop'], { cwd: dir }));
    const exposed = await cli.run(['expose'], { cwd: dir });
    expect(exposed.code, exposed.stderr).toBe(0);
    expect(exposed.stdout).toContain(`${project} is exposed as env ${project} (\`prevu expose --stop\` ends it):`);
    const urls = urlsOf(exposed.stdout);
    expect(urls).toHaveLength(3);
    const bodies = await Promise.all(urls.map(async (url) => [url, await httpGet(url)] as const));
    for (const [url, reply] of bodies) expect([url, reply.status, reply.body.trim()]).toEqual([url, 200, url.includes('//web-') ? 'from-web' : 'from-admin']);
    // the agent is a project of its own: the user's has not changed
    expect(await running(project)).toEqual(before);
    expect(await projectLeftovers(`prevu-${project}`)).toContain(`prevu-${project}-prevu-agent-1`);
    const listed = await cli.run(['ls']);
    expect(listed.stdout).toContain(project);

    const stop = await cli.run(['expose', '--stop'], { cwd: dir });
    expect([stop.code, stop.stdout.trim()]).toEqual([0, `stopped exposing ${project} (env ${project}); its containers keep running`]);
    for (const url of urls) expect((await waitFor(`404 from ${url}`, async () => ((await httpGet(url)).status === 404 ? 404 : undefined))), url).toBe(404);
    expect(await running(project)).toEqual(before);
    expect(await projectLeftovers(`prevu-${project}`)).toEqual([]);
    const again = await cli.run(['expose', '--stop'], { cwd: dir });
    expect([again.code, errorLines(again.stderr)]).toEqual([1, [`prevu: env "${project}" is not exposed by \`prevu expose\`: see \`prevu ls\`; an env made by \`prevu up\` ends with \`prevu down\``]]);
  });
});
