import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ciEnvId, detectCi } from '../src/ci/detect.js';
import { resolveEnvId } from '../src/env-id.js';
import { PrevuError } from '../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'prevu-ci-'));
function eventFile(name: string, payload: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof payload === 'string' ? payload : JSON.stringify(payload));
  return path;
}

const githubBase = {
  GITHUB_ACTIONS: 'true',
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_API_URL: 'https://api.github.com',
  GITHUB_RUN_ID: '4242',
};

describe('CI detection', () => {
  it('reads a GitHub pull_request run: PR number and head commit from the event payload', () => {
    const path = eventFile('pr.json', {
      action: 'synchronize',
      number: 12,
      pull_request: { number: 12, head: { ref: 'feature/login', sha: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' }, base: { ref: 'main' } },
      repository: { full_name: 'acme/shop' },
    });
    const ci = detectCi({
      ...githubBase,
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_EVENT_PATH: path,
      GITHUB_HEAD_REF: 'feature/login',
      GITHUB_REF_NAME: '12/merge',
      // GITHUB_SHA is the merge commit in a pull_request run: the preview must show the head.
      GITHUB_SHA: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
    });
    expect(ci).toEqual({
      provider: 'github',
      branch: 'feature/login',
      prNumber: 12,
      sha: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      repo: 'acme/shop',
      apiUrl: 'https://api.github.com',
      serverUrl: 'https://github.com',
      runUrl: 'https://github.com/acme/shop/actions/runs/4242',
    });
    expect(ciEnvId(ci)).toBe('pr-12');
  });

  it('reads a GitHub push run: no PR, branch from GITHUB_REF_NAME, GHES API URL kept', () => {
    const path = eventFile('push.json', { ref: 'refs/heads/main', after: 'c'.repeat(40) });
    const ci = detectCi({ ...githubBase, GITHUB_API_URL: 'https://ghe.example.com/api/v3', GITHUB_EVENT_PATH: path, GITHUB_REF_NAME: 'main', GITHUB_SHA: 'c'.repeat(40) });
    expect(ci).toMatchObject({ provider: 'github', branch: 'main', sha: 'c'.repeat(40), apiUrl: 'https://ghe.example.com/api/v3' });
    expect(ci.prNumber).toBeUndefined();
    expect(ciEnvId(ci)).toBeUndefined();
  });

  it('names the problem in one line when the event payload is unreadable or malformed', () => {
    const missing = () => detectCi({ ...githubBase, GITHUB_EVENT_PATH: join(dir, 'nope.json') });
    expect(missing).toThrow(PrevuError);
    expect(missing).toThrow(/GITHUB_EVENT_PATH=.*nope\.json cannot be read \(ENOENT\)/);
    const notJson = eventFile('bad.json', '{not json');
    expect(() => detectCi({ ...githubBase, GITHUB_EVENT_PATH: notJson })).toThrow(/is not JSON/);
    const badNumber = eventFile('badnum.json', { pull_request: { number: 'twelve' } });
    expect(() => detectCi({ ...githubBase, GITHUB_EVENT_PATH: badNumber })).toThrow(/malformed \(pull_request\.number/);
  });

  it('reads a GitLab merge request pipeline', () => {
    const ci = detectCi({
      GITLAB_CI: 'true',
      CI_MERGE_REQUEST_IID: '7',
      CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'fix/cart',
      CI_COMMIT_REF_NAME: 'fix/cart',
      CI_COMMIT_SHA: 'd'.repeat(40),
      CI_PROJECT_PATH: 'group/sub/shop',
      CI_SERVER_URL: 'https://gitlab.example.com',
      CI_PIPELINE_URL: 'https://gitlab.example.com/group/sub/shop/-/pipelines/9',
    });
    expect(ci).toEqual({
      provider: 'gitlab',
      branch: 'fix/cart',
      prNumber: 7,
      sha: 'd'.repeat(40),
      repo: 'group/sub/shop',
      serverUrl: 'https://gitlab.example.com',
      runUrl: 'https://gitlab.example.com/group/sub/shop/-/pipelines/9',
    });
    expect(ciEnvId(ci)).toBe('pr-7');
  });

  it('reads a GitLab branch pipeline without a merge request', () => {
    const ci = detectCi({ GITLAB_CI: 'true', CI_COMMIT_REF_NAME: 'main', CI_COMMIT_SHA: 'e'.repeat(40), CI_PROJECT_PATH: 'g/shop' });
    expect(ci).toEqual({ provider: 'gitlab', branch: 'main', sha: 'e'.repeat(40), repo: 'g/shop' });
  });

  it('reads plain PREVU_CI_* variables anywhere else, and they override single fields on known CIs', () => {
    expect(detectCi({ PREVU_CI_BRANCH: 'topic', PREVU_CI_PR: '31', PREVU_CI_SHA: 'f'.repeat(40), PREVU_CI_REPO: 'acme/shop' })).toEqual({
      provider: 'env',
      branch: 'topic',
      prNumber: 31,
      sha: 'f'.repeat(40),
      repo: 'acme/shop',
    });
    const gitlab = detectCi({ GITLAB_CI: 'true', CI_MERGE_REQUEST_IID: '7', PREVU_CI_PR: '8' });
    expect(gitlab).toMatchObject({ provider: 'gitlab', prNumber: 8 });
    expect(() => detectCi({ PREVU_CI_PR: 'abc' })).toThrow(/PREVU_CI_PR="abc" is not a pull request number/);
  });

  it('outside CI there is nothing to report', () => {
    expect(detectCi({ HOME: '/home/x', PATH: '/usr/bin' })).toEqual({ provider: 'none' });
    expect(ciEnvId({ provider: 'none' })).toBeUndefined();
  });

  it('makes pr-<number> the default env id of `prevu up`/`down` in a pull request run, --id still wins', async () => {
    const path = eventFile('pr-env.json', { pull_request: { number: 57, head: { ref: 'x', sha: 'a'.repeat(40) } } });
    const env = { ...githubBase, GITHUB_EVENT_PATH: path, PATH: process.env.PATH };
    expect(await resolveEnvId({ project: 'shop', dir, env })).toBe('pr-57');
    expect(await resolveEnvId({ id: 'Demo', project: 'shop', dir, env })).toBe('demo');
    expect(await resolveEnvId({ project: 'shop', dir, env: { GITLAB_CI: 'true', CI_MERGE_REQUEST_IID: '9', PATH: process.env.PATH } })).toBe('pr-9');
  });
});
