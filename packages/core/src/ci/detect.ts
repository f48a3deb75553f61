// Which CI system runs prevu, and what it says about the change being built: branch, pull/merge
// request number, commit and repository. GitHub Actions and GitLab CI are read from their own
// variables (GitHub's PR number and head commit from the event payload file, since GITHUB_SHA is
// the merge commit in a pull_request run); any other system sets the plain PREVU_CI_* variables,
// which also override single fields on GitHub and GitLab.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { errors } from '../errors.js';
import { normalizeEnvId } from '../names.js';

export type CiProvider = 'github' | 'gitlab' | 'env' | 'none';

export interface CiContext {
  provider: CiProvider;
  branch?: string;
  /** Pull request (GitHub) or merge request IID (GitLab). */
  prNumber?: number;
  /** The commit being previewed: the PR head, not a merge commit. */
  sha?: string;
  /** `owner/name` on GitHub, the project path on GitLab. */
  repo?: string;
  /** GitHub REST base URL (GITHUB_API_URL), for Octokit. */
  apiUrl?: string;
  /** Web base URL (GITHUB_SERVER_URL / CI_SERVER_URL), for links. */
  serverUrl?: string;
  /** A link to this CI run, when the system gives one. */
  runUrl?: string;
}

type Env = Record<string, string | undefined>;

const positiveInt = z.coerce.number().int().positive();

// Only the fields prevu reads; GitHub sends far more.
const githubEventSchema = z.object({
  number: z.number().int().positive().optional(),
  pull_request: z
    .object({
      number: z.number().int().positive(),
      head: z.object({ ref: z.string().min(1), sha: z.string().min(1) }).partial().optional(),
    })
    .optional(),
});

function set(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function parseNumber(name: string, raw: string | undefined): number | undefined {
  if (set(raw) === undefined) return undefined;
  const parsed = positiveInt.safeParse(raw);
  if (!parsed.success) throw errors.ciPrNumberInvalid(name, String(raw));
  return parsed.data;
}

function readGithubEvent(path: string | undefined, read: (path: string) => string): z.infer<typeof githubEventSchema> {
  if (!path) return {};
  let text: string;
  try {
    text = read(path);
  } catch (error) {
    throw errors.githubEventUnreadable(path, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw errors.githubEventNotJson(path);
  }
  const parsed = githubEventSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw errors.githubEventMalformed(path, `${issue?.path.join('.') || 'root'}: ${issue?.message}`);
  }
  return parsed.data;
}

function fromGithub(env: Env, read: (path: string) => string): CiContext {
  const event = readGithubEvent(set(env.GITHUB_EVENT_PATH), read);
  const pr = event.pull_request;
  const serverUrl = set(env.GITHUB_SERVER_URL) ?? 'https://github.com';
  const repo = set(env.GITHUB_REPOSITORY);
  const runId = set(env.GITHUB_RUN_ID);
  return {
    provider: 'github',
    // GITHUB_HEAD_REF is set only for pull_request events; GITHUB_REF_NAME is `12/merge` there.
    branch: set(env.GITHUB_HEAD_REF) ?? pr?.head?.ref ?? set(env.GITHUB_REF_NAME),
    prNumber: pr?.number,
    sha: pr?.head?.sha ?? set(env.GITHUB_SHA),
    repo,
    apiUrl: set(env.GITHUB_API_URL) ?? 'https://api.github.com',
    serverUrl,
    runUrl: repo && runId ? `${serverUrl}/${repo}/actions/runs/${runId}` : undefined,
  };
}

function fromGitlab(env: Env): CiContext {
  return {
    provider: 'gitlab',
    branch: set(env.CI_MERGE_REQUEST_SOURCE_BRANCH_NAME) ?? set(env.CI_COMMIT_REF_NAME) ?? set(env.CI_COMMIT_BRANCH),
    prNumber: parseNumber('CI_MERGE_REQUEST_IID', env.CI_MERGE_REQUEST_IID),
    sha: set(env.CI_COMMIT_SHA),
    repo: set(env.CI_PROJECT_PATH),
    serverUrl: set(env.CI_SERVER_URL),
    runUrl: set(env.CI_PIPELINE_URL),
  };
}

/** Reads the CI context from environment variables (and GitHub's event payload file). */
export function detectCi(env: Env = process.env, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): CiContext {
  let ci: CiContext;
  if (env.GITHUB_ACTIONS === 'true') ci = fromGithub(env, read);
  else if (env.GITLAB_CI === 'true') ci = fromGitlab(env);
  else ci = { provider: 'none' };

  const overrides: Partial<CiContext> = {
    branch: set(env.PREVU_CI_BRANCH),
    prNumber: parseNumber('PREVU_CI_PR', env.PREVU_CI_PR),
    sha: set(env.PREVU_CI_SHA),
    repo: set(env.PREVU_CI_REPO),
  };
  const given = Object.entries(overrides).filter(([, v]) => v !== undefined);
  if (given.length > 0) {
    ci = { ...ci, ...Object.fromEntries(given) };
    if (ci.provider === 'none') ci.provider = 'env';
  }
  // Keep the object free of undefined keys so it prints and compares cleanly.
  return Object.fromEntries(Object.entries(ci).filter(([, v]) => v !== undefined)) as unknown as CiContext;
}

/** The env id CI gives by default: `pr-<number>` in a pull/merge request, nothing otherwise. */
export function ciEnvId(ci: CiContext): string | undefined {
  return ci.prNumber === undefined ? undefined : normalizeEnvId(`pr-${ci.prNumber}`);
}
