// `prevu github report` as a process, with the real Octokit client over HTTP against the test
// kit's GitHub REST stand-in, a GitHub event payload file, and a fixed URL table whose URL is a real
// HTTP backend on loopback (so the URL in the comment is checked to answer).
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { httpGet, startGithubStandIn, useKit, type GithubStandIn } from '@prevu/test-kit';

const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url));
const kit = useKit();
const dir = mkdtempSync(join(tmpdir(), 'prevu-gh-report-'));
let gh: GithubStandIn;
let backendUrl: string;
const sha = '0123456789abcdef0123456789abcdef01234567';

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), ...env }, cwd: dir }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function githubEnv(pr: number, token: string, summary: string): Record<string, string> {
  const event = join(dir, `event-${pr}.json`);
  writeFileSync(event, JSON.stringify({ action: 'synchronize', number: pr, pull_request: { number: pr, head: { ref: 'feature/x', sha } } }));
  return {
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: event,
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SHA: 'f'.repeat(40),
    GITHUB_RUN_ID: '77',
    GITHUB_API_URL: gh.url,
    GITHUB_TOKEN: token,
    GITHUB_STEP_SUMMARY: summary,
  };
}

beforeAll(async () => {
  gh = await startGithubStandIn(kit, {
    tokens: { good: { pull_requests: 'write', deployments: 'write' }, 'deploy-only': { deployments: 'write' } },
    repos: ['acme/shop'],
    maxPerPage: 2,
  });
  const backend = createServer((_req, res) => res.end('hello from web\n'));
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  kit.defer('backend', () => new Promise((resolve) => backend.close(resolve)));
  backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  writeFileSync(
    join(dir, 'up.json'),
    // What `prevu up --json` prints: event lines, then the result.
    [
      JSON.stringify({ type: 'url_assigned', envId: 'pr-5', service: 'web', time: '2026-11-23T21:00:00Z', details: {} }),
      JSON.stringify({ envId: 'pr-5', project: 'shop', profile: 'local', driver: 'local', urls: [{ service: 'web', port: 80, url: backendUrl, health: 'healthy' }] }),
    ].join('\n'),
  );
});

describe('prevu github report', () => {
  it('up comments once with URLs that answer, records the deployment, writes the summary; again updates; down edits', async () => {
    const summary = join(dir, 'summary.md');
    gh.seedComments('acme/shop', 5, ['first review', 'second review', 'third review']);
    const first = await cli(['github', 'report', 'up', '--result', join(dir, 'up.json')], githubEnv(5, 'good', summary));
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^PR comment created: https:\/\/github\.com\/acme\/shop\/pull\/5#issuecomment-\d+$/m);
    const comments = () => gh.comments.filter((c) => c.body.includes('<!-- prevu:preview env=pr-5 -->'));
    expect(comments()).toHaveLength(1);
    const urlsInComment = [...comments()[0]!.body.matchAll(/\| (http:\/\/127\.0\.0\.1:\d+) \|/g)].map((m) => m[1]!);
    expect(urlsInComment).toEqual([backendUrl]);
    for (const url of urlsInComment) expect((await httpGet(url)).status).toBe(200);
    expect(gh.deployments).toHaveLength(1);
    expect(gh.deployments[0]).toMatchObject({ sha, environment: 'preview/pr-5' });
    expect(gh.deployments[0]!.statuses).toEqual([expect.objectContaining({ state: 'success', environment_url: backendUrl, log_url: 'https://github.com/acme/shop/actions/runs/77' })]);
    expect(readFileSync(summary, 'utf8')).toContain(`| web | 80 | ${backendUrl} |`);

    const second = await cli(['github', 'report', 'up', '--result', join(dir, 'up.json'), '--json'], githubEnv(5, 'good', summary));
    expect(second.code).toBe(0);
    const json = JSON.parse(second.stdout) as { envId: string; comment: { id: number; action: string } };
    expect(json).toMatchObject({ envId: 'pr-5', comment: { id: comments()[0]!.id, action: 'updated' } });
    expect(comments()).toHaveLength(1);

    const down = await cli(['github', 'report', 'down'], githubEnv(5, 'good', summary));
    expect(down.code).toBe(0);
    expect(comments()).toHaveLength(1);
    expect(comments()[0]!.body).toContain('Preview environment `pr-5` was removed');
    expect(gh.deployments.at(-1)!.statuses.at(-1)?.state).toBe('inactive');
  });

  it('a token without pull-requests: write: one annotation naming it, exit 0; with --strict exit 1 with that line', async () => {
    const lenient = await cli(['github', 'report', 'up', '--result', join(dir, 'up.json')], githubEnv(6, 'deploy-only', join(dir, 's6.md')));
    expect(lenient.code).toBe(0);
    expect(lenient.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^::warning title=prevu::GitHub denied writing the pull request comment: the token lacks `pull-requests: write`/)]);
    expect(gh.deployments.at(-1)).toMatchObject({ environment: 'preview/pr-5' });

    const strict = await cli(['github', 'report', 'up', '--result', join(dir, 'up.json'), '--strict'], githubEnv(6, 'deploy-only', join(dir, 's6.md')));
    expect(strict.code).toBe(1);
    expect(strict.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^prevu: GitHub denied writing the pull request comment: the token lacks `pull-requests: write` .*: add `pull-requests: write` under `permissions:`/)]);
  });

  it('a bad token: one line naming it; missing --result: one line saying what to pass', async () => {
    const bad = await cli(['github', 'report', 'up', '--result', join(dir, 'up.json'), '--strict', '--status', 'none'], githubEnv(7, 'nope', join(dir, 's7.md')));
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^prevu: GitHub rejected the token while writing the pull request comment \(401 Bad credentials\): pass a valid token/);
    const missing = await cli(['github', 'report', 'up'], githubEnv(7, 'good', join(dir, 's7.md')));
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('prevu: `prevu github report up` needs the URL table: pass --result with the output of `prevu up --json`');
    const absent = await cli(['github', 'report', 'up', '--result', join(dir, 'absent.json')], githubEnv(7, 'good', join(dir, 's7.md')));
    expect([absent.code, absent.stderr.trim()]).toEqual([1, `prevu: ${join(dir, 'absent.json')} cannot be read (ENOENT): pass the file \`prevu up --json\` was written to, or - for stdin`]);
  });
});
