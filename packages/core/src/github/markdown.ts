// What prevu writes on GitHub: the sticky PR comment (found again by its hidden marker) and the
// job summary, both around the same URL table.
export interface PreviewUrl {
  service: string;
  port?: number;
  url: string;
}

export interface PreviewInfo {
  envId: string;
  urls: PreviewUrl[];
  sha?: string;
  runUrl?: string;
  /** Time shown in the text; tests pass a fixed one. */
  at?: Date;
  /** Variables the project expects and the run did not set. */
  missingEnv?: { name: string; expectedBy: string }[];
}

/** The hidden marker of an environment's comment: one comment per envId per PR. */
export function commentMarker(envId: string): string {
  return `<!-- prevu:preview env=${envId} -->`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function urlTable(urls: PreviewUrl[]): string {
  if (urls.length === 0) return '_No service exposes a port._';
  const rows = urls.map((u) => `| ${cell(u.service)} | ${u.port ?? ''} | ${cell(u.url)} |`);
  return ['| Service | Port | URL |', '| --- | --- | --- |', ...rows].join('\n');
}

function footer(info: PreviewInfo, verb: string): string {
  const parts = [`${verb} ${(info.at ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z')}`];
  if (info.sha) parts.push(`commit \`${info.sha.slice(0, 7)}\``);
  if (info.runUrl) parts.push(`[CI run](${info.runUrl})`);
  return `<sub>${parts.join(' · ')} · by prevu</sub>`;
}

/** The variables nothing set, one line each: deployed anyway, they are blank in the services. */
function missingEnvList(info: PreviewInfo): string[] {
  if (!info.missingEnv?.length) return [];
  return ['**Not set in this run** (blank in the services):', ...info.missingEnv.map((m) => `- \`${cell(m.name)}\`: ${cell(m.expectedBy)}`), ''];
}

export function upComment(info: PreviewInfo): string {
  return [commentMarker(info.envId), `### Preview environment \`${info.envId}\` is up`, '', urlTable(info.urls), '', ...missingEnvList(info), footer(info, 'Updated')].join('\n');
}

export function downComment(info: PreviewInfo): string {
  return [commentMarker(info.envId), `### Preview environment \`${info.envId}\` was removed`, '', 'Its URLs no longer answer. A new push to this pull request deploys it again.', '', footer(info, 'Removed')].join('\n');
}

export function failedComment(info: PreviewInfo, error: string): string {
  return [commentMarker(info.envId), `### Preview environment \`${info.envId}\` failed to deploy`, '', '```', error, '```', '', footer(info, 'Failed')].join('\n');
}

export function upSummary(info: PreviewInfo): string {
  return [`## Preview environment \`${info.envId}\``, '', urlTable(info.urls), '', ...missingEnvList(info)].join('\n');
}

export function downSummary(info: PreviewInfo): string {
  return [`## Preview environment \`${info.envId}\` removed`, ''].join('\n');
}

export function failedSummary(info: PreviewInfo, error: string): string {
  return [`## Preview environment \`${info.envId}\` failed to deploy`, '', '```', error, '```', ''].join('\n');
}
