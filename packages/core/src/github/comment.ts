// The sticky pull request comment: found by its hidden marker (every page of the PR's comments,
// Link-header pagination), updated in place when it exists, created once otherwise.
import type { GithubClient } from './client.js';
import { commentMarker } from './markdown.js';

export interface CommentTarget {
  owner: string;
  repo: string;
  prNumber: number;
  envId: string;
}

export interface StickyCommentResult {
  id: number;
  url: string;
  action: 'created' | 'updated';
}

export async function findStickyComment(client: GithubClient, target: CommentTarget): Promise<{ id: number; body: string } | undefined> {
  const marker = commentMarker(target.envId);
  for await (const page of client.paginate.iterator(client.rest.issues.listComments, {
    owner: target.owner,
    repo: target.repo,
    issue_number: target.prNumber,
    per_page: 100,
  })) {
    // The oldest marked comment wins, so a duplicate made by a concurrent run is never the one edited.
    const found = page.data.find((c) => c.body?.includes(marker));
    if (found) return { id: found.id, body: found.body ?? '' };
  }
  return undefined;
}

export async function upsertStickyComment(client: GithubClient, target: CommentTarget, body: string): Promise<StickyCommentResult> {
  const existing = await findStickyComment(client, target);
  if (existing) {
    const { data } = await client.rest.issues.updateComment({ owner: target.owner, repo: target.repo, comment_id: existing.id, body });
    return { id: data.id, url: data.html_url, action: 'updated' };
  }
  const { data } = await client.rest.issues.createComment({ owner: target.owner, repo: target.repo, issue_number: target.prNumber, body });
  return { id: data.id, url: data.html_url, action: 'created' };
}

/** Edits the comment if there is one; after `down` there is nothing to create. */
export async function updateStickyComment(client: GithubClient, target: CommentTarget, body: string): Promise<StickyCommentResult | undefined> {
  const existing = await findStickyComment(client, target);
  if (!existing) return undefined;
  const { data } = await client.rest.issues.updateComment({ owner: target.owner, repo: target.repo, comment_id: existing.id, body });
  return { id: data.id, url: data.html_url, action: 'updated' };
}
