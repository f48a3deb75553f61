// The URLs users reach: https when TLS is on, the port left out when it is the scheme's default.
import type { PublicUrls } from './ssh/exec.js';
import type { Config } from './config.js';

export function publicUrls(config: Config): PublicUrls {
  const scheme = config.tls ? 'https' : 'http';
  const port = config.publicPort ?? (config.tls ? config.httpsPort : config.httpPort);
  const suffix = (scheme === 'https' && port === 443) || (scheme === 'http' && port === 80) ? '' : `:${port}`;
  return {
    baseUrl: `${scheme}://${config.baseDomain}${suffix}`,
    urlFor: (hostname) => `${scheme}://${hostname}${suffix}`,
  };
}
