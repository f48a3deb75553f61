// The URLs users reach: https when TLS is on, on the port browsers use (the rule: core's urls.ts).
import { urlFor } from '@prevu/core/urls';
import type { PublicUrls } from './ssh/exec.js';
import type { Config } from './config.js';

export function publicUrls(config: Config): PublicUrls {
  const base = { scheme: config.tls ? 'https' : 'http', port: config.publicPort ?? (config.tls ? config.httpsPort : config.httpPort) } as const;
  return {
    baseUrl: urlFor(base, config.baseDomain),
    urlFor: (hostname) => urlFor(base, hostname),
  };
}
