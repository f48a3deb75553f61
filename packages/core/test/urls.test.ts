import { describe, expect, it } from 'vitest';
import { hostname } from '../src/names.js';
import { forwardUrl, parseBaseUrl, serviceForwards, urlFor } from '../src/urls.js';

describe('the URL rule', () => {
  it('names a one-port service by the service alone, each port of several by service and port', () => {
    expect(serviceForwards('web', [80])).toEqual([{ port: 80, name: 'web' }]);
    expect(serviceForwards('api', [3000, 9229])).toEqual([
      { port: 3000, name: 'api-3000', namedPort: 3000 },
      { port: 9229, name: 'api-9229', namedPort: 9229 },
    ]);
    expect(serviceForwards('Web_App', [8080])).toEqual([{ port: 8080, name: 'web-app' }]);
    expect(serviceForwards('web', [])).toEqual([]);
  });

  it('parses the base URL, keeping only a non-default port', () => {
    expect(parseBaseUrl('http://localhost:8080')).toEqual({ scheme: 'http', baseDomain: 'localhost', port: 8080 });
    expect(parseBaseUrl('https://Prev.Example.com')).toEqual({ scheme: 'https', baseDomain: 'prev.example.com' });
    expect(parseBaseUrl('https://prev.example.com:443')).toEqual({ scheme: 'https', baseDomain: 'prev.example.com' });
    expect(parseBaseUrl('http://prev.example.com:443')).toEqual({ scheme: 'http', baseDomain: 'prev.example.com', port: 443 });
  });

  it("leaves the port out of a URL only when it is the scheme's default", () => {
    expect(urlFor({ scheme: 'http', port: 80 }, 'a.test')).toBe('http://a.test');
    expect(urlFor({ scheme: 'https', port: 443 }, 'a.test')).toBe('https://a.test');
    expect(urlFor({ scheme: 'https' }, 'a.test')).toBe('https://a.test');
    expect(urlFor({ scheme: 'http', port: 443 }, 'a.test')).toBe('http://a.test:443');
    expect(urlFor({ scheme: 'https', port: 80 }, 'a.test')).toBe('https://a.test:80');
    expect(urlFor({ scheme: 'http', port: 8080 }, 'a.test')).toBe('http://a.test:8080');
  });

  it('gives a forward the URL of its hostname under the base', () => {
    const base = parseBaseUrl('http://Localhost:8080');
    expect(forwardUrl(base, 'web', 'shop-main', 'k3j2a9x0q1')).toBe('http://web-shop-main-k3j2a9x0q1.localhost:8080');
    const long = 'a'.repeat(70);
    expect(forwardUrl(parseBaseUrl('https://prev.example.com'), 'web-80', long, 'k3j2a9x0q1')).toBe(`https://${hostname('web-80', long, 'k3j2a9x0q1', 'prev.example.com')}`);
  });
});
