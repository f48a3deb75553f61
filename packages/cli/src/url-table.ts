import type { UrlRow } from '@prevu/core/url-rows';
import { table } from './table.js';

export function urlTable(rows: UrlRow[]): string {
  if (!rows.length) return 'no service exposes a port (add `expose:` or `ports:` to a service)';
  return table(['SERVICE', 'PORT', 'URL', 'HEALTH'], rows.map((r) => [r.service, String(r.port), r.url, r.health]));
}
