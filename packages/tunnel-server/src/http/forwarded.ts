// The headers an app sees on a proxied request, HTTP/1.1 and HTTP/2 alike: prevu's credentials
// removed (access.ts), the client's own X-Forwarded-* and Forwarded dropped, and ours added.
import { stripCredentials } from './access.js';

const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded']);

/** `host` is the Host (HTTP/2: :authority) the client used; a Host header among `headers` wins. */
export function forwardedHeaders(headers: Array<[string, string]>, from: { client: string; scheme: 'http' | 'https'; host: string }): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let forwardedHost = from.host;
  for (const pair of stripCredentials(headers)) {
    const lower = pair[0].toLowerCase();
    if (FORWARDED.has(lower)) continue;
    out.push(pair);
    if (lower === 'host') forwardedHost = pair[1];
  }
  // The port the client used (from Host), not the one listened on: they differ behind a published container port.
  const port = /:(\d+)$/.exec(forwardedHost)?.[1] ?? (from.scheme === 'https' ? '443' : '80');
  out.push(['X-Forwarded-For', from.client], ['X-Forwarded-Proto', from.scheme], ['X-Forwarded-Host', forwardedHost], ['X-Forwarded-Port', port]);
  return out;
}
