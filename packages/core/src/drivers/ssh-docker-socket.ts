// The remote Docker engine as a local unix socket: every connection the docker CLI (or compose,
// or BuildKit's session) makes to it becomes one `direct-streamlocal@openssh.com` channel to the
// host's docker socket over the one SSH connection. Bytes pass through untouched and half-closes
// are kept (attach and exec rely on them), so build, `up --wait`, `logs -f` and `events` all work.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { DockerEndpoint } from './driver.js';

/** Opens a byte stream to the remote docker socket (over a live SSH connection). */
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
