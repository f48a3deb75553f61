// A local S3 for tests that drive the real @aws-sdk/client-s3 (AWS_ENDPOINT_URL_S3=standIn.url):
// s3rver (npm), a real S3 REST server (path-style buckets, SigV4 checked against its one key pair
// S3RVER/S3RVER, ETags, ListObjectsV2, S3's XML errors), behind a thin layer of this file that
// adds what s3rver 3.7 does not do:
// - conditional writes: PUT with `If-None-Match: *` or `If-Match: <etag>`, DELETE with
//   `If-Match`, answered `412 PreconditionFailed` (`404 NoSuchKey` for If-Match on no object) as S3
//   answers them. The check and the write run
//   under one lock per key, so of two writers that read the same version exactly one wins;
// - IAM refusals: the actions in `deny` (e.g. `s3:PutObject`) are answered `403 AccessDenied`
//   (S3 does not name the action in its answer; prevu must work it out).
// What it cannot prove (packages/test-kit/README.md): AWS's own conditional-write and policy
// evaluation, which this layer implements from S3's documentation, not from AWS.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import type { Kit } from './kit.js';

export const S3_STAND_IN_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

export interface S3Call {
  method: string;
  action: string;
  key: string;
  /** The condition the request carried: `If-None-Match: *`, `If-Match: "..."`, or none. */
  condition?: string;
  status: number;
}

export interface S3StandIn {
  /** The endpoint, for AWS_ENDPOINT_URL_S3. */
  url: string;
  /** The environment a client needs: the endpoint, the stand-in's key pair and a region. */
  env: Record<string, string>;
  /** IAM actions refused with AccessDenied while they are in here. */
  deny: Set<string>;
  calls: S3Call[];
}

interface StoredObject {
  metadata: Record<string, string>;
  content: { destroy(): void } | null;
}
interface S3rverStore {
  getObject(bucket: string, key: string, options?: object): Promise<StoredObject | null>;
}

/** The IAM action S3 checks for a path-style request. */
function actionOf(method: string, key: string, query: URLSearchParams): string {
  if (!key) return method === 'GET' ? 's3:ListBucket' : method === 'PUT' ? 's3:CreateBucket' : method === 'DELETE' ? 's3:DeleteBucket' : 's3:ListBucket';
  if (query.has('tagging')) return method === 'GET' ? 's3:GetObjectTagging' : 's3:PutObjectTagging';
  return method === 'PUT' || method === 'POST' ? 's3:PutObject' : method === 'DELETE' ? 's3:DeleteObject' : 's3:GetObject';
}

function xmlError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': 'PREVU-S3-STAND-IN' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>PREVU-S3-STAND-IN</RequestId></Error>`);
}

const unquote = (etag: string) => etag.replace(/"/g, '');

export async function startS3StandIn(kit: Kit, options: { buckets: string[] }): Promise<S3StandIn> {
  const directory = mkdtempSync(join(tmpdir(), 'prevu-s3-'));
  kit.defer(`s3 stand-in files ${directory}`, () => rmSync(directory, { recursive: true, force: true }));
  const s3rver = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: options.buckets.map((name) => ({ name, configs: [] })) });
  const inner = await s3rver.run();
  kit.defer('s3rver', () => s3rver.close());
  const store = (s3rver as unknown as { store: S3rverStore }).store;

  const deny = new Set<string>();
  const calls: S3Call[] = [];
  const locks = new Map<string, Promise<unknown>>();
  /** Runs `fn` alone for `key`: a condition is checked and its write made with no other write between. */
  const locked = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const run = (locks.get(key) ?? Promise.resolve()).then(fn, fn);
    locks.set(key, run.catch(() => undefined));
    return run;
  };

  const forward = (req: IncomingMessage, res: ServerResponse) =>
    new Promise<number>((done, fail) => {
      const out = request({ host: '127.0.0.1', port: inner.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res).on('finish', () => done(answer.statusCode ?? 502));
      });
      out.on('error', fail);
      req.pipe(out);
    });

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const [, bucket = '', ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const method = req.method ?? 'GET';
    const action = actionOf(method, key, url.searchParams);
    const ifMatch = req.headers['if-match'];
    const ifNoneMatch = req.headers['if-none-match'];
    const conditional = key && (method === 'PUT' || method === 'DELETE') && (ifMatch !== undefined || ifNoneMatch !== undefined);
    const call: S3Call = { method, action, key, status: 0, ...(conditional ? { condition: ifMatch !== undefined ? `If-Match: ${ifMatch}` : `If-None-Match: ${ifNoneMatch}` } : {}) };
    calls.push(call);
    const answer = async () => {
      if (deny.has(action)) {
        req.resume();
        xmlError(res, 403, 'AccessDenied', 'Access Denied');
        return 403;
      }
      if (!conditional) return forward(req, res);
      return locked(`${bucket}/${key}`, async () => {
        const current = await store.getObject(bucket, key);
        current?.content?.destroy();
        const etag = current ? unquote(current.metadata.etag ?? '') : undefined;
        if (ifMatch !== undefined && etag === undefined) {
          // S3: If-Match on a key with no object is 404, not 412
          req.resume();
          xmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
          return 404;
        }
        const holds = ifMatch !== undefined ? unquote(ifMatch) === etag : !(ifNoneMatch === '*' && etag !== undefined);
        if (!holds) {
          req.resume();
          xmlError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
          return 412;
        }
        return forward(req, res);
      });
    };
    answer().then(
      (status) => (call.status = status),
      (error: Error) => {
        call.status = 500;
        if (!res.headersSent) xmlError(res, 500, 'InternalError', error.message);
        else res.destroy();
      },
    );
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  kit.defer('s3 stand-in layer', () => {
    server.closeAllConnections();
    return new Promise((done) => server.close(done));
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return { url, env: { AWS_ENDPOINT_URL_S3: url, AWS_REGION: 'us-east-1', ...S3_STAND_IN_CREDENTIALS }, deny, calls };
}
