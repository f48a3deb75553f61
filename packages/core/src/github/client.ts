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

/** Pauses before each retry of an idempotent request that met a 5xx or no answer at all. */
const RETRY_DELAYS_MS = [300, 1000];
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE']);

function transient(error: unknown): boolean {
  const e = error as { status?: number; response?: unknown };
  return typeof e.status === 'number' && (e.status >= 500 || !e.response);
}

export function createGithubClient(options: GithubClientOptions): GithubClient {
  const quiet = () => {};
  const client = new Octokit({
    auth: options.token,
    baseUrl: (options.baseUrl ?? githubApiUrl()).replace(/\/+$/, ''),
    userAgent: 'prevu',
    // Failures come back as errors prevu words itself; Octokit's own console lines would repeat them.
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
  });
  // GitHub answers the odd 502; a retried POST could make a second comment, so only requests
  // that are safe to repeat are retried.
  client.hook.wrap('request', async (request, endpoint) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await request(endpoint);
      } catch (error) {
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined || !IDEMPOTENT.has(String(endpoint.method)) || !transient(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  });
  return client;
}
