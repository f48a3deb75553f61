// GitHub API failures as one line that names the cause: a rejected token, the missing permission
// (from GitHub's x-accepted-github-permissions header, in the workflow's `permissions:` spelling),
// an exhausted rate limit, an unreachable API.
import { errors, type PrevuError } from '../errors.js';

export type GithubOperation = 'comment' | 'deployment' | 'commit-status';

const operations: Record<GithubOperation, { doing: string; permission: string }> = {
  comment: { doing: 'writing the pull request comment', permission: 'pull-requests: write' },
  deployment: { doing: 'creating the deployment', permission: 'deployments: write' },
  'commit-status': { doing: 'setting the commit status', permission: 'statuses: write' },
};

interface RequestErrorLike {
  status: number;
  message: string;
  response?: { headers: Record<string, string | number | undefined>; data?: unknown };
}

function isRequestError(error: unknown): error is RequestErrorLike {
  return error instanceof Error && typeof (error as { status?: unknown }).status === 'number';
}

/** `issues=write; pull_requests=write` -> [["issues: write"], ["pull-requests: write"]] (any one set suffices). */
export function parseAcceptedPermissions(header: string | undefined): string[][] {
  if (!header) return [];
  return header
    .split(';')
    .map((set) =>
      set
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)
        .map((p) => {
          const [name = '', level = ''] = p.split('=');
          return `${name.trim().replace(/_/g, '-')}: ${level.trim()}`;
        }),
    )
    .filter((set) => set.length > 0);
}

/**
 * The permission to name. When GitHub accepts the one prevu's operation needs (at any level: the
 * comment lookup asks `pull-requests: read`, the edit after it `write`, and write covers read),
 * name that at the level the whole operation needs; otherwise GitHub's first accepted set.
 */
function missingPermission(operation: GithubOperation, header: string | undefined): string {
  const expected = operations[operation].permission;
  const name = expected.split(':')[0];
  const sets = parseAcceptedPermissions(header);
  if (sets.length === 0 || sets.some((set) => set.some((p) => p.split(':')[0] === name))) return expected;
  return sets[0]!.join(', ');
}

function githubMessage(error: RequestErrorLike): string {
  const data = error.response?.data;
  if (data && typeof data === 'object' && typeof (data as { message?: unknown }).message === 'string') {
    return (data as { message: string }).message;
  }
  return error.message;
}

export function githubError(operation: GithubOperation, error: unknown, apiUrl: string): PrevuError {
  const { doing } = operations[operation];
  const made = ((): PrevuError => {
    if (!isRequestError(error)) return errors.githubFailed(doing, (error as Error)?.message ?? String(error));
    const headers = error.response?.headers ?? {};
    const message = githubMessage(error);
    if (!error.response) return errors.githubUnreachable(apiUrl, message);
    if (error.status === 401) return errors.githubBadToken(doing, message);
    if ((error.status === 403 || error.status === 429) && String(headers['x-ratelimit-remaining']) === '0') return errors.githubRateLimited(doing);
    if (error.status === 403) return errors.githubPermission(doing, missingPermission(operation, headers['x-accepted-github-permissions'] as string | undefined), message);
    if (error.status === 404) return errors.githubNotFound(doing, message);
    return errors.githubStatus(error.status, doing, message);
  })();
  made.cause = error;
  return made;
}
