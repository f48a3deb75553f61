// A local stand-in for the GitHub REST API, for tests that drive the real Octokit client against it
// (baseUrl / GITHUB_API_URL = standIn.url). It speaks the endpoints prevu uses the way GitHub does:
// `Authorization: token|Bearer <t>` checked (401 `Bad credentials`), fine-grained permissions per
// token (403 `Resource not accessible by integration` with the x-accepted-github-permissions
// header), Link-header pagination of comment lists, and GitHub's JSON shapes and status codes.
// State lives in memory and every call is recorded.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kit } from './kit.js';

/** Fine-grained permission levels, GitHub's spelling (`pull_requests`, `deployments`, ...). */
export type GithubPermissions = Record<string, 'read' | 'write'>;

export interface GithubStandInOptions {
  /** token -> its permissions. Any other token (or none) is answered 401. */
  tokens: Record<string, GithubPermissions>;
  /** Repositories that exist (`owner/name`); others answer 404. */
  repos: string[];
  /** Largest page a list answers, whatever per_page asks (GitHub's is 100); small in tests. */
  maxPerPage?: number;
  /** Login of the user every token belongs to. */
  login?: string;
}

export interface GithubCall {
  method: string;
  path: string;
  status: number;
  body?: unknown;
}

export interface StandInComment {
  id: number;
  issue: number;
  repo: string;
  body: string;
  user: { login: string; type: string };
  created_at: string;
  updated_at: string;
}

export interface StandInDeployment {
  id: number;
  repo: string;
  sha: string;
  ref: string;
  environment: string;
  description: string | null;
  transient_environment: boolean;
  production_environment: boolean;
  created_at: string;
  statuses: { id: number; state: string; environment_url: string; log_url: string; description: string; created_at: string }[];
}

export interface StandInCommitStatus {
  id: number;
  repo: string;
  sha: string;
  state: string;
  context: string;
  target_url: string | null;
  description: string | null;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly docs: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const DOCS = 'https://docs.github.com/rest';

interface Route {
  method: string;
  pattern: RegExp;
  /** Accepted permission sets (any one suffices), as GitHub prints them in the header. */
  permissions: string;
  docs: string;
  handle: (m: RegExpExecArray, ctx: { url: URL; body: Record<string, unknown>; login: string }) => { status: number; body: unknown; headers?: Record<string, string> };
}

export class GithubStandIn {
  readonly calls: GithubCall[] = [];
  readonly comments: StandInComment[] = [];
  readonly deployments: StandInDeployment[] = [];
  readonly commitStatuses: StandInCommitStatus[] = [];
  private nextId = 1000;
  private server = createServer((req, res) => void this.serve(req, res));
  private routes: Route[];
  url = '';

  constructor(readonly options: GithubStandInOptions) {
    this.routes = this.makeRoutes();
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Adds comments by someone else, e.g. to push prevu's comment past the first page. */
  seedComments(repo: string, issue: number, bodies: string[]): void {
    for (const body of bodies) this.addComment(repo, issue, body, 'someone-else');
  }

  private faults: { method: string; path: RegExp; status: number; remaining: number }[] = [];

  /** The next `count` calls matching answer `status` (GitHub's 5xx body), as GitHub sometimes does. */
  failNext(method: string, path: RegExp, status = 502, count = 1): void {
    this.faults.push({ method, path, status, remaining: count });
  }

  callsTo(method: string, pathPattern: RegExp): GithubCall[] {
    return this.calls.filter((c) => c.method === method && pathPattern.test(c.path));
  }

  private now(): string {
    return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  }

  private addComment(repo: string, issue: number, body: string, login: string): StandInComment {
    const at = this.now();
    const comment = { id: this.nextId++, issue, repo, body, user: { login, type: 'Bot' }, created_at: at, updated_at: at };
    this.comments.push(comment);
    return comment;
  }

  private commentJson(c: StandInComment): unknown {
    const base = `https://github.com/${c.repo}`;
    return {
      id: c.id,
      node_id: `IC_${c.id}`,
      url: `${this.url}/repos/${c.repo}/issues/comments/${c.id}`,
      html_url: `${base}/pull/${c.issue}#issuecomment-${c.id}`,
      issue_url: `${this.url}/repos/${c.repo}/issues/${c.issue}`,
      body: c.body,
      user: c.user,
      created_at: c.created_at,
      updated_at: c.updated_at,
      author_association: 'NONE',
    };
  }

  private deploymentJson(d: StandInDeployment): unknown {
    const { statuses: _statuses, repo, ...rest } = d;
    return { ...rest, url: `${this.url}/repos/${repo}/deployments/${d.id}`, task: 'deploy', payload: {}, original_environment: d.environment };
  }

  private page<T>(url: URL, items: T[]): { body: T[]; headers: Record<string, string> } {
    const max = this.options.maxPerPage ?? 100;
    const perPage = Math.min(Math.max(Number(url.searchParams.get('per_page') ?? 30) || 30, 1), max);
    const page = Math.max(Number(url.searchParams.get('page') ?? 1) || 1, 1);
    const last = Math.max(Math.ceil(items.length / perPage), 1);
    const link = (p: number, rel: string) => {
      const u = new URL(url.toString());
      u.searchParams.set('per_page', String(perPage));
      u.searchParams.set('page', String(p));
      return `<${this.url}${u.pathname}${u.search}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(page - 1, 'prev'), link(1, 'first'));
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
    return { body: items.slice((page - 1) * perPage, page * perPage), headers: links.length ? { link: links.join(', ') } : {} };
  }

  private makeRoutes(): Route[] {
    const repo = '/repos/([^/]+)/([^/]+)';
    const full = (m: RegExpExecArray) => `${m[1]}/${m[2]}`;
    const required = (body: Record<string, unknown>, field: string, docs: string): string => {
      const value = body[field];
      if (typeof value !== 'string' || value === '') throw new HttpError(422, `Invalid request.\n\n"${field}" wasn't supplied.`, docs);
      return value;
    };
    return [
      {
        method: 'GET',
        pattern: /^\/user$/,
        permissions: '',
        docs: `${DOCS}/users/users#get-the-authenticated-user`,
        handle: (_m, { login }) => ({ status: 200, body: { login, id: 1, type: 'Bot' } }),
      },
      {
        method: 'GET',
        pattern: new RegExp(`^${repo}/issues/(\\d+)/comments$`),
        permissions: 'issues=read; pull_requests=read',
        docs: `${DOCS}/issues/comments#list-issue-comments`,
        handle: (m, { url }) => {
          const list = this.comments.filter((c) => c.repo === full(m) && c.issue === Number(m[3]));
          const { body, headers } = this.page(url, list);
          return { status: 200, body: body.map((c) => this.commentJson(c)), headers };
        },
      },
      {
        method: 'POST',
        pattern: new RegExp(`^${repo}/issues/(\\d+)/comments$`),
        permissions: 'issues=write; pull_requests=write',
        docs: `${DOCS}/issues/comments#create-an-issue-comment`,
        handle: (m, { body, login }) => {
          const text = required(body, 'body', `${DOCS}/issues/comments#create-an-issue-comment`);
          return { status: 201, body: this.commentJson(this.addComment(full(m), Number(m[3]), text, login)) };
        },
      },
      {
        method: 'PATCH',
        pattern: new RegExp(`^${repo}/issues/comments/(\\d+)$`),
        permissions: 'issues=write; pull_requests=write',
        docs: `${DOCS}/issues/comments#update-an-issue-comment`,
        handle: (m, { body }) => {
          const comment = this.comments.find((c) => c.repo === full(m) && c.id === Number(m[3]));
          if (!comment) throw new HttpError(404, 'Not Found', `${DOCS}/issues/comments#update-an-issue-comment`);
          comment.body = required(body, 'body', `${DOCS}/issues/comments#update-an-issue-comment`);
          comment.updated_at = this.now();
          return { status: 200, body: this.commentJson(comment) };
        },
      },
      {
        method: 'POST',
        pattern: new RegExp(`^${repo}/deployments$`),
        permissions: 'deployments=write',
        docs: `${DOCS}/deployments/deployments#create-a-deployment`,
        handle: (m, { body }) => {
          const ref = required(body, 'ref', `${DOCS}/deployments/deployments#create-a-deployment`);
          const deployment: StandInDeployment = {
            id: this.nextId++,
            repo: full(m),
            sha: ref,
            ref,
            environment: typeof body.environment === 'string' ? body.environment : 'production',
            description: typeof body.description === 'string' ? body.description : null,
            transient_environment: body.transient_environment === true,
            production_environment: body.production_environment === true,
            created_at: this.now(),
            statuses: [],
          };
          this.deployments.push(deployment);
          return { status: 201, body: this.deploymentJson(deployment) };
        },
      },
      {
        method: 'GET',
        pattern: new RegExp(`^${repo}/deployments$`),
        permissions: 'deployments=read',
        docs: `${DOCS}/deployments/deployments#list-deployments`,
        handle: (m, { url }) => {
          const env = url.searchParams.get('environment');
          const list = this.deployments.filter((d) => d.repo === full(m) && (env === null || d.environment === env)).reverse();
          const { body, headers } = this.page(url, list);
          return { status: 200, body: body.map((d) => this.deploymentJson(d)), headers };
        },
      },
      {
        method: 'POST',
        pattern: new RegExp(`^${repo}/deployments/(\\d+)/statuses$`),
        permissions: 'deployments=write',
        docs: `${DOCS}/deployments/statuses#create-a-deployment-status`,
        handle: (m, { body }) => {
          const deployment = this.deployments.find((d) => d.repo === full(m) && d.id === Number(m[3]));
          if (!deployment) throw new HttpError(404, 'Not Found', `${DOCS}/deployments/statuses#create-a-deployment-status`);
          const state = required(body, 'state', `${DOCS}/deployments/statuses#create-a-deployment-status`);
          const status = {
            id: this.nextId++,
            state,
            environment_url: typeof body.environment_url === 'string' ? body.environment_url : '',
            log_url: typeof body.log_url === 'string' ? body.log_url : '',
            description: typeof body.description === 'string' ? body.description : '',
            created_at: this.now(),
          };
          deployment.statuses.push(status);
          // GitHub's auto_inactive (default true): a success makes the environment's older deployments inactive.
          if (state === 'success' && body.auto_inactive !== false) {
            for (const other of this.deployments) {
              if (other !== deployment && other.repo === deployment.repo && other.environment === deployment.environment && other.statuses.at(-1)?.state === 'success') {
                other.statuses.push({ ...status, id: this.nextId++, state: 'inactive', environment_url: '' });
              }
            }
          }
          return { status: 201, body: { ...status, url: `${this.url}/repos/${full(m)}/deployments/${deployment.id}/statuses/${status.id}` } };
        },
      },
      {
        method: 'GET',
        pattern: new RegExp(`^${repo}/deployments/(\\d+)/statuses$`),
        permissions: 'deployments=read',
        docs: `${DOCS}/deployments/statuses#list-deployment-statuses`,
        handle: (m, { url }) => {
          const deployment = this.deployments.find((d) => d.repo === full(m) && d.id === Number(m[3]));
          if (!deployment) throw new HttpError(404, 'Not Found', `${DOCS}/deployments/statuses#list-deployment-statuses`);
          // Newest first, as GitHub lists them.
          const { body, headers } = this.page(url, [...deployment.statuses].reverse());
          return { status: 200, body, headers };
        },
      },
      {
        method: 'POST',
        pattern: new RegExp(`^${repo}/statuses/([0-9a-f]{7,40})$`),
        permissions: 'statuses=write',
        docs: `${DOCS}/commits/statuses#create-a-commit-status`,
        handle: (m, { body }) => {
          const state = required(body, 'state', `${DOCS}/commits/statuses#create-a-commit-status`);
          const status: StandInCommitStatus = {
            id: this.nextId++,
            repo: full(m),
            sha: m[3]!,
            state,
            context: typeof body.context === 'string' ? body.context : 'default',
            target_url: typeof body.target_url === 'string' ? body.target_url : null,
            description: typeof body.description === 'string' ? body.description : null,
          };
          this.commitStatuses.push(status);
          return { status: 201, body: status };
        },
      },
    ];
  }

  /** Whether the token's permissions satisfy one of the accepted sets (`a=write, b=read; c=write`). */
  private allowed(granted: GithubPermissions, accepted: string): boolean {
    if (!accepted) return true;
    return accepted.split(';').some((set) =>
      set.split(',').every((p) => {
        const [name = '', level = ''] = p.trim().split('=');
        const has = granted[name];
        return has === 'write' || (has === 'read' && level === 'read');
      }),
    );
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: Record<string, unknown> = {};
    const answer = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      this.calls.push({ method, path: url.pathname, status, ...(Object.keys(body).length ? { body } : {}) });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-media-type': 'github.v3; format=json', 'x-github-request-id': `STANDIN:${this.calls.length}`, ...headers });
      res.end(status === 204 ? undefined : JSON.stringify(json));
    };
    try {
      if (chunks.length) {
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          throw new HttpError(400, 'Problems parsing JSON', DOCS);
        }
      }
      const fault = this.faults.find((f) => f.remaining > 0 && f.method === method && f.path.test(url.pathname));
      if (fault) {
        fault.remaining--;
        throw new HttpError(fault.status, 'Server Error', DOCS);
      }
      const auth = /^(?:token|bearer)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      const granted = auth ? this.options.tokens[auth[1]!] : undefined;
      if (!granted) throw new HttpError(401, 'Bad credentials', DOCS);
      let route: Route | undefined;
      let match: RegExpExecArray | null = null;
      for (const r of this.routes) {
        match = r.method === method ? r.pattern.exec(url.pathname) : null;
        if (match) {
          route = r;
          break;
        }
      }
      if (!route || !match) throw new HttpError(404, 'Not Found', DOCS);
      if (match[1] && !this.options.repos.includes(`${match[1]}/${match[2]}`)) throw new HttpError(404, 'Not Found', route.docs);
      if (!this.allowed(granted, route.permissions)) {
        throw new HttpError(403, 'Resource not accessible by integration', route.docs, { 'x-accepted-github-permissions': route.permissions });
      }
      const out = route.handle(match, { url, body, login: this.options.login ?? 'github-actions[bot]' });
      answer(out.status, out.body, out.headers);
    } catch (error) {
      if (error instanceof HttpError) {
        answer(error.status, { message: error.message, documentation_url: error.docs, status: String(error.status) }, error.headers);
      } else {
        answer(500, { message: `stand-in error: ${(error as Error).message}` });
      }
    }
  }
}

/** Starts a GitHub stand-in closed by the kit's cleanup. */
export async function startGithubStandIn(kit: Kit, options: GithubStandInOptions): Promise<GithubStandIn> {
  const standIn = await new GithubStandIn(options).start();
  kit.defer('github stand-in', () => standIn.close());
  return standIn;
}
