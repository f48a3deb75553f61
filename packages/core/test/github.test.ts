// The GitHub reporting with the real Octokit client over HTTP against the test kit's GitHub REST
// stand-in: sticky comment (found again past the first page of comments), deployment statuses,
// job summary, and the one-line errors for a bad token and a missing permission.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { startGithubStandIn, useKit, type GithubStandIn } from '@prevu/test-kit';
import type { CiContext } from '../src/ci/detect.js';
import { PrevuError } from '../src/errors.js';
import { createGithubClient } from '../src/github/client.js';
import { findStickyComment } from '../src/github/comment.js';
import { parseAcceptedPermissions } from '../src/github/errors.js';
import { commentMarker, type PreviewUrl } from '../src/github/markdown.js';
import { reportDown, reportFailure, reportUp } from '../src/github/report.js';

const kit = useKit();
let gh: GithubStandIn;
const dir = mkdtempSync(join(tmpdir(), 'prevu-gh-'));
const urls: PreviewUrl[] = [
  { service: 'web', port: 80, url: 'http://web-80-pr-12-abcdefghij.localhost:8080' },
  { service: 'api', port: 3000, url: 'http://api-3000-pr-12-abcdefghij.localhost:8080' },
];
const at = new Date('2026-11-23T21:00:00Z');

function ci(prNumber: number, repo = 'acme/shop'): CiContext {
  return { provider: 'github', prNumber, repo, sha: 'a'.repeat(40), branch: 'feature', apiUrl: gh.url, runUrl: 'https://github.com/acme/shop/actions/runs/1' };
}

beforeAll(async () => {
  gh = await startGithubStandIn(kit, {
    tokens: {
      full: { pull_requests: 'write', deployments: 'write', statuses: 'write' },
      'no-pr': { deployments: 'write', statuses: 'write' },
      'read-only': { pull_requests: 'read', deployments: 'read' },
    },
    repos: ['acme/shop'],
    maxPerPage: 3,
  });
});

describe('GitHub reporting', () => {
  it('first up creates one comment and one deployment with the main URL; second up updates the same comment', async () => {
    // Seven comments by others first: prevu's own lands on page 3 (3 per page), found through the Link headers.
    gh.seedComments('acme/shop', 12, Array.from({ length: 7 }, (_, i) => `review comment ${i}`));
    const summary = join(dir, 'summary-1.md');
    const first = await reportUp(urls, { ci: ci(12), envId: 'pr-12', token: 'full', summaryPath: summary, at });
    expect(first.warnings).toEqual([]);
    expect(first.comment).toMatchObject({ action: 'created' });
    const mine = gh.comments.filter((c) => c.body.includes(commentMarker('pr-12')));
    expect(mine).toHaveLength(1);
    expect(mine[0]!.body).toContain('| web | 80 | http://web-80-pr-12-abcdefghij.localhost:8080 |');
    expect(mine[0]!.body).toContain('| api | 3000 | http://api-3000-pr-12-abcdefghij.localhost:8080 |');
    expect(gh.deployments).toHaveLength(1);
    expect(gh.deployments[0]).toMatchObject({ sha: 'a'.repeat(40), environment: 'preview/pr-12', transient_environment: true, production_environment: false });
    expect(gh.deployments[0]!.statuses).toEqual([expect.objectContaining({ state: 'success', environment_url: urls[0]!.url, log_url: 'https://github.com/acme/shop/actions/runs/1' })]);
    expect(readFileSync(summary, 'utf8')).toContain('| web | 80 | http://web-80-pr-12-abcdefghij.localhost:8080 |');

    const listCalls = gh.callsTo('GET', /\/issues\/12\/comments$/).length;
    const second = await reportUp(urls.slice(0, 1), { ci: ci(12), envId: 'pr-12', token: 'full', summaryPath: summary, at });
    expect(second.comment).toEqual({ ...first.comment, action: 'updated' });
    // The second run walked all three pages to find the marker again.
    expect(gh.callsTo('GET', /\/issues\/12\/comments$/).length - listCalls).toBe(3);
    const after = gh.comments.filter((c) => c.body.includes(commentMarker('pr-12')));
    expect(after).toHaveLength(1);
    expect(after[0]!.body).not.toContain('api-3000');
    expect(after[0]!.body).not.toContain('Not set in this run');
    expect(gh.comments).toHaveLength(8);

    // Variables the run did not set are listed under the URLs, in the comment and the summary.
    await reportUp(urls, { ci: ci(12), envId: 'pr-12', token: 'full', summaryPath: summary, at, missingEnv: [{ name: 'API_KEY', expectedBy: '${API_KEY} in the compose files, without a default' }] });
    const listed = gh.comments.find((c) => c.body.includes(commentMarker('pr-12')))!.body;
    expect(listed).toContain('**Not set in this run** (blank in the services):\n- `API_KEY`: ${API_KEY} in the compose files, without a default');
    expect(readFileSync(summary, 'utf8')).toContain('- `API_KEY`: ${API_KEY} in the compose files, without a default');
    // A new deployment per up; GitHub's auto_inactive retires the previous ones.
    expect(gh.deployments).toHaveLength(3);
    expect(gh.deployments[0]!.statuses.at(-1)?.state).toBe('inactive');
  });

  it('down edits the comment to say the environment was removed and retires the deployment', async () => {
    const summary = join(dir, 'summary-down.md');
    const down = await reportDown({ ci: ci(12), envId: 'pr-12', token: 'full', summaryPath: summary, at });
    expect(down.warnings).toEqual([]);
    expect(down.comment?.action).toBe('updated');
    const mine = gh.comments.filter((c) => c.body.includes(commentMarker('pr-12')));
    expect(mine).toHaveLength(1);
    expect(mine[0]!.body).toContain('Preview environment `pr-12` was removed');
    expect(mine[0]!.body).not.toContain('localhost:8080');
    expect(gh.deployments.at(-1)!.statuses.at(-1)?.state).toBe('inactive');
    expect(readFileSync(summary, 'utf8')).toContain('removed');
  });

  it('a failed up puts the error in the same comment and records a failed deployment', async () => {
    const first = await reportUp(urls, { ci: ci(20), envId: 'pr-20', token: 'full', summaryPath: join(dir, 's20.md') });
    const failed = await reportFailure('the compose project is invalid (bad port): fix the file', { ci: ci(20), envId: 'pr-20', token: 'full', summaryPath: join(dir, 's20.md') });
    expect(failed.warnings).toEqual([]);
    expect(failed.comment).toEqual({ ...first.comment, action: 'updated' });
    const mine = gh.comments.filter((c) => c.body.includes(commentMarker('pr-20')));
    expect(mine).toHaveLength(1);
    expect(mine[0]!.body).toContain('Preview environment `pr-20` failed to deploy');
    expect(mine[0]!.body).toContain('the compose project is invalid (bad port): fix the file');
    const deployment = gh.deployments.find((d) => d.id === failed.deployment?.deploymentId);
    expect(deployment?.statuses).toEqual([expect.objectContaining({ state: 'failure', environment_url: '', log_url: 'https://github.com/acme/shop/actions/runs/1' })]);
    expect(readFileSync(join(dir, 's20.md'), 'utf8')).toContain('failed to deploy');
  });

  it('a bad token is one warning line; with strict it is the error', async () => {
    const result = await reportUp(urls, { ci: ci(13), envId: 'pr-13', token: 'wrong', summaryPath: join(dir, 's.md') });
    expect(result.warnings).toEqual([
      expect.stringMatching(/^GitHub rejected the token while writing the pull request comment \(401 Bad credentials\): pass a valid token/),
      expect.stringMatching(/^GitHub rejected the token while creating the deployment \(401 Bad credentials\)/),
    ]);
    expect(result.summary).toBe(join(dir, 's.md'));
    const strict = reportUp(urls, { ci: ci(13), envId: 'pr-13', token: 'wrong', strict: true, summaryPath: join(dir, 's.md') });
    await expect(strict).rejects.toThrow(PrevuError);
    await expect(strict).rejects.toMatchObject({ code: 'PREVU_GITHUB_BAD_TOKEN', exitCode: 1 });
  });

  it('a token without pull-requests: write gets the deployment and one line naming the permission', async () => {
    const before = gh.comments.length;
    const result = await reportUp(urls, { ci: ci(14), envId: 'pr-14', token: 'no-pr', summaryPath: join(dir, 's14.md') });
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(/^GitHub denied writing the pull request comment: the token lacks `pull-requests: write` \(403 Resource not accessible by integration\): add `pull-requests: write` under `permissions:`/);
    expect(gh.comments).toHaveLength(before);
    expect(result.deployment?.environment).toBe('preview/pr-14');

    const readOnly = reportUp(urls, { ci: ci(14), envId: 'pr-14', token: 'read-only', strict: true });
    await expect(readOnly).rejects.toMatchObject({ code: 'PREVU_GITHUB_PERMISSION', message: expect.stringContaining('`pull-requests: write`') });
    const noDeploy = await reportUp(urls, { ci: ci(14), envId: 'pr-14', token: 'read-only', comment: false });
    expect(noDeploy.warnings).toEqual([expect.stringMatching(/^GitHub denied creating the deployment: the token lacks `deployments: write`/)]);
  });

  it('outside a pull request (a push run) there is no comment, only the deployment and the summary', async () => {
    const calls = gh.calls.length;
    const push = await reportUp(urls, { ci: { ...ci(1), prNumber: undefined }, envId: 'shop-main', token: 'full', summaryPath: join(dir, 'push.md') });
    expect(push.warnings).toEqual([]);
    expect(push.comment).toBeUndefined();
    expect(gh.calls.slice(calls).map((c) => `${c.method} ${c.path.replace(/\d+/g, 'N')}`)).toEqual(['POST /repos/acme/shop/deployments', 'POST /repos/acme/shop/deployments/N/statuses']);
    expect(readFileSync(join(dir, 'push.md'), 'utf8')).toContain('shop-main');
  });

  it('retries a request that is safe to repeat after a 502, never a POST (no second comment)', async () => {
    gh.failNext('GET', /\/issues\/21\/comments$/, 502, 2);
    const listed = await reportUp(urls, { ci: ci(21), envId: 'pr-21', token: 'full', status: 'none' });
    expect(listed.warnings).toEqual([]);
    expect(listed.comment?.action).toBe('created');
    expect(gh.callsTo('GET', /\/issues\/21\/comments$/).map((c) => c.status)).toEqual([502, 502, 200]);

    gh.failNext('POST', /\/issues\/22\/comments$/, 502, 1);
    const posted = await reportUp(urls, { ci: ci(22), envId: 'pr-22', token: 'full', status: 'none' });
    expect(posted.warnings).toEqual([expect.stringMatching(/^GitHub answered 502 while writing the pull request comment \(Server Error\)/)]);
    expect(gh.callsTo('POST', /\/issues\/22\/comments$/)).toHaveLength(1);
  });

  it('commit status mode links the main URL from the commit', async () => {
    const result = await reportUp(urls, { ci: ci(15), envId: 'pr-15', token: 'no-pr', comment: false, status: 'commit' });
    expect(result.warnings).toEqual([]);
    expect(gh.commitStatuses.at(-1)).toMatchObject({ sha: 'a'.repeat(40), state: 'success', context: 'prevu/pr-15', target_url: urls[0]!.url });
  });

  it('names an unknown repository, a missing token and an unreachable API', async () => {
    const notFound = await reportUp(urls, { ci: ci(16, 'acme/nope'), envId: 'pr-16', token: 'full', status: 'none' });
    expect(notFound.warnings).toEqual([expect.stringMatching(/^GitHub answered 404 while writing the pull request comment \(Not Found\)/)]);
    const noToken = await reportUp(urls, { ci: ci(16), envId: 'pr-16', status: 'none' });
    expect(noToken.warnings).toEqual([expect.stringMatching(/^no GitHub token, so no comment was written: pass the github-token input/)]);
    const down = await reportUp(urls, { ci: { ...ci(16), apiUrl: 'http://127.0.0.1:1' }, envId: 'pr-16', token: 'full', status: 'none' });
    expect(down.warnings).toEqual([expect.stringMatching(/^the GitHub API at http:\/\/127\.0\.0\.1:1 does not answer/)]);
  });

  it('the client sends the token GitHub expects and finds nothing for an environment never commented', async () => {
    const client = createGithubClient({ token: 'full', baseUrl: gh.url });
    expect((await client.rest.users.getAuthenticated()).data.login).toBe('github-actions[bot]');
    expect(await findStickyComment(client, { owner: 'acme', repo: 'shop', prNumber: 99, envId: 'pr-99' })).toBeUndefined();
    expect(parseAcceptedPermissions('issues=write; pull_requests=write, contents=read')).toEqual([['issues: write'], ['pull-requests: write', 'contents: read']]);
  });
});
