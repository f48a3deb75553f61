// The agent's pure pieces: settings, which ports are exposed, backoff, docker log framing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { demux, FrameDecoder } from '../src/docker.js';
import { ListenProbe, listeningSockets, refusalReason } from '../src/listen-probe.js';
import { exposedPorts, hasHealthcheck, tcpOnlyPorts } from '../src/services.js';
import { BACKOFF_CAP_MS, backoffDelay } from '../src/tunnel-client.js';
import { ed25519KeyPair } from '@prevu/core/ssh-keys';

const bundle = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'agent.mjs');
const dir = mkdtempSync(join(tmpdir(), 'prevu-agent-config-'));
const keyFile = join(dir, 'key');
const key = ed25519KeyPair();
writeFileSync(keyFile, key.private);
const good = { PREVU_TUNNEL_SERVER: 'host.docker.internal:2222', PREVU_ENV_ID: 'shop-main', PREVU_COMPOSE_PROJECT: 'prevu-shop-main', PREVU_KEY_FILE: keyFile };

describe('settings', () => {
  it('reads PREVU_* with defaults', () => {
    const config = loadConfig(good);
    expect(config).toMatchObject({ tunnel: { tls: false, host: 'host.docker.internal', port: 2222 }, envId: 'shop-main', project: 'prevu-shop-main', private: false, dockerSocket: '/var/run/docker.sock', apiPort: 3000, logLevel: 'info' });
    expect(config.privateKey).toContain('OPENSSH PRIVATE KEY');
    expect(loadConfig({ ...good, PREVU_PRIVATE: 'true', PREVU_API_PORT: '4000' })).toMatchObject({ private: true, apiPort: 4000 });
    // the lifecycle: no TTL, no sleep, not pinned unless `up` says so
    expect(config).toMatchObject({ sleepAfterSeconds: 0, pinned: false, lifecycleFile: '/var/lib/prevu-agent/lifecycle.json' });
    expect(config.expiresAt).toBeUndefined();
    expect(loadConfig({ ...good, PREVU_EXPIRES_AT: '2026-01-31T12:00:00Z', PREVU_SLEEP_AFTER: '3600', PREVU_PINNED: 'true' })).toMatchObject({ expiresAt: '2026-01-31T12:00:00.000Z', sleepAfterSeconds: 3600, pinned: true });
    // SSH over TLS on the HTTPS port, with the name and CA to check the certificate against
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    expect(loadConfig({ ...good, PREVU_TUNNEL_SERVER: 'tls://host.docker.internal:8443', PREVU_TUNNEL_TLS_NAME: 'ssh.preview.test', PREVU_TUNNEL_CA: ca })).toMatchObject({
      tunnel: { tls: true, host: 'host.docker.internal', port: 8443 },
      tlsName: 'ssh.preview.test',
      ca,
    });
    expect(loadConfig({ ...good, PREVU_TUNNEL_SERVER: 'ssh+tls://[::1]:443' }).tunnel).toEqual({ tls: true, host: '::1', port: 443 });
  });

  it.each([
    [{ PREVU_TUNNEL_SERVER: undefined }, 'PREVU_TUNNEL_SERVER is required'],
    [{ PREVU_TUNNEL_SERVER: 'nohost' }, 'PREVU_TUNNEL_SERVER must be host:port (the SSH port) or tls://host:port'],
    [{ PREVU_ENV_ID: 'Shop_Main' }, 'PREVU_ENV_ID must be a normalized env id'],
    [{ PREVU_PRIVATE: 'maybe' }, 'PREVU_PRIVATE'],
    [{ PREVU_API_PORT: '70000' }, 'PREVU_API_PORT must be a port number from 1 to 65535 (got "70000")'],
    [{ PREVU_TUNNEL_HOST_KEY: 'md5:aa' }, 'PREVU_TUNNEL_HOST_KEY must be an OpenSSH SHA256 fingerprint'],
    [{ PREVU_KEY_FILE: join(dir, 'missing') }, 'cannot be read (ENOENT)'],
    [{ PREVU_EXPIRES_AT: 'tomorrow' }, 'PREVU_EXPIRES_AT must be an ISO 8601 time, e.g. 2026-01-31T12:00:00.000Z (got "tomorrow")'],
    [{ PREVU_SLEEP_AFTER: '-5' }, 'PREVU_SLEEP_AFTER must be a whole number of seconds (0: never) (got "-5")'],
    [{ PREVU_TUNNEL_SERVER: 'https://host:443' }, 'PREVU_TUNNEL_SERVER must be host:port'],
    [{ PREVU_TUNNEL_CA: 'not a certificate' }, 'PREVU_TUNNEL_CA must be a PEM certificate'],
  ])('rejects %o with one line naming the setting', (change, message) => {
    expect(() => loadConfig({ ...good, ...change })).toThrow(message);
  });

  it('the bundle prints one line and exits 1 on a bad setting', () => {
    const run = spawnSync(process.execPath, [bundle], { env: { PATH: process.env.PATH, ...good, PREVU_API_PORT: 'abc' }, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual(['prevu-agent: PREVU_API_PORT must be a port number from 1 to 65535 (got "abc"): prevu writes these settings into the compose overlay; run `prevu up` again rather than editing them']);
  });
});

describe('exposed ports', () => {
  const config = (ports: string[], labels: Record<string, string> = {}) => ({ Labels: labels, ExposedPorts: Object.fromEntries(ports.map((p) => [p, {}])) });

  it('takes the TCP ports docker lists (ports, expose, image EXPOSE), sorted', () => {
    expect(exposedPorts(config(['8082/tcp', '8081/tcp', '53/udp']))).toEqual([8081, 8082]);
    expect(exposedPorts({ Labels: null, ExposedPorts: null })).toEqual([]);
  });

  it('prevu.expose hides a service or picks its ports', () => {
    expect(exposedPorts(config(['80/tcp'], { 'prevu.expose': 'false' }))).toEqual([]);
    expect(exposedPorts(config(['80/tcp', '443/tcp', '9000/tcp'], { 'prevu.expose': '443, 80' }))).toEqual([80, 443]);
    expect(exposedPorts(config(['80/tcp'], { 'prevu.expose': 'true' }))).toEqual([80]);
    expect(() => exposedPorts(config(['80/tcp'], { 'prevu.expose': 'web' }))).toThrow('must be "true", "false" or a comma-separated list of ports');
  });

  it('prevu.expose "tcp:N" picks a port for prevu connect only (forwarded, no public URL)', () => {
    const labels = { 'prevu.expose': '80, tcp:6379' };
    expect([exposedPorts(config(['80/tcp', '6379/tcp', '9000/tcp'], labels)), tcpOnlyPorts(config([], labels))]).toEqual([[80, 6379], [6379]]);
    expect(tcpOnlyPorts(config(['80/tcp'], {}))).toEqual([]);
    expect(tcpOnlyPorts(config(['80/tcp'], { 'prevu.expose': 'false' }))).toEqual([]);
    expect(() => tcpOnlyPorts(config([], { 'prevu.expose': 'tcp:x' }))).toThrow('tcp:5432 for a port reached by `prevu connect` only');
  });

  it('knows a disabled healthcheck from a real one', () => {
    expect(hasHealthcheck({ Labels: {}, Healthcheck: { Test: ['NONE'] } })).toBe(false);
    expect(hasHealthcheck({ Labels: {}, Healthcheck: { Test: ['CMD-SHELL', 'true'] } })).toBe(true);
    expect(hasHealthcheck({ Labels: {} })).toBe(false);
  });
});

describe('reconnect backoff', () => {
  it('doubles from 200 ms, is capped at 5 s, and has jitter', () => {
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, () => 1))).toEqual([200, 400, 800, 1600]);
    expect(backoffDelay(20, () => 1)).toBe(BACKOFF_CAP_MS);
    expect(backoffDelay(20, () => 0)).toBe(BACKOFF_CAP_MS / 2);
  });
});

describe('docker plumbing', () => {
  it('demultiplexes docker log frames', () => {
    const frame = (stream: number, text: string) => Buffer.concat([Buffer.from([stream, 0, 0, 0]), Buffer.from([0, 0, 0, Buffer.byteLength(text)]), Buffer.from(text)]);
    expect(demux(Buffer.concat([frame(1, 'out line\n'), frame(2, 'err line\n')]))).toBe('out line\nerr line\n');
    expect(demux(Buffer.from('plain tty output\n'))).toBe('plain tty output\n');
    // Streaming: frames split anywhere across chunks.
    const stream = Buffer.concat([frame(1, 'first\n'), frame(2, 'second\n')]);
    const decoder = new FrameDecoder();
    const out = [stream.subarray(0, 3), stream.subarray(3, 10), stream.subarray(10, 17), stream.subarray(17)].map((c) => decoder.push(c)).join('');
    expect(out).toBe('first\nsecond\n');
  });
});

describe('listen probe', () => {
  // Rows as the kernel prints them (this machine's own /proc/net/tcp* has the same shape).
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0',
    '   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0',
    '   2: 0100007F:0050 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1',
    '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000000000000000000001000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1 0000000000000000 100 0 0 10 0',
    '   1: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1 0000000000000000 100 0 0 10 0',
  ].join('\n');

  it('reads the LISTEN rows of /proc/net/tcp and tcp6 (byte order per 32-bit word), not the connections', () => {
    expect(listeningSockets(table)).toEqual(['127.0.0.1:80', '0.0.0.0:8080', '[::1]:3000', '[::]:443']);
    // The real table of this process's host, read the way the agent reads a container's.
    const own = listeningSockets(readFileSync('/proc/net/tcp', 'utf8'));
    expect(own.every((s) => /^\d+\.\d+\.\d+\.\d+:\d+$/.test(s))).toBe(true);
  });

  it('explains a refusing port from what the container listens on', () => {
    expect(refusalReason(80, undefined)).toBe('port 80 does not accept connections yet');
    expect(refusalReason(80, ['127.0.0.1:80'])).toBe('port 80 does not accept connections; it listens on 127.0.0.1:80 only, which the agent cannot reach: bind 0.0.0.0 instead');
    expect(refusalReason(80, ['0.0.0.0:8080', '[::]:443'])).toBe('port 80 does not accept connections; the container listens on 0.0.0.0:8080, [::]:443: expose that port, or pick ports with the prevu.expose label');
    expect(refusalReason(80, [])).toBe('port 80 does not accept connections; nothing in the container listens on a TCP port');
    expect(refusalReason(80, ['0.0.0.0:80'])).toBe('port 80 does not accept connections yet');
  });
});

describe('listen probe rounds', () => {
  it('reads a service\'s socket table once a round, however many of its ports refuse', async () => {
    const execs: string[] = [];
    const readings: (string[] | undefined)[] = [];
    const pending = [3000, 3001].map((port) => ({ service: 'api', container: 'c1', port, startedAt: 0, socketsAt: undefined }));
    const env = { portsToProbe: () => pending, markListening: () => undefined, setSockets: (_: string, list: string[] | undefined) => void readings.push(list) };
    const docker = { exec: async (id: string) => (execs.push(id), '') };
    const probe = new ListenProbe(env as never, docker as never, pino({ level: 'silent' }), async () => false, () => 10_000);
    await probe.tick();
    expect(execs).toEqual(['c1']);
    expect(readings).toEqual([[]]);
  });
});
