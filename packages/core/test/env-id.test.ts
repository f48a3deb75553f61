import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { gitBranch, resolveEnvId } from '../src/env-id.js';
import { tempDir } from './temp-dir.js';

const noCi = { PATH: process.env.PATH, HOME: process.env.HOME };

function repo(branch: string): string {
  const dir = tempDir('prevu-git-');
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, stdio: 'ignore' });
  git('init', '-q', '-b', branch);
  return dir;
}

describe('env id', () => {
  it('is <compose project>-<git branch>, normalized', async () => {
    const dir = repo('Feature/Login_Page');
    expect(await gitBranch(dir, noCi)).toBe('Feature/Login_Page');
    expect(await resolveEnvId({ project: 'shop', dir, env: noCi })).toBe('shop-feature-login-page');
  });

  it('is the project alone outside git, and --id overrides', async () => {
    const dir = tempDir('prevu-nogit-');
    expect(await resolveEnvId({ project: 'shop', dir, env: noCi })).toBe('shop');
    expect(await resolveEnvId({ id: 'PR 42', project: 'shop', dir, env: noCi })).toBe('pr-42');
  });

  it('takes the branch from CI variables on a detached checkout (GitHub, GitLab, any CI)', async () => {
    const dir = repo('main');
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir, stdio: 'ignore' });
    git('commit', '-q', '--allow-empty', '-m', 'first');
    git('checkout', '-q', '--detach');
    expect(await gitBranch(dir, noCi)).toBeUndefined();
    expect(await resolveEnvId({ project: 'shop', dir, env: { ...noCi, GITHUB_ACTIONS: 'true', GITHUB_HEAD_REF: 'fix/bug' } })).toBe('shop-fix-bug');
    expect(await resolveEnvId({ project: 'shop', dir, env: { ...noCi, GITLAB_CI: 'true', CI_COMMIT_REF_NAME: 'feat/x' } })).toBe('shop-feat-x');
    expect(await resolveEnvId({ project: 'shop', dir, env: { ...noCi, PREVU_CI_BRANCH: 'release' } })).toBe('shop-release');
    expect(await resolveEnvId({ project: 'shop', dir, env: { ...noCi, BRANCH_NAME: 'PR-7' } })).toBe('shop-pr-7');
    // A checkout on a branch names it, whatever the CI says.
    git('checkout', '-q', 'main');
    expect(await resolveEnvId({ project: 'shop', dir, env: { ...noCi, PREVU_CI_BRANCH: 'release' } })).toBe('shop-main');
  });

  it('rejects an id with nothing usable in one line', async () => {
    await expect(resolveEnvId({ id: '---', project: 'shop', dir: tempDir() })).rejects.toMatchObject({ code: 'PREVU_ENV_ID_INVALID', exitCode: 1 });
  });
});
