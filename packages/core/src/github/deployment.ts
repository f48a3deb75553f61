// GitHub's record of the environment: a deployment of the PR head commit with a status whose
// environment URL is the main URL (GitHub shows it as "View deployment" on the PR), or, for
// tokens limited to `statuses: write`, a commit status linking to it.
import type { GithubClient } from './client.js';

export interface DeploymentTarget {
  owner: string;
  repo: string;
  sha: string;
  envId: string;
}

/** The GitHub environment name prevu deploys to. */
export function githubEnvironment(envId: string): string {
  return `preview/${envId}`;
}

export interface DeploymentResult {
  deploymentId: number;
  statusId: number;
  environment: string;
}

/** A deployment of the commit with its outcome: `success` with the environment URL, or `failure`. */
export async function recordDeployment(client: GithubClient, target: DeploymentTarget, url: string | undefined, logUrl?: string): Promise<DeploymentResult> {
  const environment = githubEnvironment(target.envId);
  const created = await client.rest.repos.createDeployment({
    owner: target.owner,
    repo: target.repo,
    ref: target.sha,
    environment,
    description: `prevu preview ${target.envId}`,
    // A preview needs neither a merge of the base branch nor green checks to exist.
    auto_merge: false,
    required_contexts: [],
    transient_environment: true,
    production_environment: false,
  });
  if (!('id' in created.data)) throw new Error(`GitHub did not create the deployment (${created.data.message ?? created.status})`);
  const status = await client.rest.repos.createDeploymentStatus({
    owner: target.owner,
    repo: target.repo,
    deployment_id: created.data.id,
    state: url ? 'success' : 'failure',
    ...(url ? { environment_url: url } : {}),
    ...(logUrl ? { log_url: logUrl } : {}),
    description: url ? 'Preview environment is up' : 'Preview environment failed to deploy',
    // Earlier deployments of this environment become inactive: one live preview per envId.
    auto_inactive: true,
  });
  return { deploymentId: created.data.id, statusId: status.data.id, environment };
}

/**
 * Marks the environment's live deployment inactive: the newest one whose latest status is
 * `success` (GitHub's auto_inactive retired the ones before it; a failed deploy after it did not).
 * Undefined when none is live.
 */
export async function deactivateDeployment(client: GithubClient, target: Omit<DeploymentTarget, 'sha'>): Promise<DeploymentResult | undefined> {
  const environment = githubEnvironment(target.envId);
  const { data } = await client.rest.repos.listDeployments({ owner: target.owner, repo: target.repo, environment, per_page: 10 });
  for (const deployment of data) {
    const statuses = await client.rest.repos.listDeploymentStatuses({ owner: target.owner, repo: target.repo, deployment_id: deployment.id, per_page: 1 });
    if (statuses.data[0]?.state !== 'success') continue;
    const status = await client.rest.repos.createDeploymentStatus({
      owner: target.owner,
      repo: target.repo,
      deployment_id: deployment.id,
      state: 'inactive',
      description: 'Preview environment removed',
    });
    return { deploymentId: deployment.id, statusId: status.data.id, environment };
  }
  return undefined;
}

export async function recordCommitStatus(
  client: GithubClient,
  target: DeploymentTarget,
  state: 'success' | 'failure',
  url: string | undefined,
  description: string,
): Promise<{ id: number }> {
  const { data } = await client.rest.repos.createCommitStatus({
    owner: target.owner,
    repo: target.repo,
    sha: target.sha,
    state,
    context: `prevu/${target.envId}`,
    description,
    ...(url ? { target_url: url } : {}),
  });
  return { id: data.id };
}
