// The one place prevu makes its Octokit: REST base URL from GITHUB_API_URL (GitHub Enterprise
// Server, or a local stand-in in tests), token from the caller (action input or GITHUB_TOKEN).
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

export function createGithubClient(options: GithubClientOptions): GithubClient {
  const quiet = () => {};
  return new Octokit({
    auth: options.token,
    baseUrl: (options.baseUrl ?? githubApiUrl()).replace(/\/+$/, ''),
    userAgent: 'prevu',
    // Failures come back as errors prevu words itself; Octokit's own console lines would repeat them.
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
  });
}
