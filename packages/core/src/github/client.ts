// The one place prevu makes its Octokit: REST base URL from GITHUB_API_URL (GitHub Enterprise
// Server, or a local stand-in in tests), token from the caller (action input or GITHUB_TOKEN).
import { retry } from '@octokit/plugin-retry';
import { Octokit } from '@octokit/rest';

export type GithubClient = Octokit;

export interface GithubClientOptions {
  token: string;
  /** REST base URL; defaults to GITHUB_API_URL, then https://api.github.com. */
  baseUrl?: string;
}

export function githubApiUrl(env: Record<string, string | undefined> = process.env): string {
  return env.GITHUB_API_URL?.trim() || 'https://api.github.com';
}

// Methods safe to send twice: a retried POST could make a second comment.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE']);
const RetryingOctokit = Octokit.plugin(retry);

export function createGithubClient(options: GithubClientOptions): GithubClient {
  const quiet = () => {};
  const client = new RetryingOctokit({
    auth: options.token,
    baseUrl: (options.baseUrl ?? githubApiUrl()).replace(/\/+$/, ''),
    userAgent: 'prevu',
    // Failures come back as errors prevu words itself; Octokit's own console lines would repeat them.
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    // GitHub answers the odd 502: twice more, 300 ms then 1.2 s later (the plugin's backoff).
    retry: { retries: 2, retryAfterBaseValue: 300 },
  });
  // Registered after the plugin, so it runs first: a request not safe to repeat is never retried.
  client.hook.before('request', (request) => {
    if (!IDEMPOTENT.has(String(request.method))) request.request = { ...request.request, retries: 0 };
  });
  return client;
}
