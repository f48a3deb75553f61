// The env's lifecycle end to end, real Docker and the embedded tunnel server, with durations of
// seconds (PREVU_SHORT_DURATIONS=1, the documented setting for tests and demos): bad values get
// one line; a pinned env outlives its TTL and idle time and keeps its pin through another `up`
// (which restarts the TTL); unpinned it expires (410 page naming the env, services stopped, the
// agent left); an idle env sleeps and a request wakes it (the waking page, then 200 with the same
// body as before); the pin outlives an agent restart. How fast it wakes is the bench's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { docker, httpGet, uniqueName, useKit, waitFor } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { embeddedCliHome, errorLines, helloCopy, type CliHome } from './cli.js';

const kit = useKit();
let cli: CliHome;
const project = uniqueName('life');
const SHORT = { PREVU_SHORT_DURATIONS: '1' };

/** Running containers of the env's services (not its agent). */
async function runningServices(envId: string): Promise<string[]> {
  const out = await docker(['ps', '--filter', `label=com.docker.compose.project=prevu-${envId}`, '--format', '{{.Label "com.docker.compose.service"}}']);
  return out.split('\n').filter((s) => s && s !== 'prevu-agent').sort();
}

/** The lifecycle the env's state records (what `up`, `pin` and `unpin` wrote). */
function recorded(envId: string): { expiresAt: string | null; pinned: boolean; sleepAfterSeconds: number } {
  return (JSON.parse(readFileSync(join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'local', 'envs', envId, 'state.json'), 'utf8')) as { lifecycle: ReturnType<typeof recorded> }).lifecycle;
}

interface UpJson {
  envId: string;
  urls: { service: string; url: string }[];
}

async function up(dir: string, id: string, args: string[]): Promise<UpJson> {
  kit.defer(`prevu down ${id}`, () => cli.run(['down', '--id', id], { cwd: dir }));
  const r = await cli.run(['up', '--json', '--id', id, ...args], { cwd: dir, env: SHORT });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as UpJson;
}

beforeAll(async () => {
  cli = await embeddedCliHome(kit);
});

describe('prevu up --ttl / --sleep-after / --pin, prevu pin / unpin', () => {
  it('bad values: one line that says what to write, exit 1, nothing deployed', async () => {
    const dir = helloCopy(kit, `${project}-bad`, 'main');
    const cases: [string[], string][] = [
      [['--ttl', '0'], 'prevu: --ttl 0 means the env never expires, which only a pinned env may do: add --pin, or give a TTL from 1h to 168h (e.g. --ttl 4h)'],
      [['--ttl', 'never'], 'prevu: --ttl never means the env never expires, which only a pinned env may do: add --pin, or give a TTL from 1h to 168h (e.g. --ttl 4h)'],
      [['--ttl', '500h'], 'prevu: --ttl 500h is out of range (1h to 168h): pick a value from 1h to 168h'],
      [['--ttl', '30m'], 'prevu: --ttl 30m is out of range (1h to 168h): pick a value from 1h to 168h'],
      [['--ttl', 'abc'], 'prevu: --ttl abc is not a duration: write it like 4h, 90m, 1h30m or 2d (units s, m, h, d)'],
      [['--sleep-after', '10s'], 'prevu: --sleep-after 10s is out of range (1m to 168h): pick a value from 1m to 168h'],
      [['--sleep-after', 'soon'], 'prevu: --sleep-after soon is not a duration: write it like 4h, 90m, 1h30m or 2d (units s, m, h, d)'],
    ];
    for (const [args, line] of cases) {
      const r = await cli.run(['up', ...args], { cwd: dir });
      expect({ args, code: r.code, lines: errorLines(r.stderr) }).toEqual({ args, code: 1, lines: [line] });
    }
    // the setting for tests lowers the lower bounds only
    const short = await cli.run(['up', '--ttl', '169h'], { cwd: dir, env: SHORT });
    expect([short.code, errorLines(short.stderr)]).toEqual([1, ['prevu: --ttl 169h is out of range (1s to 168h): pick a value from 1s to 168h']]);
    expect((await cli.run(['ls', '--json'])).stdout).not.toContain(`${project}-bad`);
  }, 240_000);

  it('pinned, an env outlives its TTL and idle time and keeps the pin through `up`; unpinned, it expires: a 410 page naming it, its services stopped', async () => {
    const id = `${project}-ttl`;
    const dir = helloCopy(kit, id, 'main');
    const result = await up(dir, id, ['--pin', '--ttl', '2s', '--sleep-after', '2s']);
    const web = result.urls.find((u) => u.service === 'web')!.url;
    expect((await httpGet(web)).status).toBe(200);
    // the TTL counts from before compose started; 6 s more, with no request, is past both
    await new Promise((r) => setTimeout(r, 6000));
    expect(await runningServices(id)).toEqual(['api', 'web']);
    expect((await httpGet(web)).status).toBe(200);
    // `up` again restarts the TTL and keeps the pin
    const first = recorded(id);
    const again = await cli.run(['up', '--id', id, '--ttl', '2s'], { cwd: dir, env: SHORT });
    expect(again.code, again.stderr).toBe(0);
    const second = recorded(id);
    expect(second).toMatchObject({ pinned: true, sleepAfterSeconds: 0 });
    expect(Date.parse(second.expiresAt!)).toBeGreaterThan(Date.parse(first.expiresAt!));
    expect((await httpGet(web)).status).toBe(200);

    const unpin = await cli.run(['unpin', id], { cwd: dir });
    expect(unpin.code, unpin.stderr).toBe(0);
    expect(unpin.stdout).toMatch(new RegExp(`^unpinned ${id}: expires `));
    const page = await waitFor('the expired page', async () => {
      const r = await httpGet(web, { headers: { accept: 'text/html' } });
      return r.status === 410 ? r : undefined;
    }, 60_000, 250);
    expect(page.headers['x-prevu-state']).toBe('expired');
    expect(page.body).toContain(`env ${id} expired at`);
    expect(page.body).toContain('run `prevu up` again');
    const api = result.urls.find((u) => u.service === 'api')!.url;
    const plain = await httpGet(api);
    expect([plain.status, plain.headers['content-type'], plain.body]).toEqual([410, 'text/plain; charset=utf-8', expect.stringMatching(new RegExp(`^environment expired: env ${id} expired at .*: run \`prevu up\` again\\n$`))]);
    await waitFor('the services stopped', async () => ((await runningServices(id)).length === 0 ? true : undefined), 60_000, 500);
    const status = JSON.parse((await cli.run(['status', '--json', '--id', id], { cwd: dir })).stdout) as { agent: string; events: { type: string }[] };
    expect(status.agent).toBe('connected'); // the agent stays: it answers the pages
    expect(status.events.map((e) => e.type)).toContain('expired');
  }, 600_000);

  it('an idle env sleeps and the next request wakes it: the waking page, then 200 with the same body', async () => {
    const id = `${project}-sleep`;
    const dir = helloCopy(kit, id, 'main');
    // pinned while `up` waits for its URLs (a 2 s idle time could pass in it), then unpinned
    const result = await up(dir, id, ['--pin', '--sleep-after', '2s']);
    const web = result.urls.find((u) => u.service === 'web')!.url;
    const before = await httpGet(web);
    expect(before.status).toBe(200);
    expect((await cli.run(['unpin', id], { cwd: dir })).code).toBe(0);
    await waitFor('the services asleep', async () => ((await runningServices(id)).length === 0 ? true : undefined), 60_000, 500);

    const browser = await httpGet(web, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect([browser.status, browser.headers['x-prevu-state'], browser.headers['retry-after']]).toEqual([503, 'waking', '2']);
    expect(browser.body).toContain('<meta http-equiv="refresh" content="2">');
    expect(browser.body).toContain(`env ${id} is waking up`);
    const script = await httpGet(web);
    if (script.status !== 200) expect([script.status, script.headers['content-type'], script.body]).toEqual([503, 'text/plain; charset=utf-8', `waking up: env ${id} is waking up; this page reloads by itself once it serves\n`]);
    const after = await waitFor('200 after the wake', async () => {
      const r = await httpGet(web);
      return r.status === 200 ? r : undefined;
    }, 120_000, 250);
    expect(after.body).toBe(before.body);
    // `woke` follows once every service is ready (a request may be served a moment before)
    const events = await waitFor('the woke event', async () => {
      const e = (JSON.parse((await cli.run(['status', '--json', '--id', id], { cwd: dir })).stdout) as { events: { type: string; details: Record<string, unknown> }[] }).events;
      return e.some((x) => x.type === 'woke') ? e : undefined;
    }, 60_000, 1000);
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['sleeping', 'waking', 'woke']));
    expect(events.find((e) => e.type === 'woke')!.details).toEqual({ wakeMs: expect.any(Number), ready: true });

    // pinned (which wakes it if it slept again meanwhile), it stays up, also across a restart of
    // the agent's container (the pin is kept in a small file there)
    const pin = await cli.run(['pin', id, '--json'], { cwd: dir });
    expect(pin.code, pin.stderr).toBe(0);
    expect(JSON.parse(pin.stdout)).toMatchObject({ envId: id, pinned: true, lifecycle: { pinned: true, sleepAfterSeconds: 2, expiresAt: null } });
    const agent = `prevu-${id}-prevu-agent-1`;
    const lifecycle = async () => {
      const out = await docker(['exec', agent, 'node', '-e', "fetch('http://127.0.0.1:3000/lifecycle').then((r) => r.text()).then((t) => process.stdout.write(t))"]);
      return JSON.parse(out) as { pinned: boolean; state: string; lastRequestAt: string | null };
    };
    await waitFor('awake and pinned', async () => ((await lifecycle()).state === 'active' ? true : undefined), 120_000, 500);
    await docker(['restart', agent]);
    const row = await waitFor('the agent API after its restart', lifecycle, 60_000, 500);
    expect(row).toMatchObject({ pinned: true, state: 'active' });
    // well past its idle time with no request: pinned, it does not sleep
    await new Promise((r) => setTimeout(r, 5000));
    expect(await runningServices(id)).toEqual(['api', 'web']);
    expect((await httpGet(web)).status).toBe(200);
    // GET /lifecycle asks the tunnel server for the last request (by its clock)
    const last = Date.parse((await lifecycle()).lastRequestAt ?? '');
    expect(Math.abs(Date.now() - last)).toBeLessThan(60_000);
  }, 600_000);
});
