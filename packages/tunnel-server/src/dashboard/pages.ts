// The dashboard's HTML: plain server-rendered pages that work without JavaScript (forms post,
// links navigate); /assets/dashboard.js upgrades the env page with live events and log tails.
// Everything an agent or a user wrote is escaped: an env's agent is the tenant's own code.
import type { LifecycleRow, ServiceRow } from '@prevu/core/agent-protocol';
import type { ShareLinkInfo } from '@prevu/core/tunnel-protocol';
import type { EnvRate } from '../env-rates.js';

export interface EnvView {
  envId: string;
  urls: Array<{ service: string; url: string; private: boolean }>;
  /** From the agent; undefined when it does not answer. */
  services?: Array<Pick<ServiceRow, 'service' | 'state' | 'health' | 'cause'>>;
  /** From the agent once the lifecycle issue lands; undefined: shown as '-'. */
  lifecycle?: Pick<LifecycleRow, 'state' | 'expiresAt' | 'pinned'>;
  /** Requests and 5xx error pages per minute, last half hour (env-rates.ts). */
  rate: EnvRate;
}

/** A sparkline as inline SVG (no script, no image request): one point a minute, scaled to its own peak. */
function sparkline(values: number[], label: string, kind: 'requests' | 'errors'): string {
  const peak = Math.max(1, ...values);
  const points = values.map((v, i) => `${i * 4},${20 - Math.round((v / peak) * 18)}`).join(' ');
  const total = values.reduce((a, b) => a + b, 0);
  return `<svg class="spark ${kind}" data-total="${total}" viewBox="0 0 ${(values.length - 1) * 4} 21" width="120" height="21" role="img" aria-label="${esc(label)}: ${total} in 30 min"><polyline points="${points}"/></svg>`;
}

function rateCell(env: EnvView): string {
  return `<td>${sparkline(env.rate.requests, 'requests', 'requests')}<br>${sparkline(env.rate.errors, 'errors', 'errors')}</td>`;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
const dash = (value: string | null | undefined) => (value ? esc(value) : '-');

function layout(title: string, body: string, csrf?: string): string {
  const logout = csrf ? `<form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="${esc(csrf)}"><button>Log out</button></form>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${esc(title)} · prevu</title><link rel="stylesheet" href="/assets/dashboard.css"><script src="/assets/dashboard.js" defer></script></head><body><header><a href="/">prevu</a>${logout}</header><main>${body}</main></body></html>`;
}

export function loginPage(message?: string): string {
  const why = message ? `<p class="error" role="alert">${esc(message)}</p>` : '';
  return layout('Log in', `<h1>prevu dashboard</h1>${why}<p>Run <code>prevu dashboard</code> on a machine with your prevu profile: it opens this page logged in (its link works once, for a few minutes).</p>`);
}

function lifecycleCells(env: EnvView): string {
  const l = env.lifecycle;
  return `<td>${dash(l?.expiresAt)}</td><td>${l ? (l.pinned ? 'yes' : 'no') : '-'}</td><td>${l ? (l.state === 'asleep' ? 'yes' : 'no') : '-'}</td>`;
}

function health(env: EnvView, service: string): string {
  const row = env.services?.find((s) => s.service === service);
  if (!row) return '-';
  return esc(row.health || row.state) + (row.cause ? ` <small>${esc(row.cause)}</small>` : '');
}

export function listPage(envs: EnvView[], csrf: string): string {
  if (!envs.length) return layout('Environments', '<h1>Environments</h1><p>No environment of this account is connected. <code>prevu up</code> makes one.</p>', csrf);
  const rows = envs
    .map((env) => {
      const urls = env.urls.map((u) => `<li><a href="${esc(u.url)}">${esc(u.service)}</a> ${health(env, u.service)}${u.private ? ' <small>private</small>' : ''}</li>`).join('');
      return `<tr data-env="${esc(env.envId)}"><td><a href="/env/${encodeURIComponent(env.envId)}">${esc(env.envId)}</a></td><td><ul>${urls}</ul></td>${rateCell(env)}${lifecycleCells(env)}</tr>`;
    })
    .join('');
  return layout('Environments', `<h1>Environments</h1><table id="envs"><thead><tr><th>Env</th><th>Services</th><th>Requests / errors (30 min)</th><th>TTL</th><th>Pinned</th><th>Asleep</th></tr></thead><tbody>${rows}</tbody></table>`, csrf);
}

export function envPage(env: EnvView, shares: ShareLinkInfo[], csrf: string): string {
  const id = encodeURIComponent(env.envId);
  const services = [...new Set([...env.urls.map((u) => u.service), ...(env.services ?? []).map((s) => s.service)])].sort();
  const serviceRows = services
    .map((service) => {
      const urls = env.urls.filter((u) => u.service === service).map((u) => `<a href="${esc(u.url)}">${esc(u.url)}</a>`).join('<br>');
      return `<tr><td>${esc(service)}</td><td>${health(env, service)}</td><td>${urls || '-'}</td><td><a href="/env/${id}/logs/${encodeURIComponent(service)}">logs</a></td></tr>`;
    })
    .join('');
  const tails = services.map((service) => `<section class="tail"><h3>${esc(service)}</h3><pre data-logs="${esc(service)}" aria-live="polite"></pre></section>`).join('');
  const shareRows = shares
    .map((s) => {
      const when = new Date(s.expiresAt * 1000).toISOString();
      return `<tr data-share="${esc(s.id)}"><td><code>${esc(s.id)}</code></td><td>${dash(s.service)}</td><td>${s.password ? 'yes' : 'no'}</td><td>${when}</td><td><form method="post" action="/share/${encodeURIComponent(s.id)}/rm"><input type="hidden" name="csrf" value="${esc(csrf)}"><button>Revoke</button></form></td></tr>`;
    })
    .join('');
  const options = ['<option value="">every service</option>', ...services.map((s) => `<option value="${esc(s)}">${esc(s)}</option>`)].join('');
  const body = `<h1>${esc(env.envId)}</h1>
<table><thead><tr><th>Requests / errors (30 min)</th><th>TTL</th><th>Pinned</th><th>Asleep</th></tr></thead><tbody><tr>${rateCell(env)}${lifecycleCells(env)}</tr></tbody></table>
<h2>Services</h2><table id="services"><thead><tr><th>Service</th><th>Health</th><th>URL</th><th>Logs</th></tr></thead><tbody>${serviceRows}</tbody></table>
<h2>Share links</h2><table id="shares"><thead><tr><th>Id</th><th>Service</th><th>Password</th><th>Expires</th><th></th></tr></thead><tbody>${shareRows}</tbody></table>
<form method="post" action="/env/${id}/share" id="make-share"><input type="hidden" name="csrf" value="${esc(csrf)}"><label>Service <select name="service">${options}</select></label> <label>Hours <input name="ttl" type="number" min="1" max="168" value="24"></label> <button>Make a share link</button></form>
<h2>Live events</h2><ol id="events" data-live="/env/${id}/live"><li class="hint">Live events need JavaScript; <code>prevu events -f</code> shows them in a terminal.</li></ol>
<h2>Log tails</h2><div data-tails="/env/${id}/logs/">${tails}</div>`;
  return layout(env.envId, body, csrf);
}

export function logsPage(envId: string, service: string, text: string, csrf: string): string {
  return layout(`${service} logs`, `<h1><a href="/env/${encodeURIComponent(envId)}">${esc(envId)}</a> / ${esc(service)}</h1><pre>${esc(text)}</pre>`, csrf);
}

export function shareMadePage(envId: string, links: Array<{ service: string; url: string }>, expiresAt: number, csrf: string): string {
  const items = links.map((l) => `<li>${esc(l.service)}: <a class="share-link" href="${esc(l.url)}">${esc(l.url)}</a></li>`).join('');
  return layout('Share link', `<h1>Share link for ${esc(envId)}</h1><p>Valid until ${new Date(expiresAt * 1000).toISOString()}; anyone holding it can open it until then, or until you revoke it. It is shown only now.</p><ul id="made">${items}</ul><p><a href="/env/${encodeURIComponent(envId)}">Back</a></p>`, csrf);
}

export function messagePage(title: string, message: string): string {
  return layout(title, `<h1>${esc(title)}</h1><p>${esc(message)}</p>`);
}
