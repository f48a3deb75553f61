// The action end to end: action.yml run as a composite action (the test runner below does what the
// GitHub runner does) with a pull_request event payload, the GitHub REST stand-in driven by the real
// Octokit client, and a real `prevu up` of a compose project on the embedded tunnel server (a
// private instance for this file), whose URLs must answer 200 through the tunnel server.
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePorts, httpGet, runId, startGithubStandIn, TEST_LABEL, uniqueName, useKit, waitFor, type GithubStandIn } from '@prevu/test-kit';
import { killRunningSteps, runCompositeAction } from './github-action-runner.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'packages/cli/bin/run.js');
const kit = useKit();
const work = mkdtempSync(join(tmpdir(), 'prevu-gh-action-'));
kit.defer(`dir ${work}`, () => rmSync(work, { recursive: true, force: true }));
const actionPath = actionCheckout();
const pr = 9000 + randomInt(999);
const envId = `pr-${pr}`;
let gh: GithubStandIn;
let env: NodeJS.ProcessEnv;
let project: string;

function event(action: string, sha: string): string {
  const path = join(work, `event-${action}-${sha.slice(0, 4)}.json`);
  writeFileSync(path, JSON.stringify({ action, number: pr, pull_request: { number: pr, state: action === 'closed' ? 'closed' : 'open', head: { ref: 'feature/preview', sha } }, repository: { full_name: 'acme/shop' } }));
  return path;
}

/**
 * The action's checkout as GitHub makes it for `uses:`: the repository's files (tracked, and new
 * ones not ignored, so uncommitted work is tested too), without node_modules or builds.
 */
function actionCheckout(): string {
  const dir = join(work, 'action');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\0');
  for (const file of files) {
    if (!file || !existsSync(join(root, file))) continue; // deleted in the worktree, not yet committed
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    copyFileSync(join(root, file), join(dir, file));
  }
  return dir;
}

// The CLI comes the default way (no `prevu` input): built in the action's own checkout.
function runAction(inputs: Record<string, string>, eventPath: string, token = 'good', extraEnv: NodeJS.ProcessEnv = {}) {
  return runCompositeAction(join(actionPath, 'action.yml'), {
    with: inputs,
    github: { token, action_path: actionPath },
    env: { ...env, GITHUB_EVENT_PATH: eventPath, ...extraEnv },
    cwd: project,
  });
}

const mine = () => gh.comments.filter((c) => c.body.includes(`<!-- prevu:preview env=${envId} -->`));

beforeAll(async () => {
  gh = await startGithubStandIn(kit, {
    tokens: { good: { pull_requests: 'write', deployments: 'write' }, 'deploy-only': { deployments: 'write' } },
    repos: ['acme/shop'],
    maxPerPage: 2,
  });
  gh.seedComments('acme/shop', pr, ['looks good', 'one nit', 'approved']);
  const [httpPort, sshPort, managementPort] = await freePorts(3);
  const name = uniqueName('prevu-gha-');
  env = {
    ...process.env,
    XDG_CONFIG_HOME: join(work, 'config'),
    PREVU_EMBEDDED_NAME: name,
    PREVU_EMBEDDED_NETWORK: name,
    PREVU_EMBEDDED_HTTP_PORT: String(httpPort),
    PREVU_EMBEDDED_SSH_PORT: String(sshPort),
    PREVU_EMBEDDED_MANAGEMENT_PORT: String(managementPort),
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: gh.url,
    GITHUB_RUN_ID: '123',
    GITHUB_STEP_SUMMARY: join(work, 'summary.md'),
  };
  delete env.GITHUB_TOKEN;
  delete env.PREVU_PROFILE;
  project = join(work, 'shop');
  mkdirSync(project);
  writeFileSync(
    join(project, 'compose.yaml'),
    [
      'services:',
      '  web:',
      '    image: busybox:latest',
      `    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www"]`,
      '    expose: ["80"]',
      `    labels: { ${TEST_LABEL}: ${runId} }`,
      '',
    ].join('\n'),
  );
  // Cleanup runs in reverse: steps a timeout left running are stopped, then the env, then the server.
  kit.defer(`embedded server ${name}`, () => runPrevuQuietly(['server', 'stop', '--purge']));
  kit.defer(`prevu down ${envId}`, () => runPrevuQuietly(['down', '--id', envId]));
  kit.defer('running action steps', killRunningSteps);
});

async function runPrevuQuietly(args: string[]): Promise<void> {
  const { execFile } = await import('node:child_process');
  await new Promise((resolve) => execFile(process.execPath, [bin, ...args], { env, cwd: project }, resolve));
}

describe('the prevu GitHub Action', () => {
  it('first up: one comment and one deployment status with the URL, which answers 200 through the tunnel server', async () => {
    const run = await runAction({ command: 'up' }, event('opened', 'a'.repeat(40)));
    expect(run.code, run.output).toBe(0);
    // the first run built the CLI in the action's checkout
    expect(existsSync(join(actionPath, 'packages/cli/oclif.manifest.json'))).toBe(true);
    const urls = JSON.parse(run.outputs.urls!) as { service: string; port: number; url: string }[];
    expect(urls.map((u) => [u.service, u.port])).toEqual([['web', 80]]);
    expect(run.outputs.url).toBe(urls[0]!.url);
    expect(run.outputs.url).toMatch(new RegExp(`^http://web-${envId}-[a-z2-7]{10}\\.localhost:${env.PREVU_EMBEDDED_HTTP_PORT}$`));

    expect(mine()).toHaveLength(1);
    const inComment = [...mine()[0]!.body.matchAll(/\| (http:\/\/[^ |]+) \|/g)].map((m) => m[1]!);
    expect(inComment).toEqual([run.outputs.url]);
    for (const url of inComment) {
      const res = await httpGet(url);
      expect(res.status).toBe(200);
      expect(res.body).toBe('hello-from-web\n');
    }
    expect(gh.deployments).toHaveLength(1);
    expect(gh.deployments[0]).toMatchObject({ sha: 'a'.repeat(40), environment: `preview/${envId}` });
    expect(gh.deployments[0]!.statuses).toEqual([expect.objectContaining({ state: 'success', environment_url: run.outputs.url })]);
    expect(readFileSync(env.GITHUB_STEP_SUMMARY!, 'utf8')).toContain(`| web | 80 | ${run.outputs.url} |`);
  }, 300_000);

  it('second up (synchronize) updates the same comment', async () => {
    const before = mine()[0]!;
    const run = await runAction({ command: 'up' }, event('synchronize', 'b'.repeat(40)));
    expect(run.code, run.output).toBe(0);
    expect(mine()).toHaveLength(1);
    expect(mine()[0]!.id).toBe(before.id);
    expect(mine()[0]!.body).toContain('`bbbbbbb`');
    expect(gh.deployments.map((d) => d.statuses.at(-1)?.state)).toEqual(['inactive', 'success']);
    expect((await httpGet(run.outputs.url!)).status).toBe(200);
  }, 180_000);

  it('a token without pull-requests: write: the deploy still succeeds, with one warning naming the permission', async () => {
    const comments = gh.comments.length;
    const run = await runAction({ command: 'up' }, event('synchronize', 'c'.repeat(40)), 'deploy-only');
    expect(run.code, run.output).toBe(0);
    const warnings = run.output.split('\n').filter((l) => l.startsWith('::warning'));
    expect(warnings).toEqual([expect.stringMatching(/^::warning title=prevu::GitHub denied writing the pull request comment: the token lacks `pull-requests: write`/)]);
    expect(gh.comments).toHaveLength(comments);
    expect(gh.deployments.at(-1)).toMatchObject({ sha: 'c'.repeat(40) });
  }, 180_000);

  it('a failing up fails the step with the CLI\'s exit code and puts its error in the same comment', async () => {
    const before = mine()[0]!;
    const run = await runAction({ command: 'up', args: '-f missing.yaml' }, event('synchronize', 'd'.repeat(40)));
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/^prevu: no compose file or Dockerfile in .*missing\.yaml does not exist\): run prevu in a directory with compose\.yaml \(or a Dockerfile\), or pass -f <file>$/m);
    expect(mine()).toHaveLength(1);
    expect(mine()[0]!.id).toBe(before.id);
    expect(mine()[0]!.body).toContain(`Preview environment \`${envId}\` failed to deploy`);
    expect(mine()[0]!.body).toContain('missing.yaml does not exist');
    expect(gh.deployments.at(-1)).toMatchObject({ sha: 'd'.repeat(40) });
    expect(gh.deployments.at(-1)!.statuses.map((st) => st.state)).toEqual(['failure']);
  }, 120_000);

  it('down (closed) edits the comment to say the environment was removed', async () => {
    const url = gh.deployments.findLast((d) => d.statuses[0]?.state === 'success')!.statuses[0]!.environment_url;
    const run = await runAction({ command: 'down' }, event('closed', 'c'.repeat(40)));
    expect(run.code, run.output).toBe(0);
    expect(mine()).toHaveLength(1);
    expect(mine()[0]!.body).toContain(`Preview environment \`${envId}\` was removed`);
    // The live deployment (the last success, before the failed one) is retired; none stays live.
    expect(gh.deployments.findLast((d) => d.statuses[0]?.environment_url === url)!.statuses.at(-1)?.state).toBe('inactive');
    expect(gh.deployments.filter((d) => d.statuses.at(-1)?.state === 'success')).toEqual([]);
    await waitFor('the URL to stop answering 200', async () => ((await httpGet(url)).status !== 200 ? true : undefined), 20_000);
  }, 180_000);

  it('gc (a scheduled run) removes the expired env and retires its deployment; the step output names it', async () => {
    // A TTL of seconds (PREVU_SHORT_DURATIONS=1, the documented setting for tests) passes for real:
    // the agent stops the services and answers the expired page, then the scheduled gc removes it.
    // 30 s, not less: a TTL that ends while `up` still waits for the URLs stops the services it
    // waits for (3 s did on a loaded machine, and up waited out its timeout).
    const short = { PREVU_SHORT_DURATIONS: '1' };
    const up = await runAction({ command: 'up', args: '--ttl 30s' }, event('synchronize', 'd'.repeat(40)), 'good', short);
    expect(up.code, up.output).toBe(0);
    const url = up.outputs.url!;
    await waitFor('the expired page', async () => ((await httpGet(url)).status === 410 ? true : undefined), 90_000);
    const schedule = join(work, 'event-schedule.json');
    writeFileSync(schedule, JSON.stringify({ schedule: '17 * * * *', repository: { full_name: 'acme/shop' } }));
    const gc = await runAction({ command: 'gc' }, schedule, 'good', { GITHUB_EVENT_NAME: 'schedule' });
    expect(gc.code, gc.output).toBe(0);
    expect(gc.outputs.removed).toBe(JSON.stringify([envId]));
    expect(gh.deployments.filter((d) => d.statuses.at(-1)?.state === 'success')).toEqual([]);
    await waitFor('the URL to stop answering 200', async () => ((await httpGet(url)).status !== 200 ? true : undefined), 20_000);
    const again = await runAction({ command: 'gc' }, schedule, 'good', { GITHUB_EVENT_NAME: 'schedule' });
    expect([again.code, again.outputs.removed]).toEqual([0, '[]']);
  }, 300_000);
});
