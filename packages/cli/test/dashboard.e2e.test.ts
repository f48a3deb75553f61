// The dashboard end to end, in headless Chromium (Debian's `chromium`, driven by playwright-core):
// a private env on the embedded tunnel server, `prevu dashboard`'s link, the env list, live
// events and log tails from the env's agent, share links made and revoked in the UI, and the
// security lines: an expired or reused login link, another account, framing. Screenshots go to
// .test-results/ at the repository root.
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ssh2 from 'ssh2';
import { chromium, type Browser, type Page } from 'playwright-core';
import { signAccessToken } from '@prevu/core/access-token';
import { docker, httpGet, uniqueName, useKit, waitFor } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { embeddedCliHome, helloCopy, type CliHome } from './cli.js';

const kit = useKit();
const project = uniqueName('dash');
const id = `${project}-main`;
const SHOTS = resolve(import.meta.dirname, '..', '..', '..', '.test-results', 'dashboard');
let cli: CliHome;
let browser: Browser;
let webUrl: string;
let dashboard: string;

const keyOf = (profile: string) => readFileSync(join(cli.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', profile, 'id_ed25519'), 'utf8');
const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

async function loginLink(profile: string): Promise<string> {
  const made = await cli.run(['dashboard', '--no-open', '--json', '--profile', profile]);
  expect(made.code, made.stderr).toBe(0);
  return (JSON.parse(made.stdout) as { url: string }).url;
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  cli = await embeddedCliHome(kit);
  expect((await cli.run(['profile', 'create', 'priv', '--private'])).code).toBe(0);
  const dir = helloCopy(kit, project, 'main');
  kit.defer(`prevu down ${id}`, () => cli.run(['down', '--profile', 'priv', '--id', id], { cwd: dir }));
  const up = await cli.run(['up', '--json', '--profile', 'priv', '--id', id], { cwd: dir });
  expect(up.code, up.stderr).toBe(0);
  webUrl = (JSON.parse(up.stdout.trim().split('\n').at(-1)!) as { urls: { service: string; url: string }[] }).urls.find((u) => u.service === 'web')!.url;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  kit.defer('chromium', () => browser.close());
}, 240_000);

describe('the dashboard', () => {
  let page: Page;

  it("logs in through `prevu dashboard`'s link (once) and lists the account's env, unframable", async () => {
    const link = await loginLink('priv');
    dashboard = new URL(link).origin;
    const context = await browser.newContext();
    kit.defer('context', () => context.close());
    page = await context.newPage();
    const first = await page.goto(link);
    expect(first!.url()).toBe(`${dashboard}/`);
    await page.locator(`tr[data-env="${id}"]`).waitFor();
    expect(await page.locator(`tr[data-env="${id}"] a[href="${webUrl}"]`).count()).toBe(1);
    await shot(page, 'list');
    const headers = (await httpGet(`${dashboard}/`)).headers;
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['x-frame-options']).toBe('DENY');
    // the link works once: opened again (a history entry, a leaked log) it logs nobody in
    const again = await (await browser.newContext()).newPage();
    const reused = await again.goto(link);
    expect(reused!.status()).toBe(401);
    expect(await again.textContent('.error')).toMatch(/used already/);
    await again.context().close();
  });

  it('shows live events: a restarted service appears as it happens; and a log line', async () => {
    await page.click(`a[href="/env/${id}"]`);
    const starts = page.locator('#events li[data-type="starting"][data-service="web"]');
    await starts.first().waitFor();
    const startsBefore = await starts.count();
    const [web] = (await docker(['ps', '-q', '--filter', `label=com.docker.compose.project=prevu-${id}`, '--filter', 'label=com.docker.compose.service=web'])).trim().split('\n');
    await docker(['restart', web!]);
    await waitFor('the restart in the live events', async () => ((await starts.count()) > startsBefore ? true : undefined), 60_000);
    // a request made now shows up in web's log tail
    const token = await signAccessToken({ privateKey: keyOf('priv'), envId: id, ttlSeconds: 60 });
    const tail = page.locator('pre[data-logs="web"]');
    await waitFor('web answers again', async () => ((await httpGet(webUrl, { headers: { authorization: `Bearer ${token}` } })).status === 200 ? true : undefined), 60_000);
    // web (busybox httpd -v) logs a `response:200` line per request
    const responses = async () => ((await tail.textContent()) ?? '').split('\n').filter((l) => /response:200/.test(l)).length;
    const before = await waitFor('the log tail', async () => ((await tail.textContent()) ? responses() : undefined), 30_000);
    expect((await httpGet(webUrl, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    await waitFor('the request in the log tail', async () => ((await responses()) > before ? true : undefined), 30_000);
    await shot(page, 'env');
  });

  it('makes a share link that opens in a fresh browser, and revokes it: refused at once', async () => {
    await page.selectOption('#make-share select[name="service"]', 'web');
    await page.click('#make-share button');
    const share = (await page.locator('#made a.share-link').getAttribute('href'))!;
    expect(share.startsWith(`${webUrl}/_prevu/login?token=`)).toBe(true);
    await shot(page, 'share-made');
    const visitor = await browser.newContext();
    kit.defer('visitor context', () => visitor.close());
    const guest = await visitor.newPage();
    expect((await guest.goto(share))!.status()).toBe(200);
    expect(guest.url()).toBe(`${webUrl}/`);
    // revoke it in the dashboard: the guest's cookie and a fresh open of the link are refused
    await page.goto(`${dashboard}/env/${id}`);
    const row = page.locator('#shares tr[data-share]');
    expect(await row.count()).toBe(1);
    await row.locator('button').click();
    await page.waitForURL(`${dashboard}/env/${id}`);
    expect(await page.locator('#shares tr[data-share]').count()).toBe(0);
    expect((await guest.reload())!.status()).toBe(401);
    const fresh = await (await browser.newContext()).newPage();
    const refused = await fresh.goto(share);
    expect(refused!.status()).toBe(401);
    await shot(fresh, 'share-revoked');
    await fresh.context().close();
    // a form posted without the page's CSRF token makes nothing ...
    const action = `${dashboard}/env/${id}/share`;
    const noToken = await page.evaluate((url) => fetch(url, { method: 'POST', body: new URLSearchParams({ service: 'web', ttl: '1' }) }).then((r) => r.status), action);
    expect(noToken).toBe(403);
    // ... nor one a sibling tenant's page sends with the token (same-site: the cookie goes along, its Origin does not pass)
    const csrf = (await page.locator('#make-share input[name="csrf"]').getAttribute('value'))!;
    const sibling = await page.context().newPage();
    await sibling.goto(webUrl);
    await sibling.evaluate(([url, token]) => fetch(url!, { method: 'POST', mode: 'no-cors', credentials: 'include', body: new URLSearchParams({ csrf: token!, service: 'web', ttl: '1' }) }).catch(() => undefined), [action, csrf]);
    await sibling.close();
    await page.reload();
    expect(await page.locator('#shares tr[data-share]').count()).toBe(0);
  });

  it('refuses an expired login link', async () => {
    const expired = await signAccessToken({ privateKey: keyOf('priv'), ttlSeconds: 1, dashboard: true });
    await new Promise((r) => setTimeout(r, 2100));
    const tab = await (await browser.newContext()).newPage();
    const res = await tab.goto(`${dashboard}/login?token=${expired}`);
    expect(res!.status()).toBe(401);
    expect(await tab.textContent('.error')).toMatch(/expired/);
    await shot(tab, 'expired');
    await tab.context().close();
  });

  it("shows another account none of the first one's envs", async () => {
    expect((await cli.run(['profile', 'create', 'other', '--private'])).code).toBe(0);
    // the second account has one env connected (no services), as a bare `ssh` client
    const other = new ssh2.Client();
    kit.defer('second account', () => other.end());
    await new Promise<void>((ready, failed) =>
      other.once('ready', ready).once('error', failed).connect({ host: '127.0.0.1', port: Number(cli.env.PREVU_EMBEDDED_SSH_PORT), username: 'lonely', privateKey: keyOf('other') }),
    );
    const tab = await (await browser.newContext()).newPage();
    await tab.goto(await loginLink('other'));
    await tab.locator('tr[data-env="lonely"]').waitFor();
    expect(await tab.content()).not.toContain(id);
    expect((await tab.goto(`${dashboard}/env/${id}`))!.status()).toBe(404);
    const ws = await tab.evaluate(
      (url) => new Promise<string>((done) => {
        const socket = new WebSocket(url);
        socket.onopen = () => done('open');
        socket.onerror = () => done('refused');
      }),
      `${dashboard.replace('http', 'ws')}/env/${id}/live`,
    );
    expect(ws).toBe('refused');
    await shot(tab, 'other-account');
    await tab.context().close();
  });
});
