import { describe, expect, it } from 'vitest';
import {
  accountIdFromKeyBlob,
  base32,
  defaultEnvId,
  forwardName,
  hostFromHeader,
  hostLabel,
  hostname,
  normalizeEnvId,
  parseForwardName,
  urlEnvName,
} from '../src/names.js';

describe('names', () => {
  it('base32 follows RFC 4648 (lowercase, unpadded)', () => {
    expect(base32(Buffer.from('foobar'))).toBe('mzxw6ytboi');
    expect(base32(Buffer.from(''))).toBe('');
  });

  it('accountId is 10 chars of base32(sha256(blob)) and differs per key', () => {
    const a = accountIdFromKeyBlob(Buffer.from('key-a'));
    expect(a).toMatch(/^[a-z2-7]{10}$/);
    expect(a).not.toBe(accountIdFromKeyBlob(Buffer.from('key-b')));
    expect(accountIdFromKeyBlob(Buffer.from('key-a'))).toBe(a);
  });

  it('normalizes env ids and rejects empty ones', () => {
    expect(normalizeEnvId('Shop_Feature/Login--X')).toBe('shop-feature-login-x');
    expect(defaultEnvId('shop', 'feature/new UI')).toBe('shop-feature-new-ui');
    expect(defaultEnvId('shop')).toBe('shop');
    expect(() => normalizeEnvId('///')).toThrow(/--id/);
  });

  it('forward names and their parsing', () => {
    expect(forwardName('web', 80)).toBe('web-80');
    expect(forwardName('Web_App')).toBe('web-app');
    expect(parseForwardName('my-api-3000')).toEqual({ name: 'my-api-3000', service: 'my-api', port: 3000, private: false, h2c: false });
    expect(parseForwardName('/grpc-50051#access=private&proto=h2c')).toMatchObject({ service: 'grpc', port: 50051, private: true, h2c: true });
    expect(parseForwardName('grpc-50051#proto=h2c')).toMatchObject({ name: 'grpc-50051', private: false, h2c: true });
    expect(parseForwardName('/web-80#access=private')).toMatchObject({ service: 'web', port: 80, private: true });
    expect(parseForwardName('web')).toEqual({ name: 'web', service: 'web', private: false, h2c: false });
    expect(() => parseForwardName('/')).toThrow();
  });

  it('hostnames put everything in one label under the base domain', () => {
    expect(hostname('web-80', 'shop-main', 'k3j2a9x0q1', 'localhost')).toBe('web-80-shop-main-k3j2a9x0q1.localhost');
  });

  it('pins the 63-character rule: envId cut, 6-char hash added, deterministic', () => {
    const env = 'a-very-long-environment-name-for-a-feature-branch-with-many-words';
    const label = hostLabel('frontend-3000', env, 'k3j2a9x0q1');
    expect(label.length).toBeLessThanOrEqual(63);
    expect(label).toBe(hostLabel('frontend-3000', env, 'k3j2a9x0q1'));
    expect(label).toBe('frontend-3000-a-very-long-environment-name-fo-irh7vr-k3j2a9x0q1');
    expect(label).toHaveLength(63);
    // two long env ids with the same prefix still get different labels
    expect(hostLabel('frontend-3000', `${env}-2`, 'k3j2a9x0q1')).not.toBe(label);
    // exactly 63 is left alone
    const fits = 'e'.repeat(63 - 'web-80--k3j2a9x0q1'.length);
    expect(hostLabel('web-80', fits, 'k3j2a9x0q1')).toBe(`web-80-${fits}-k3j2a9x0q1`);
    // a forward name too long by itself is cut as well
    expect(hostLabel('s'.repeat(70), 'env', 'k3j2a9x0q1').length).toBeLessThanOrEqual(63);
  });

  it('reads the Host header case-insensitively without port', () => {
    expect(hostFromHeader('WEB-80-x-y.LocalHost:8080')).toBe('web-80-x-y.localhost');
    expect(hostFromHeader('a.example.com.')).toBe('a.example.com');
    expect(hostFromHeader(undefined)).toBeUndefined();
  });

  it('service discovery variable names', () => {
    expect(urlEnvName('my-api', 3000)).toBe('PREVU_URL_MY_API_3000');
    expect(urlEnvName('web')).toBe('PREVU_URL_WEB');
  });
});
