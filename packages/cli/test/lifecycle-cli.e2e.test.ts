// The CLI half of env lifecycles (issue 16) with real Docker and the embedded tunnel server: the
// profile's maxEnvs refuses one env too many (and --replace-oldest takes its place), `ls --json`
// carries age, TTL, pin, sleep and the last request (the agent's word), `gc` removes envs whose
// TTL passed for real (seconds, PREVU_SHORT_DURATIONS=1) and, like `down`, keeps named volumes
// unless --volumes and names the ones it kept.
import type { EnvListing } from '@prevu/core/envs/list';
import { docker, httpGet, runId, TEST_LABEL, uniqueName, useKit, waitFor } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { embeddedCliHome, errorLines, projectDir, type CliHome } from './cli.js';

const kit = useKit();
let cli: CliHome;
let dir: string;

const base = uniqueName('lc');
const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => `${base}-${n}`) as [string, string, string, string];
const volumeOf = (envId: string) => `prevu-${envId}_data`;
const volumeExists = async (envId: string) => (await docker(['volume', 'ls', '-q', '--filter', `name=^${volumeOf(envId)}$`])).trim() === volumeOf(envId);
const containersOf = async (envId: string) => (await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=prevu-${envId}`])).trim().split('\n').filter(Boolean);

const ls = async (): Promise<EnvListing[]> => {
  const r = await cli.run(['ls', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { envs: EnvListing[] }).envs;
};

const SHORT = { PREVU_SHORT_DURATIONS: '1' };

interface UpJson {
  urls: { service: string; url: string }[];
  replaced: { envId: string; keptVolumes: string[] }[];
}

async function up(id: string, args: string[] = []): Promise<UpJson> {
  const r = await cli.run(['up', '--json', '--id', id, ...args], { cwd: dir, env: SHORT });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as UpJson;
}

/** Gives the running env a TTL of 2 s that passes for real: pinned while `up` waits for its URLs, then unpinned (or left pinned). */
async function expire(id: string, pinned = false): Promise<void> {
  await up(id, ['--ttl', '2s', '--pin']);
  if (pinned) return;
  const unpin = await cli.run(['unpin', id]);
  expect(unpin.code, unpin.stderr).toBe(0);
  await waitFor(`${id} expired`, async () => ((await ls()).find((r) => r.envId === id)?.lifecycleState === 'expired' ? true : undefined), 60_000, 500);
}

beforeAll(async () => {
  cli = await embeddedCliHome(kit);
  // Volumes kept on purpose by the tests are removed at the end (after every env's down).
  kit.defer('kept volumes', () => docker(['volume', 'rm', '-f', ...[a, b, c, d].map(volumeOf)]).catch(() => undefined));
  for (const id of [a, b, c, d]) kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id, '--volumes']));
  dir = projectDir(kit, {
    'compose.yaml': [
      'services:',
      '  web:',
      '    image: busybox:latest',
      '    init: true',
      '    command: ["sh", "-c", "mkdir -p /www && date > /data/first && echo hi > /www/index.html && exec httpd -f -p 80 -h /www"]',
      '    expose: ["80"]',
      '    volumes: ["data:/data"]',
      `    labels: { ${TEST_LABEL}: ${runId} }`,
      'volumes:',
      `  data: { labels: { ${TEST_LABEL}: ${runId} } }`,
      '',
    ].join('\n'),
  });
  const init = await cli.run(['init', '--name', 'lc', '--max-envs', '2']);
  expect(init.code, init.stderr).toBe(0);
}, 120_000);

describe('env lifecycles in the CLI', () => {
  it('ls --json carries age, TTL left, pinned, asleep and the last request through the tunnel server', async () => {
    const urls = new Map<string, string>();
    for (const id of [a, b]) urls.set(id, (await up(id)).urls[0]!.url);
    expect((await httpGet(urls.get(a)!)).status).toBe(200);
    const rows = await ls();
    expect(rows.map((r) => r.envId)).toEqual([a, b]);
    for (const row of rows) {
      expect(row).toMatchObject({ expiresAt: null, ttlLeftSeconds: null, pinned: false, sleepAfterSeconds: 0, lifecycleState: 'active', asleep: false });
      expect(Date.parse(row.createdAt!)).toBeLessThanOrEqual(Date.now());
      expect(row.ageSeconds).toBeGreaterThanOrEqual(0);
    }
    // the tunnel server's clock: a's request just now, none through b's URL
    expect(Math.abs(Date.now() - Date.parse(rows[0]!.lastRequestAt!))).toBeLessThan(60_000);
    expect(rows[1]!.lastRequestAt).toBeNull();
    const table = await cli.run(['ls']);
    expect(table.stdout.split('\n')[0]).toMatch(/^ENV\s+STATUS\s+SERVICES\s+AGE\s+TTL\s+PINNED\s+ASLEEP\s+LAST REQUEST\s+DRIVER\s+DIRECTORY$/);
    expect(table.stdout).toMatch(new RegExp(`^${a}\\s+up\\s+1/1 running\\s+\\d+[smh]\\s+never\\s+no\\s+no\\s+\\d+[smh] ago\\s+local`, 'm'));
    expect(table.stdout).toMatch(new RegExp(`^${b}\\s+up\\s+1/1 running\\s+\\d+[smh]\\s+never\\s+no\\s+no\\s+-\\s+local`, 'm'));
  }, 300_000);

  it('a third env is refused in one line naming the oldest, before anything is made; --replace-oldest takes its place', async () => {
    const refused = await cli.run(['up', '--id', c], { cwd: dir });
    expect(refused.code).toBe(1);
    expect(errorLines(refused.stderr)).toEqual([`prevu: profile lc already has 2 envs (its maxEnvs); the oldest is ${a}: remove it with \`prevu down --id ${a}\`, or run \`prevu up --replace-oldest\` to take its place`]);
    expect(await containersOf(c)).toEqual([]);
    expect((await ls()).map((r) => r.envId)).toEqual([a, b]);
    // an env that exists is updated, not refused
    const again = await cli.run(['up', '--id', b], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);

    const replaced = await cli.run(['up', '--id', c, '--replace-oldest'], { cwd: dir });
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(replaced.stdout).toContain(`replaced the oldest env ${a} (--replace-oldest)`);
    expect(replaced.stdout).toContain(`kept the named volume ${volumeOf(a)} of ${a} (their data stays): add --volumes to remove them with the env`);
    // --json names it too (c exists now: nothing more is replaced)
    expect((await up(c, ['--replace-oldest'])).replaced).toEqual([]);
    expect((await ls()).map((r) => r.envId)).toEqual([b, c]);
    expect(await containersOf(a)).toEqual([]);
    expect(await volumeExists(a)).toBe(true);
  }, 300_000);

  it('gc removes the expired env, not the pinned one; --dry-run only lists; volumes stay unless --volumes', async () => {
    await expire(c, true);
    await expire(b);
    const rows = await ls();
    expect(rows.find((r) => r.envId === b)).toMatchObject({ ttlLeftSeconds: 0, pinned: false, lifecycleState: 'expired' });
    expect(rows.find((r) => r.envId === c)).toMatchObject({ ttlLeftSeconds: 0, pinned: true, lifecycleState: 'active' });
    expect((await cli.run(['ls'])).stdout).toMatch(new RegExp(`^${b}\\s+\\S+\\s+.*\\s+\\d+[smh]\\s+expired\\s+no\\s`, 'm'));

    const dry = await cli.run(['gc', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({ envs: [{ envId: b, expiresAt: expect.any(String), removed: false, keptVolumes: [] }] });
    expect((await containersOf(b)).length).toBeGreaterThan(0);

    const gc = await cli.run(['gc', '--json']);
    expect(gc.code, gc.stderr).toBe(0);
    expect(JSON.parse(gc.stdout)).toEqual({ envs: [{ envId: b, expiresAt: expect.any(String), removed: true, keptVolumes: [volumeOf(b)] }] });
    expect(await containersOf(b)).toEqual([]);
    expect(await volumeExists(b)).toBe(true);
    expect((await ls()).map((r) => r.envId)).toEqual([c]);

    // unpinned, c goes too, with its volume this time
    expect((await cli.run(['unpin', c])).code).toBe(0);
    await waitFor(`${c} expired`, async () => ((await ls()).find((r) => r.envId === c)?.lifecycleState === 'expired' ? true : undefined), 60_000, 500);
    const all = await cli.run(['gc', '--volumes']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(new RegExp(`^removed ${c} \\(expired \\S+\\)$`, 'm'));
    expect(all.stdout).not.toContain('kept the named volume');
    expect(await volumeExists(c)).toBe(false);
    expect((await cli.run(['gc'])).stdout.trim()).toBe('no expired envs');
  }, 300_000);

  it('down keeps the named volumes and names them in one line; down --volumes removes them', async () => {
    const up = await cli.run(['up', '--id', d], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);
    const down = await cli.run(['down', '--id', d]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout.trim().split('\n')).toEqual([`removed ${d} (prevu-${d})`, `kept the named volume ${volumeOf(d)} of ${d} (their data stays): add --volumes to remove them with the env`]);
    expect(await volumeExists(d)).toBe(true);
    const again = await cli.run(['up', '--id', d], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    const gone = await cli.run(['down', '--id', d, '--volumes', '--json']);
    expect(gone.code, gone.stderr).toBe(0);
    expect(JSON.parse(gone.stdout.trim().split('\n').at(-1)!)).toMatchObject({ envId: d, keptVolumes: [] });
    expect(await volumeExists(d)).toBe(false);
  }, 300_000);
});
