// `prevu diff`: two envs of one project that differ in one variable's value, through their agents
// (no SSH); the value itself never shows. Real Docker, the embedded tunnel server.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { uniqueName, useKit } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { embeddedCliHome, errorLines, projectDir, type CliHome } from './cli.js';

const kit = useKit();
let cli: CliHome;
let dir: string;
const [one, two] = [uniqueName('da'), uniqueName('db')];

beforeAll(async () => {
  cli = await embeddedCliHome(kit);
  dir = projectDir(kit, { 'compose.yaml': 'services:\n  web:\n    image: busybox:latest\n    init: true\n    command: ["httpd", "-f", "-p", "80"]\n    expose: ["80"]\n    environment: { GREETING: "${GREETING}", MODE: preview }\n' });
  for (const [id, greeting] of [[one, 'hello'], [two, 'goodbye']] as const) {
    kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id], { cwd: dir }));
    const up = await cli.run(['up', '--id', id], { cwd: dir, env: { GREETING: greeting } });
    expect(up.code, up.stderr).toBe(0);
  }
}, 180_000);

describe('prevu diff', () => {
  it('names the variable whose value differs, never the values, and nothing that is the same', async () => {
    const r = await cli.run(['diff', one, two, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ differences: [{ what: 'web env GREETING', a: 'differs', b: 'differs' }] });
    expect(r.stdout).not.toMatch(/hello|goodbye/);
    const text = await cli.run(['diff', one, two]);
    expect(text.stdout).toMatch(/^WHAT\s+DA\w+\s+DB\w+\nweb env GREETING\s+differs\s+differs$/m);
  });

  it('an env against the compose files as they are now: the changed value, a new service; image env keys are not the files\'', async () => {
    // as deployed: nothing differs
    expect(JSON.parse((await cli.run(['diff', one, '--json'], { cwd: dir, env: { GREETING: 'hello' } })).stdout)).toEqual({ differences: [] });
    // the files as a user changed them since: another greeting, and a new service
    writeFileSync(join(dir, 'compose.yaml'), `${readFileSync(join(dir, 'compose.yaml'), 'utf8')}  api:\n    image: busybox:latest\n`);
    const r = await cli.run(['diff', one, '--json'], { cwd: dir, env: { GREETING: 'bonjour' } });
    expect(JSON.parse(r.stdout)).toEqual({ differences: [{ what: 'service api', a: '(none)', b: 'present' }, { what: 'web env GREETING', a: 'differs', b: 'differs' }] });
  });

  it('an env against itself: no differences; an unknown env: one line', async () => {
    expect((await cli.run(['diff', one, one])).stdout.trim()).toBe(`${one} and ${one} have the same services, images, settings and environment`);
    const unknown = await cli.run(['diff', one, 'never-deployed']);
    expect([unknown.code, errorLines(unknown.stderr)]).toEqual([1, ['prevu: no environment "never-deployed": see `prevu ls` for the environments of this profile']]);
  });
});
