// After `up` or `down` in CI: the sticky PR comment, the deployment (or commit status) and the job
// summary. A GitHub failure is a warning (the environment itself is fine) unless `strict`, which
// turns the first one into the command's error.
import type { CiContext } from '../ci/detect.js';
import { errors, PrevuError } from '../errors.js';
import { createGithubClient, type GithubClient } from './client.js';
import { updateStickyComment, upsertStickyComment, type StickyCommentResult } from './comment.js';
import { deactivateDeployment, recordCommitStatus, recordDeployment, type DeploymentResult } from './deployment.js';
import { githubError, type GithubOperation } from './errors.js';
import { downComment, downSummary, failedComment, failedSummary, upComment, upSummary, type PreviewInfo, type PreviewUrl } from './markdown.js';
import { appendJobSummary } from './summary.js';

export type StatusKind = 'deployment' | 'commit' | 'none';

export interface ReportOptions {
  ci: CiContext;
  envId: string;
  token?: string;
  /** Defaults to the CI's GITHUB_API_URL. */
  apiUrl?: string;
  comment?: boolean;
  status?: StatusKind;
  /** Job summary file; defaults to $GITHUB_STEP_SUMMARY. */
  summaryPath?: string;
  strict?: boolean;
  at?: Date;
  /** Variables `up` found the project expects and the run did not set: listed under the URLs. */
  missingEnv?: { name: string; expectedBy: string }[];
}

export interface ReportResult {
  comment?: StickyCommentResult;
  deployment?: DeploymentResult;
  commitStatus?: { id: number };
  summary?: string;
  /** One line each: a step that failed (or could not run) without failing the command. */
  warnings: string[];
}

interface Context {
  client?: GithubClient;
  owner?: string;
  repo?: string;
  apiUrl: string;
  result: ReportResult;
  strict: boolean;
}

function prepare(options: ReportOptions): Context {
  const apiUrl = options.apiUrl ?? options.ci.apiUrl ?? 'https://api.github.com';
  const result: ReportResult = { warnings: [] };
  const [owner, repo, ...rest] = (options.ci.repo ?? '').split('/');
  const hasRepo = Boolean(owner && repo && rest.length === 0);
  return {
    client: options.token ? createGithubClient({ token: options.token, baseUrl: apiUrl }) : undefined,
    owner: hasRepo ? owner : undefined,
    repo: hasRepo ? repo : undefined,
    apiUrl,
    result,
    strict: options.strict ?? false,
  };
}

function warn(ctx: Context, error: PrevuError): void {
  if (ctx.strict) throw error;
  ctx.result.warnings.push(error.line);
}

/** Runs one GitHub step; reports why it cannot run, and turns its failure into one line. */
async function step<T>(ctx: Context, operation: GithubOperation, run: (client: GithubClient, owner: string, repo: string) => Promise<T>): Promise<T | undefined> {
  if (!ctx.owner || !ctx.repo) {
    warn(ctx, errors.githubNoRepo(operation));
    return undefined;
  }
  if (!ctx.client) {
    warn(ctx, errors.githubNoToken(operation));
    return undefined;
  }
  try {
    return await run(ctx.client, ctx.owner, ctx.repo);
  } catch (error) {
    warn(ctx, error instanceof PrevuError ? error : githubError(operation, error, ctx.apiUrl));
    return undefined;
  }
}

function info(options: ReportOptions, urls: PreviewUrl[]): PreviewInfo {
  return { envId: options.envId, urls, sha: options.ci.sha, runUrl: options.ci.runUrl, at: options.at, ...(options.missingEnv?.length ? { missingEnv: options.missingEnv } : {}) };
}

export async function reportUp(urls: PreviewUrl[], options: ReportOptions): Promise<ReportResult> {
  const ctx = prepare(options);
  const { ci } = options;
  const preview = info(options, urls);
  const mainUrl = urls[0]?.url;

  if (options.comment !== false && ci.prNumber !== undefined) {
    ctx.result.comment = await step(ctx, 'comment', (client, owner, repo) =>
      upsertStickyComment(client, { owner, repo, prNumber: ci.prNumber!, envId: options.envId }, upComment(preview)),
    );
  }
  const status = options.status ?? 'deployment';
  if (status !== 'none' && ci.sha && mainUrl) {
    const target = { sha: ci.sha, envId: options.envId };
    if (status === 'deployment') {
      ctx.result.deployment = await step(ctx, 'deployment', (client, owner, repo) =>
        recordDeployment(client, { ...target, owner, repo }, mainUrl, ci.runUrl),
      );
    } else {
      ctx.result.commitStatus = await step(ctx, 'commit-status', (client, owner, repo) =>
        recordCommitStatus(client, { ...target, owner, repo }, 'success', mainUrl, 'Preview environment is up'),
      );
    }
  }
  ctx.result.summary = appendJobSummary(upSummary(preview), options.summaryPath);
  return ctx.result;
}

export async function reportDown(options: ReportOptions): Promise<ReportResult> {
  const ctx = prepare(options);
  const { ci } = options;
  const preview = info(options, []);
  if (options.comment !== false && ci.prNumber !== undefined) {
    ctx.result.comment = await step(ctx, 'comment', (client, owner, repo) =>
      updateStickyComment(client, { owner, repo, prNumber: ci.prNumber!, envId: options.envId }, downComment(preview)),
    );
  }
  if ((options.status ?? 'deployment') === 'deployment') {
    ctx.result.deployment = await step(ctx, 'deployment', (client, owner, repo) =>
      deactivateDeployment(client, { owner, repo, envId: options.envId }),
    );
  }
  ctx.result.summary = appendJobSummary(downSummary(preview), options.summaryPath);
  return ctx.result;
}

/** After a failed `up`: the comment and the deployment say so, with the error line and the run. */
export async function reportFailure(error: string, options: ReportOptions): Promise<ReportResult> {
  const ctx = prepare(options);
  const { ci } = options;
  const preview = info(options, []);
  if (options.comment !== false && ci.prNumber !== undefined) {
    ctx.result.comment = await step(ctx, 'comment', (client, owner, repo) =>
      upsertStickyComment(client, { owner, repo, prNumber: ci.prNumber!, envId: options.envId }, failedComment(preview, error)),
    );
  }
  const status = options.status ?? 'deployment';
  if (status !== 'none' && ci.sha) {
    const target = { sha: ci.sha, envId: options.envId };
    if (status === 'deployment') {
      ctx.result.deployment = await step(ctx, 'deployment', (client, owner, repo) => recordDeployment(client, { ...target, owner, repo }, undefined, ci.runUrl));
    } else {
      ctx.result.commitStatus = await step(ctx, 'commit-status', (client, owner, repo) =>
        recordCommitStatus(client, { ...target, owner, repo }, 'failure', ci.runUrl, 'Preview environment failed to deploy'),
      );
    }
  }
  ctx.result.summary = appendJobSummary(failedSummary(preview, error), options.summaryPath);
  return ctx.result;
}
