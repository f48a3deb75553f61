// A remote Docker engine as a local unix socket: every connection the docker CLI (or compose,
// or BuildKit's session) makes to it becomes one byte stream the driver opens to the engine (the
// ssh driver: a `direct-streamlocal@openssh.com` channel; the kube driver: a port-forward). Bytes
// pass through untouched and half-closes are kept where the stream keeps them (attach and exec rely
// on them), so build, `up --wait`, `logs -f` and `events` all work. Also one GET on such a stream,
// for the drivers' own checks (is the engine up yet).
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { DockerEndpoint } from './driver.js';

/** Opens a byte stream to the remote engine's API (over a live SSH connection, a port-forward). */
export type OpenDockerStream = () => Promise<Duplex>;

export async function forwardDockerSocket(open: OpenDockerStream): Promise<DockerEndpoint> {
  // mkdtemp makes the directory 0700: only this user can reach the remote engine through it.
  const dir = mkdtempSync(join(tmpdir(), 'prevu-docker-'));
  const path = join(dir, 'docker.sock');
  const live = new Set<Duplex>();
  const server = createServer({ allowHalfOpen: true }, (local: Socket) => {
    live.add(local);
    local.once('close', () => live.delete(local));
    local.on('error', () => local.destroy());
    local.pause();
    open().then(
      (remote) => {
        if (local.destroyed) return void remote.destroy();
        live.add(remote);
        remote.once('close', () => {
          live.delete(remote);
          // After a clean end, let the last bytes reach the client before closing.
          if (local.writableEnded && !local.writableFinished) local.once('finish', () => local.destroy());
          else local.destroy();
        });
        remote.on('error', () => local.destroy());
        local.once('close', () => remote.destroy());
        local.pipe(remote);
        remote.pipe(local);
        local.resume();
      },
      // The client sees a dropped connection: docker then prints its own "cannot connect" line.
      () => local.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  let closed: Promise<void> | undefined;
  return {
    env: { DOCKER_HOST: `unix://${path}` },
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const stream of live) stream.destroy();
      }).finally(() => rmSync(dir, { recursive: true, force: true }))),
  };
}

/** GET on the engine's API through one stream, answered within 20 s. */
export async function dockerGet(open: OpenDockerStream, path: string): Promise<{ status: number; body: string }> {
  const stream = await open();
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    // A stream is not a net.Socket (no setTimeout): the deadline is ours.
    const timer = setTimeout(() => req.destroy(new Error('no answer within 20 s')), 20_000);
    const req = request({ createConnection: () => stream as never, path, headers: { host: 'docker', connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
    void new Promise((done) => req.once('close', done)).then(() => clearTimeout(timer));
  }).finally(() => stream.destroy());
}
