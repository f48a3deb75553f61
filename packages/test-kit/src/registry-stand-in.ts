// A local stand-in for an image registry: the calls dockerd makes to pull (the Registry HTTP API
// v2, as the OCI distribution spec has it): GET /v2/, HEAD|GET /v2/<name>/manifests/<tag|digest>,
// GET /v2/<name>/blobs/<digest>. It serves images of the local engine (read with `docker save`)
// under the repository names a test gives, as schema-2 manifests with gzipped layers, so a project
// that names `127.0.0.1:<port>/<name>:<tag>` makes compose really pull (dockerd speaks plain HTTP
// to registries on loopback). It cannot prove auth, mirrors or cross-repository mounts.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { docker } from './docker.js';
import type { Kit } from './kit.js';

const MANIFEST_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';

export interface RegistryStandIn {
  /** `127.0.0.1:<port>`: the registry part of an image reference. */
  host: string;
  /** `<name>:<tag>` of every manifest asked for by tag (HEAD or GET: how a pull starts), in order. */
  pulls: string[];
}

interface Blob {
  data: Buffer;
  digest: string;
}

const blobOf = (data: Buffer): Blob => ({ data, digest: `sha256:${createHash('sha256').update(data).digest('hex')}` });

/** One local image as a manifest and its blobs, read from `docker save`. */
async function readImage(image: string): Promise<{ manifest: Blob; blobs: Blob[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'prevu-registry-'));
  try {
    const archive = join(dir, 'image.tar');
    await docker(['save', '-o', archive, image]);
    execFileSync('tar', ['-xf', archive, '-C', dir]);
    // manifest.json is in both of docker save's layouts (legacy and OCI)
    const [entry] = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { Config: string; Layers: string[] }[];
    const config = blobOf(readFileSync(join(dir, entry!.Config)));
    const layers = entry!.Layers.map((path) => {
      const data = readFileSync(join(dir, path));
      return blobOf(data[0] === 0x1f && data[1] === 0x8b ? data : gzipSync(data));
    });
    const manifest = {
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.data.length, digest: config.digest },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: l.data.length, digest: l.digest })),
    };
    return { manifest: blobOf(Buffer.from(JSON.stringify(manifest))), blobs: [config, ...layers] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Serves `images` (`<name>:<tag>` -> a local image, e.g. `busybox:latest`) until the kit cleans up. */
export async function startRegistryStandIn(kit: Kit, images: Record<string, string>): Promise<RegistryStandIn> {
  const manifests = new Map<string, Blob>(); // `<name>:<tag>` and `<name>@<digest>`
  const blobs = new Map<string, Blob>();
  for (const [ref, image] of Object.entries(images)) {
    const { manifest, blobs: parts } = await readImage(image);
    const name = ref.slice(0, ref.lastIndexOf(':'));
    manifests.set(ref, manifest).set(`${name}@${manifest.digest}`, manifest);
    for (const b of [manifest, ...parts]) blobs.set(b.digest, b);
  }
  const pulls: string[] = [];
  const send = (req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string | number>, body?: Buffer) => {
    res.writeHead(status, { 'docker-distribution-api-version': 'registry/2.0', ...headers });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://registry').pathname;
    if (path === '/v2/' || path === '/v2') return send(req, res, 200, { 'content-type': 'application/json' }, Buffer.from('{}'));
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    const notFound = () => send(req, res, 404, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ errors: [{ code: m?.[2] === 'blobs' ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN', message: 'unknown' }] })));
    if (!m) return notFound();
    const [, name, kind, reference] = m;
    if (kind === 'manifests') {
      const ref = reference!.startsWith('sha256:') ? `${name}@${reference}` : `${name}:${reference}`;
      const manifest = manifests.get(ref);
      if (!manifest) return notFound();
      if (!reference!.startsWith('sha256:')) pulls.push(ref);
      return send(req, res, 200, { 'content-type': MANIFEST_TYPE, 'content-length': manifest.data.length, 'docker-content-digest': manifest.digest }, manifest.data);
    }
    const blob = blobs.get(reference!);
    if (!blob) return notFound();
    send(req, res, 200, { 'content-type': 'application/octet-stream', 'content-length': blob.data.length, 'docker-content-digest': blob.digest }, blob.data);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kit.defer('registry stand-in', () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, pulls };
}
