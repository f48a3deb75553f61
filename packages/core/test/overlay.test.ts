import { describe, expect, it } from 'vitest';
import type { ComposeModel } from '../src/compose.js';
import { hostname } from '../src/names.js';
import { buildOverlay, expectedUrls } from '../src/overlay.js';
import { parseBaseUrl } from '../src/urls.js';

const model: ComposeModel = {
  name: 'shop',
  services: {
    web: { image: 'busybox:latest', expose: ['80'] },
    api: { build: { context: '/p/api' }, ports: [{ target: 3000 }, { target: 9229 }] },
    db: { image: 'busybox:latest', expose: ['5432'], labels: { 'prevu.expose': 'false' } },
  },
  networks: { default: {}, back: {} },
};
const base = parseBaseUrl('http://localhost:8080');
const agent = { buildContext: '/repo/packages/compose-tunnel-agent', image: 'prevu-compose-tunnel-agent:0.1.0', tunnelServer: 'prevu-tunnel-server:2222', keyFile: '/cfg/id_ed25519', private: false, externalNetworks: ['prevu'] };

describe('overlay', () => {
  it("labels the ports compose's app_protocol marks as gRPC/h2c for the agent (containers do not carry app_protocol)", () => {
    const grpc: ComposeModel = { name: 'rpc', services: { rpc: { image: 'busybox:latest', ports: [{ target: 50051, app_protocol: 'grpc' }, { target: 8080 }] }, web: { image: 'busybox:latest', expose: ['80'] } } };
    const overlay = buildOverlay(grpc, { envId: 'rpc', accountId: 'k3j2a9x0q1', base, agent }) as { services: Record<string, { labels?: Record<string, string> }> };
    expect(overlay.services.rpc!.labels).toEqual({ 'prevu.h2c': '50051' });
    expect(overlay.services.web!.labels).toBeUndefined();
  });

  it('expects one URL per exposed port; one-port services have no port in the name', () => {
    const urls = expectedUrls(model, base, 'shop-main', 'k3j2a9x0q1');
    expect(urls).toEqual([
      { service: 'api', port: 3000, url: `http://${hostname('api-3000', 'shop-main', 'k3j2a9x0q1', 'localhost')}:8080` },
      { service: 'api', port: 9229, url: `http://${hostname('api-9229', 'shop-main', 'k3j2a9x0q1', 'localhost')}:8080` },
      { service: 'web', port: 80, url: 'http://web-shop-main-k3j2a9x0q1.localhost:8080' },
    ]);
    expect(expectedUrls(model, base, 'shop-main', 'k3j2a9x0q1', ['web']).map((u) => u.service)).toEqual(['web']);
  });

  it("counts the image's EXPOSE ports like the agent does (a second port puts ports in the names)", () => {
    const urls = expectedUrls(model, base, 'shop-main', 'k3j2a9x0q1', ['web'], { web: [80, 8443] });
    expect(urls.map((u) => u.url)).toEqual(['http://web-80-shop-main-k3j2a9x0q1.localhost:8080', 'http://web-8443-shop-main-k3j2a9x0q1.localhost:8080']);
    const overlay = buildOverlay(model, { envId: 'shop-main', accountId: 'k3j2a9x0q1', base, agent, imagePorts: { web: [8443], db: [1] } }) as { services: Record<string, { environment: Record<string, string> }> };
    expect(Object.keys(overlay.services.api!.environment).filter((k) => k.startsWith('PREVU_URL_WEB'))).toEqual(['PREVU_URL_WEB_80', 'PREVU_URL_WEB_8443']);
    // prevu.expose still decides over the image
    expect(Object.keys(overlay.services.api!.environment).some((k) => k.startsWith('PREVU_URL_DB'))).toBe(false);
  });

  it('gives a `tcp:` port of prevu.expose no URL and no PREVU_URL_* (prevu connect reaches it)', () => {
    const withCache: ComposeModel = { ...model, services: { ...model.services, cache: { image: 'busybox:latest', expose: ['6379', '8001'], labels: { 'prevu.expose': 'tcp:6379,8001' } } } };
    expect(expectedUrls(withCache, base, 'shop-main', 'k3j2a9x0q1', ['cache']).map((u) => u.url)).toEqual(['http://cache-8001-shop-main-k3j2a9x0q1.localhost:8080']);
    const overlay = buildOverlay(withCache, { envId: 'shop-main', accountId: 'k3j2a9x0q1', base, agent }) as { services: Record<string, { environment: Record<string, string> }> };
    expect(Object.keys(overlay.services.web!.environment).filter((k) => k.startsWith('PREVU_URL_CACHE'))).toEqual(['PREVU_URL_CACHE_8001']);
  });

  it('gives every service PREVU_ENV_ID and the URLs, and adds the agent with its settings', () => {
    const overlay = buildOverlay(model, { envId: 'shop-main', accountId: 'k3j2a9x0q1', base, agent }) as {
      services: Record<string, { environment: Record<string, string>; [k: string]: unknown }>;
      secrets: Record<string, { file: string }>;
      networks: Record<string, unknown>;
    };
    const env = overlay.services.web!.environment;
    expect(env).toEqual({
      PREVU_ENV_ID: 'shop-main',
      PREVU_URL_WEB: 'http://web-shop-main-k3j2a9x0q1.localhost:8080',
      PREVU_URL_API_3000: 'http://api-3000-shop-main-k3j2a9x0q1.localhost:8080',
      PREVU_URL_API_9229: 'http://api-9229-shop-main-k3j2a9x0q1.localhost:8080',
    });
    expect(overlay.services.db!.environment).toBe(env);
    const a = overlay.services['prevu-agent']!;
    expect(a.environment).toMatchObject({ PREVU_TUNNEL_SERVER: 'prevu-tunnel-server:2222', PREVU_ENV_ID: 'shop-main', PREVU_COMPOSE_PROJECT: 'prevu-shop-main', PREVU_KEY_FILE: '/run/secrets/prevu_key', PREVU_PRIVATE: 'false' });
    expect(a.build).toEqual({ context: agent.buildContext });
    expect(a.restart).toBe('unless-stopped');
    expect(a.extra_hosts).toEqual(['host.docker.internal:host-gateway']);
    expect(a.volumes).toEqual([{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock', read_only: true }]);
    expect(Object.keys(a.networks as object)).toEqual(['default', 'back', 'prevu']);
    expect(overlay.secrets).toEqual({ prevu_key: { file: '/cfg/id_ed25519' } });
    expect(overlay.networks).toEqual({ prevu: { external: true, name: 'prevu' } });
    expect(JSON.stringify(a)).not.toContain('LIGHTSAIL');
  });

  it('a machine that deletes itself at its TTL: instance, region and endpoint in the environment, the credential only as a secret file', () => {
    const selfDelete = { instanceName: 'prevu-team-shop-main', region: 'eu-west-1', endpoint: 'http://127.0.0.1:4566', credentialFile: '/home/prevu/envs/shop-main/lightsail-delete.json' };
    const overlay = buildOverlay(model, { envId: 'shop-main', accountId: 'k3j2a9x0q1', base, agent: { ...agent, selfDelete } }) as {
      services: Record<string, { environment: Record<string, string>; secrets: unknown }>;
      secrets: Record<string, { file: string }>;
    };
    const a = overlay.services['prevu-agent']!;
    expect(a.environment).toMatchObject({ PREVU_LIGHTSAIL_INSTANCE: 'prevu-team-shop-main', PREVU_LIGHTSAIL_REGION: 'eu-west-1', PREVU_LIGHTSAIL_ENDPOINT: 'http://127.0.0.1:4566', PREVU_LIGHTSAIL_CREDENTIALS_FILE: '/run/secrets/prevu_lightsail_delete' });
    expect(a.secrets).toEqual([{ source: 'prevu_key', target: 'prevu_key' }, { source: 'prevu_lightsail_delete', target: 'prevu_lightsail_delete' }]);
    expect(overlay.secrets).toEqual({ prevu_key: { file: '/cfg/id_ed25519' }, prevu_lightsail_delete: { file: selfDelete.credentialFile } });
    // no service sees the instance or the credential
    expect(JSON.stringify(overlay.services.web)).not.toContain('LIGHTSAIL');
  });
});
